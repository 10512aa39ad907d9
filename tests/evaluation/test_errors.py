"""The most frequent (missed true label, wrongly predicted label) pairs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp

from mlbalance.errors import DataError
from mlbalance.evaluation import confused_pairs

from .helpers import make_data


def brute_pairs(y, pred):
    counts = Counter()
    for i in range(len(y)):
        missed = np.flatnonzero((y[i] == 1) & (pred[i] == 0))
        wrong = np.flatnonzero((y[i] == 0) & (pred[i] == 1))
        counts.update((a, b) for a in missed for b in wrong)
    return counts


def test_platinum_gold_example():
    names = ["gold", "platinum", "silver"]
    y = np.array([[0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 1, 1]])
    pred = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 1]])
    pairs = confused_pairs(y, pred, names)
    assert pairs == [
        {
            "true_label": "platinum",
            "predicted_label": "gold",
            "count": 3,
            "true_support": 3,
            "predicted_support": 1,
        }
    ]


@pytest.mark.parametrize("sparse", [False, True])
def test_counts_match_a_loop_over_documents(sparse):
    s, y = make_data(11, n=150, c=12)
    pred = (s >= 0.5).astype(int)
    names = [f"L{i}" for i in range(12)]
    got = confused_pairs(sp.csr_matrix(y) if sparse else y, pred, names, top=None)
    expected = brute_pairs(y, pred)
    assert {
        (names.index(p["true_label"]), names.index(p["predicted_label"])): p["count"] for p in got
    } == dict(expected)
    counts = [p["count"] for p in got]
    assert counts == sorted(counts, reverse=True)
    top = confused_pairs(y, pred, names, top=5)
    assert top == got[:5]


def test_no_errors_and_bad_arguments():
    y = np.eye(3, dtype=int)
    assert confused_pairs(y, y, ["a", "b", "c"]) == []
    with pytest.raises(DataError, match="2 label names were given for 3 labels"):
        confused_pairs(y, y, ["a", "b"])
    with pytest.raises(DataError, match="`top` must be an integer >= 1 or None"):
        confused_pairs(y, y, ["a", "b", "c"], top=0)
