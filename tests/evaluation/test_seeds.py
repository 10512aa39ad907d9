"""Rows of several seeds → means and sample standard deviations."""

from __future__ import annotations

import numpy as np
import pytest

from mlbalance.errors import DataError
from mlbalance.evaluation.seeds import METRIC_KEYS, mean_over_seeds


def row(seed, loss, micro, macro, threshold=0.5, method="grid", group="total"):
    return {
        "model": "tfidf", "loss": loss, "split": "test", "group": group, "micro_f1": micro, "macro_f1": macro,
        "threshold": threshold, "threshold_method": method, "n_docs": 10, "seed": seed,
    }  # fmt: skip


def test_means_and_sample_deviations_per_run_and_group():
    micro = {"db": [0.8, 0.9, 0.85], "bce": [0.7, 0.72, 0.71]}
    macro = {"db": [0.5, 0.6, 0.4], "bce": [0.3, 0.2, 0.25]}
    rows = [row(s, loss, micro[loss][i], macro[loss][i], 0.4 + 0.1 * i) for loss in ("db", "bce")
            for i, s in enumerate((0, 1, 2))]  # fmt: skip
    rows.append(row(0, "db", 0.1, None, group="tail"))
    rows.append(row(1, "db", 0.3, 0.2, group="tail"))
    out = mean_over_seeds(rows)
    assert [(r["loss"], r["group"]) for r in out] == [("db", "total"), ("bce", "total"), ("db", "tail")]
    for r, loss in zip(out, ("db", "bce")):
        assert r["micro_f1"] == pytest.approx(np.mean(micro[loss]))
        assert r["micro_f1_std"] == pytest.approx(np.std(micro[loss], ddof=1))
        assert r["macro_f1_std"] == pytest.approx(np.std(macro[loss], ddof=1))
        assert r["threshold"] == pytest.approx(0.5) and r["threshold_std"] == pytest.approx(0.1)
        assert r["seeds"] == "0,1,2" and "seed" not in r
        assert r["threshold_method"] == "grid" and r["n_docs"] == 10  # equal across seeds: kept
    tail = out[2]
    assert tail["macro_f1"] is None and tail["macro_f1_std"] is None  # None for one seed → None
    assert tail["micro_f1"] == pytest.approx(0.2) and tail["seeds"] == "0,1"
    assert "micro_f1" in METRIC_KEYS and "psp@5" in METRIC_KEYS and "n_docs" not in METRIC_KEYS


def test_one_seed_has_zero_deviation_and_bad_rows_are_refused():
    (one,) = mean_over_seeds([row(3, "db", 0.5, 0.4)])
    assert one["micro_f1"] == 0.5 and one["micro_f1_std"] == 0.0 and one["seeds"] == "3"
    with pytest.raises(DataError, match="seed given twice"):
        mean_over_seeds([row(1, "db", 0.5, 0.4), row(1, "db", 0.6, 0.4)])
    with pytest.raises(DataError, match="has no `seed`"):
        mean_over_seeds([{"model": "tfidf", "micro_f1": 0.5}])
