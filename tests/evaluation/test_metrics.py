"""Table 2/3 rows, threshold sweeps, ranking metrics and the per-label table against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import f1_score, ndcg_score, precision_recall_fscore_support

from mlbalance.errors import DataError
from mlbalance.evaluation import (
    RANKING_KEYS,
    ROW_KEYS,
    Thresholds,
    evaluate,
    evaluate_predictions,
    label_subset_f1,
    ndcg_at_k,
    per_label_table,
    precision_at_k,
    ranking_metrics,
    threshold_sweep,
    tune_thresholds,
)

from .helpers import make_data, make_stats


def sk_metrics(y, pred):
    """The metrics of one row computed by scikit-learn on dense arrays."""
    if y.shape[1] == 0:
        return None
    out = {}
    for avg in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        out[f"{avg}_precision"], out[f"{avg}_recall"], out[f"{avg}_f1"] = p, r, f
    present = y.sum(axis=0) > 0
    out["macro_f1_present"] = (
        f1_score(y[:, present], pred[:, present], average="macro", zero_division=0) if present.any() else None
    )
    return out


def assert_row_matches(row, expected):
    for key, value in expected.items():
        if value is None:
            assert row[key] is None, key
        else:
            assert row[key] == pytest.approx(value, abs=1e-12), key


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("method", ["grid", "global-optimal", "per-label", "top-k", "fixed"])
def test_evaluate_matches_sklearn_for_every_group(seed, method):
    s_val, y_val = make_data(seed, n=100, c=30)
    s, y = make_data(seed + 10, n=150, c=30, ties=True)
    stats = make_stats(make_data(seed + 20, n=200, c=30)[1], head_min=30, tail_max=10)
    thr = tune_thresholds(s_val, y_val, method=method)
    rows = evaluate(s, y, stats, thr, split="test")
    pred = thr.predict(s).toarray().astype(int)
    names = [r["group"] for r in rows]
    assert names == ["total", "head", "medium", "tail", "single-label", "multi-label"]
    for row in rows:
        assert list(row) == list(ROW_KEYS)
        assert row["split"] == "test" and row["threshold_method"] == method
        assert row["threshold"] == thr.value
    groups = {"total": np.arange(30), **stats.group_indices()}
    for row in rows[:4]:
        idx = groups[row["group"]]
        assert row["n_labels"] == idx.size and row["n_docs"] == 150
        assert_row_matches(row, sk_metrics(y[:, idx], pred[:, idx]))
    for row, mask in zip(rows[4:], stats.doc_group_masks(y).values()):
        assert row["n_docs"] == mask.sum() and row["n_labels"] == 30
        assert_row_matches(row, sk_metrics(y[mask], pred[mask]))


def test_dense_and_sparse_give_identical_rows():
    s, y = make_data(2)
    stats = make_stats(y)
    thr = Thresholds("grid", value=0.5)
    dense = evaluate(s, y, stats, thr)
    assert evaluate(s, sp.csr_matrix(y), stats, thr) == dense
    assert evaluate(s, sp.csc_matrix(y.astype(np.float64)), stats, thr) == dense
    assert evaluate(s, y.astype(bool), stats, thr) == dense
    from_predictions = evaluate_predictions(y, thr.predict(s).toarray(), stats, thresholds=thr)
    without_scores = [{k: v for k, v in row.items() if k not in RANKING_KEYS} for row in dense]
    f1_rows = [{k: v for k, v in row.items() if k not in RANKING_KEYS} for row in from_predictions]
    assert f1_rows == without_scores
    assert all(row[k] is None for row in from_predictions for k in RANKING_KEYS)  # no scores, no ranking


def test_empty_groups_and_pubmed_bins():
    s, y = make_data(3, n=60, c=10)
    # every label is head: medium and tail are empty label groups
    stats = make_stats(np.ones((40, 10), dtype=int), head_min=5, tail_max=0,
                       doc_bins=(("1-9", 0, 9), ("10-14", 10, 14), ("15+", 15, None)))  # fmt: skip
    rows = {r["group"]: r for r in evaluate(s, y, stats, Thresholds("grid", value=0.5))}
    for g in ("medium", "tail"):
        assert rows[g]["n_labels"] == 0
        assert all(rows[g][k] is None for k in ("micro_f1", "macro_f1", "macro_f1_present"))
    assert rows["head"]["micro_f1"] == rows["total"]["micro_f1"]
    assert rows["1-9"]["n_docs"] == 60  # at most 10 labels per document
    for g in ("10-14", "15+"):  # empty document groups
        assert rows[g]["n_docs"] == 0 and rows[g]["micro_f1"] is None


def test_given_document_bins():
    s, y = make_data(3, n=60, c=10)
    stats = make_stats(y)
    bins = (("none", 0, 0), ("1-2", 1, 2), ("3+", 3, None))
    rows = evaluate(s, y, stats, Thresholds("grid", value=0.5), doc_bins=bins)
    assert [r["group"] for r in rows[4:]] == ["none", "1-2", "3+"]
    n_true = y.sum(axis=1)
    assert [r["n_docs"] for r in rows[4:]] == [
        (n_true == 0).sum(),
        ((n_true >= 1) & (n_true <= 2)).sum(),
        (n_true >= 3).sum(),
    ]
    pred = (s >= np.float32(0.5)).astype(int)
    assert_row_matches(rows[6], sk_metrics(y[n_true >= 3], pred[n_true >= 3]))


def test_no_positive_anywhere_follows_zero_division_0():
    s = np.full((4, 3), 0.9, dtype=np.float32)
    y = np.zeros((4, 3), dtype=int)
    stats = make_stats(np.ones((5, 3), dtype=int), head_min=2, tail_max=1)
    row = evaluate(s, y, stats, Thresholds("grid", value=0.5))[0]
    assert row["micro_f1"] == 0.0 and row["macro_f1"] == 0.0 and row["micro_precision"] == 0.0
    assert row["macro_f1_present"] is None
    assert f1_score(y, np.ones_like(y), average="macro", zero_division=0) == 0.0


def test_label_subset_f1():
    s, y = make_data(4)
    pred = (s >= 0.55).astype(int)
    idx = [0, 4, 7, 20]
    got = label_subset_f1(y, sp.csr_matrix(pred), idx)
    assert got["micro_f1"] == pytest.approx(
        f1_score(y[:, idx], pred[:, idx], average="micro", zero_division=0)
    )
    assert got["macro_f1"] == pytest.approx(
        f1_score(y[:, idx], pred[:, idx], average="macro", zero_division=0)
    )


@pytest.mark.parametrize("ties", [False, True])
def test_threshold_sweep_matches_sklearn(ties):
    s, y = make_data(5, ties=ties)
    stats = make_stats(make_data(6)[1])
    groups = {"total": np.arange(s.shape[1]), **stats.group_indices()}
    grid = [0.6, 0.4, 0.45, 0.5]
    rows = threshold_sweep(s, sp.csr_matrix(y), grid, groups)
    assert len(rows) == 4 * len(groups)
    assert [r["threshold"] for r in rows[:: len(groups)]] == sorted(grid)
    for row in rows:
        idx = groups[row["group"]]
        pred = (s[:, idx] >= np.float32(row["threshold"])).astype(int)
        assert_row_matches(row, sk_metrics(y[:, idx], pred))


def brute_p_at_k(s, y, k):
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(y, top, axis=1).sum() / (len(s) * k)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_ranking_metrics_match_brute_force_and_sklearn(k):
    rng = np.random.default_rng(k)
    s, y = make_data(7)
    s = (s + rng.random(s.shape) * 1e-3).astype(np.float32)  # distinct scores: no tie ambiguity
    assert precision_at_k(s, y, k) == pytest.approx(brute_p_at_k(s, y, k), abs=1e-12)
    assert ndcg_at_k(s, sp.csr_matrix(y), k) == pytest.approx(ndcg_score(y, s, k=k), abs=1e-9)
    both = ranking_metrics(s, y, ks=(k,))
    assert set(both) == {f"p@{k}", f"ndcg@{k}"}
    assert precision_at_k(s, y, 100) == pytest.approx(y.sum() / (len(s) * 100))


def test_per_label_table_matches_sklearn():
    s, y = make_data(8)
    pred = (s >= 0.5).astype(int)
    stats = make_stats(make_data(9)[1])
    table = per_label_table(y, sp.csr_matrix(pred), stats)
    p, r, f, support = precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    assert [row["label"] for row in table] == list(stats.names)
    np.testing.assert_allclose([row["precision"] for row in table], p)
    np.testing.assert_allclose([row["recall"] for row in table], r)
    np.testing.assert_allclose([row["f1"] for row in table], f)
    assert [row["support"] for row in table] == support.tolist()
    assert [row["train_freq"] for row in table] == stats.class_freq.tolist()
    masks = stats.group_masks()
    assert all(masks[row["group"]][i] for i, row in enumerate(table))
    assert per_label_table(y, pred)[0]["group"] is None


def test_metric_input_errors():
    s, y = make_data(10, n=10, c=4)
    stats = make_stats(y)
    with pytest.raises(DataError, match="sparse matrix"):
        evaluate(sp.csr_matrix(s), y, stats, Thresholds("grid", value=0.5))
    with pytest.raises(DataError, match="label statistics have 4 labels but y_true has 3"):
        evaluate(s[:, :3], y[:, :3], stats, Thresholds("grid", value=0.5))
    with pytest.raises(DataError, match="must be 2-D"):
        evaluate(s[0], y, stats, Thresholds("grid", value=0.5))
    with pytest.raises(DataError, match="`ks` must be integers >= 1"):
        ranking_metrics(s, y, ks=(0,))
