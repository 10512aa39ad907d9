"""Label statistics: frequencies, groups, co-occurrence, Table 1, document bins."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mlbalance.data import LabelStats
from mlbalance.data.stats import (
    DATASET_GROUPING,
    cooccurrence,
    doc_group_sizes,
    labels_per_doc_tertiles,
)
from mlbalance.errors import DataError


def dense_conditional(y):
    y = np.asarray(y, dtype=np.float64)
    n = y.sum(axis=0)
    return (y.T @ y) / np.where(n > 0, n, 1)[None, :]


def test_cooccurrence_matches_dense_definition():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 15)) < 0.2).astype(np.float32)
    y[:, 3] = 0  # a label that never occurs: its column is zero
    got = cooccurrence(sp.csr_matrix(y))
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    np.testing.assert_allclose(got, dense_conditional(y), rtol=1e-6)
    diag = np.diag(got)
    assert diag[3] == 0 and np.all(diag[np.arange(15) != 3] == 1.0)
    assert np.all(got[:, 3] == 0)


def test_cooccurrence_sparse_when_many_labels():
    rng = np.random.default_rng(1)
    rows = np.repeat(np.arange(500), 3)
    cols = rng.integers(0, 5000, rows.shape[0])
    y = sp.csr_matrix((np.ones(rows.shape[0]), (rows, cols)), shape=(500, 5000))
    got = cooccurrence(y)
    assert sp.issparse(got) and got.shape == (5000, 5000)
    assert got.nnz <= 500 * 9
    sub = np.unique(cols)[:50]
    np.testing.assert_allclose(got[sub][:, sub].toarray(), dense_conditional(y[:, sub].toarray()), rtol=1e-6)


def test_cooccurrence_repeated_entries_count_once():
    y = sp.csr_matrix((np.array([1.0, 1.0, 1.0]), (np.array([0, 0, 1]), np.array([0, 0, 1]))), shape=(2, 2))
    np.testing.assert_array_equal(cooccurrence(y), np.eye(2, dtype=np.float32))


def test_groups_use_preset_cut_offs(tiny):
    stats = tiny.stats()
    masks = stats.group_masks()
    freq = stats.class_freq
    assert np.all(freq[masks["head"]] >= 35) and np.all(freq[masks["tail"]] <= 8)
    assert np.all((freq[masks["medium"]] > 8) & (freq[masks["medium"]] < 35))
    assert sum(stats.group_sizes().values()) == stats.n_labels
    y = tiny.labels("train").toarray()
    np.testing.assert_array_equal(freq, y.sum(axis=0))


def test_summary_row(tiny):
    row = tiny.summary()
    assert (row["train"], row["validation"], row["test"], row["labels"]) == (
        len(tiny.train),
        len(tiny.validation),
        len(tiny.test),
        20,
    )
    counts = [len(x) for x in tiny.train.labels]
    assert row["labels_per_doc"] == pytest.approx(np.mean(counts), abs=1e-4)
    assert row["head"] + row["medium"] + row["tail"] == 20
    assert sum(row["doc_groups_test"].values()) == len(tiny.test)
    single = sum(1 for x in tiny.test.labels if len(x) == 1)
    assert row["doc_groups_test"]["single-label"] == single


def test_reuters_summary(reuters):
    row = reuters.summary()
    assert row["max_label_freq"] == 2482 and row["labels_without_train_docs"] == 0
    assert row["doc_groups_test"] == {"single-label": 2583, "multi-label": 436}


def test_tertiles():
    counts = np.repeat(np.arange(1, 10), 10)  # 1..9 labels, ten documents each
    y = sp.csr_matrix(
        (
            np.ones(counts.sum()),
            np.concatenate([np.arange(c) for c in counts]),
            np.concatenate([[0], np.cumsum(counts)]),
        ),
        shape=(90, 25),
    )
    bins = labels_per_doc_tertiles(y)
    assert bins == (("1-3", 1, 3), ("4-6", 4, 6), ("7+", 7, None))
    stats = LabelStats.from_labels(y, [str(i) for i in range(25)], doc_bins=bins)
    assert doc_group_sizes(stats, y) == {"1-3": 30, "4-6": 30, "7+": 30}
    with pytest.raises(DataError, match="at least one document"):
        labels_per_doc_tertiles(sp.csr_matrix((0, 3)))


def test_pubmed_grouping_constants():
    assert DATASET_GROUPING["pubmed"]["head_min"] == 50 and DATASET_GROUPING["pubmed"]["tail_max"] == 15
    assert DATASET_GROUPING["reuters"]["head_min"] == 35 and DATASET_GROUPING["reuters"]["tail_max"] == 8


def test_stats_round_trip(tiny):
    stats = tiny.stats()
    back = LabelStats.from_dict(stats.to_dict())
    np.testing.assert_array_equal(back.class_freq, stats.class_freq)
    assert back.mu == pytest.approx(stats.mu)
