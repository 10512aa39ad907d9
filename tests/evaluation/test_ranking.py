"""P@k, nDCG@k and PSP@k against a direct re-computation on random data, and in the result rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import ndcg_score

from mlbalance.errors import DataError
from mlbalance.evaluation import RANKING_KEYS, Thresholds, evaluate, propensities, psp_at_k, ranking_metrics

from .helpers import make_data, make_stats


def distinct(seed, **kw):
    rng = np.random.default_rng(seed)
    s, y = make_data(seed, **kw)
    return (s + rng.random(s.shape) * 1e-3).astype(np.float32), y  # distinct scores: no tie ambiguity


def direct_propensity(n_l, n_train, a, b):
    c = (math.log(n_train) - 1) * (b + 1) ** a
    return 1 / (1 + c * math.exp(-a * math.log(n_l + b)))


def direct_psp(s, y, inv, k):
    """Σ_docs Σ_{top k} y/p over Σ_docs of the k largest 1/p among the true labels, one document at a time."""
    got = best = 0.0
    for doc in range(s.shape[0]):
        order = sorted(range(s.shape[1]), key=lambda j: (-s[doc, j], j))[:k]
        got += sum(inv[j] for j in order if y[doc, j])
        best += sum(sorted((inv[j] for j in range(s.shape[1]) if y[doc, j]), reverse=True)[:k])
    return got / best


def test_propensities_match_the_formula():
    freq, n = [0, 1, 2, 10, 500], 1000
    for a, b in ((0.55, 1.5), (0.6, 2.6)):
        want = [direct_propensity(f, n, a, b) for f in freq]
        np.testing.assert_allclose(propensities(freq, n, a, b), want, rtol=1e-12)
    p = propensities(freq, n)
    assert (np.diff(p) > 0).all() and (p > 0).all() and (p <= 1).all()  # rarer: lower propensity
    with pytest.raises(DataError, match="propensity `a` must be a positive number"):
        propensities(freq, n, a=0)
    with pytest.raises(DataError, match="counts >= 0"):
        propensities([-1, 2], n)


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("seed", [0, 1])
def test_psp_matches_a_direct_recomputation(k, seed):
    s, y = distinct(seed, n=40, c=12)
    freq = np.random.default_rng(seed).integers(0, 60, size=12)
    inv = 1 / propensities(freq, 200)
    got = ranking_metrics(s, y, (k,), inv)
    assert got[f"psp@{k}"] == pytest.approx(direct_psp(s, y, inv, k), rel=1e-12)
    assert psp_at_k(s, y, freq, 200, k=k) == pytest.approx(got[f"psp@{k}"], rel=1e-12)
    assert ndcg_score(y, s, k=k) == pytest.approx(got[f"ndcg@{k}"], abs=1e-9)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_psp_with_equal_propensities_is_normalised_precision(k):
    s, y = distinct(3)
    got = ranking_metrics(s, y, (k,), np.full(y.shape[1], 7.0))
    # equal weights: hits over the best achievable number of hits, min(k, n_true) per document
    best = np.minimum(y.sum(axis=1), k).sum()
    assert got[f"psp@{k}"] == pytest.approx(got[f"p@{k}"] * len(s) * k / best, rel=1e-12)
    perfect = ranking_metrics(y.astype(np.float32) + s * 1e-3, y, (k,), np.full(y.shape[1], 7.0))
    assert perfect[f"psp@{k}"] == pytest.approx(1.0)


def test_a_perfect_ranking_has_psp_one_and_the_best_is_found_per_document():
    y = np.array([[1, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 0]])
    inv = np.array([1.0, 5.0, 2.0, 3.0])
    s = np.array([[0.1, 0.9, 0.0, 0.5], [0.2, 0.0, 0.3, 0.1], [0.5, 0.4, 0.3, 0.2]], np.float32)
    got = ranking_metrics(s, y, (1, 2), inv)
    assert got["psp@1"] == pytest.approx(1.0) and got["psp@2"] == pytest.approx(1.0)
    worse = ranking_metrics(
        s[:, [0, 3, 2, 1]], y, (1,), inv
    )  # doc 0's top is now label 3 (1/p = 3), not 1 (5)
    assert worse["psp@1"] == pytest.approx((3.0 + 2.0) / (5.0 + 2.0))


def test_groups_restrict_labels_or_documents():
    s, y = distinct(4)
    inv = np.linspace(1, 3, y.shape[1])
    cols = np.array([3, 7, 8, 20])
    rows = np.zeros(len(s), bool)
    rows[::3] = True
    by_cols = ranking_metrics(s, y, (1, 3), inv, columns=cols)
    assert by_cols == ranking_metrics(s[:, cols], y[:, cols], (1, 3), inv[cols])
    by_rows = ranking_metrics(s, sp.csr_matrix(y), (1, 3), inv, rows=rows)
    assert by_rows == ranking_metrics(s[rows], y[rows], (1, 3), inv)
    assert ranking_metrics(s, y, (1,), inv, rows=np.zeros(len(s), bool)) == {
        "p@1": None,
        "ndcg@1": None,
        "psp@1": None,
    }
    assert ranking_metrics(s, np.zeros_like(y), (1,), inv)["psp@1"] is None  # nothing achievable


def test_chunked_computation_equals_one_pass(monkeypatch):
    from mlbalance.evaluation import _core

    s, y = distinct(5)
    inv = np.linspace(1, 3, y.shape[1])
    whole = ranking_metrics(s, y, (1, 3, 5), inv)
    monkeypatch.setattr(_core, "CHUNK_ELEMENTS", 50)  # two rows per chunk
    assert ranking_metrics(s, y, (1, 3, 5), inv) == pytest.approx(whole, rel=1e-12)


def test_evaluate_rows_carry_the_ranking_metrics_of_each_group():
    s, y = distinct(6, n=100, c=30)
    stats = make_stats(make_data(26, n=200, c=30)[1], head_min=30, tail_max=10)
    rows = evaluate(s, y, stats, Thresholds("grid", value=0.5))
    inv = 1 / propensities(stats.class_freq, stats.n_train)
    groups = stats.group_indices()
    masks = stats.doc_group_masks(sp.csr_matrix(y))
    for row in rows:
        assert set(RANKING_KEYS) <= set(row)
        name = row["group"]
        if name == "total":
            want = ranking_metrics(s, y, (1, 3, 5), inv)
        elif name in groups:
            want = ranking_metrics(s, y, (1, 3, 5), inv, columns=groups[name])
        else:
            want = ranking_metrics(s, y, (1, 3, 5), inv, rows=masks[name])
        for key in RANKING_KEYS:
            assert row[key] == (None if want[key] is None else pytest.approx(want[key], rel=1e-12)), (
                name,
                key,
            )
    other = evaluate(s, y, stats, Thresholds("grid", value=0.5), propensity_a=1.0, propensity_b=3.0)
    assert other[0]["psp@5"] != rows[0]["psp@5"] and other[0]["p@5"] == rows[0]["p@5"]


def test_bad_arguments_are_clear():
    s, y = make_data(7, n=10, c=4)
    with pytest.raises(DataError, match="`ks` must be integers >= 1"):
        ranking_metrics(s, y, (0,))
    with pytest.raises(DataError, match=r"`inverse_propensity` must have shape \(4,\)"):
        ranking_metrics(s, y, (1,), np.ones(3))
