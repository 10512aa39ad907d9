"""Seeded splits: the scikit-learn-compatible random split and iterative stratification."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mlbalance.data.splits import iterative_stratification_split, sklearn_style_split
from mlbalance.errors import DataError


@pytest.mark.parametrize(("n", "size", "seed"), [(10, 3, 0), (7770, 1000, 123), (101, 50, 7)])
def test_same_as_train_test_split(n, size, seed):
    from sklearn.model_selection import train_test_split

    rest, held = sklearn_style_split(n, size, seed)
    ref_rest, ref_held = train_test_split(np.arange(n), test_size=size, random_state=seed)
    np.testing.assert_array_equal(rest, ref_rest)
    np.testing.assert_array_equal(held, ref_held)


def test_bad_sizes():
    with pytest.raises(DataError, match="needs 0 < size < 5"):
        sklearn_style_split(5, 5, 0)
    with pytest.raises(DataError, match="needs 0 < size < 3"):
        iterative_stratification_split(sp.csr_matrix(np.ones((3, 1))), 0, 0)


def random_labels(n=400, c=30, seed=0):
    rng = np.random.default_rng(seed)
    p = 0.5 / np.arange(1, c + 1)
    y = (rng.random((n, c)) < p).astype(np.float32)
    return sp.csr_matrix(y)


def test_iterative_stratification_partition_and_balance():
    y = random_labels()
    rest, held = iterative_stratification_split(y, 100, seed=3)
    assert len(held) == 100 and len(rest) == 300
    assert np.array_equal(np.sort(np.concatenate([rest, held])), np.arange(400))
    freq = np.asarray(y.sum(axis=0)).ravel()
    held_freq = np.asarray(y[held].sum(axis=0)).ravel()
    # Every label's held-out count stays within two documents of the desired 25 %, most within one.
    dev = np.abs(held_freq - 0.25 * freq)
    assert dev.max() <= 2.0 and dev.mean() < 0.5
    # A plain random split is visibly worse on the same data.
    _, rand = sklearn_style_split(400, 100, 3)
    rand_freq = np.asarray(y[rand].sum(axis=0)).ravel()
    assert np.abs(rand_freq - 0.25 * freq).max() > np.abs(held_freq - 0.25 * freq).max()


def test_iterative_stratification_is_seeded():
    y = random_labels(seed=1)
    a = iterative_stratification_split(y, 80, seed=5)
    b = iterative_stratification_split(y, 80, seed=5)
    c = iterative_stratification_split(y, 80, seed=6)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_documents_without_labels_are_placed():
    y = sp.csr_matrix(np.vstack([np.zeros((10, 2)), np.ones((10, 2))]))
    rest, held = iterative_stratification_split(y, 5, seed=0)
    assert len(rest) == 15 and len(held) == 5
