"""Threshold tuning: grid, exact global optimum, per-label, top-k, fixed; prediction and serialisation."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from mlbalance.errors import ConfigError, DataError
from mlbalance.evaluation import PAPER_GRIDS, Thresholds, tune_thresholds
from mlbalance.evaluation.thresholding.global_optimal import global_optimal_threshold
from mlbalance.evaluation.thresholds import _top_k_indices

from .helpers import make_data


def micro(y, pred):
    return f1_score(y, pred, average="micro", zero_division=0)


def test_paper_grids():
    assert len(PAPER_GRIDS["probability"]) == 21
    assert PAPER_GRIDS["probability"][0] == 0.40 and PAPER_GRIDS["probability"][-1] == 0.60
    assert PAPER_GRIDS["decision"][0] == -1.0 and PAPER_GRIDS["decision"][-1] == 1.0
    assert PAPER_GRIDS["decision"][10] == 0.0


@pytest.mark.parametrize("kind", ["probability", "decision"])
@pytest.mark.parametrize("ties", [False, True])
def test_grid_matches_brute_force_with_sklearn(kind, ties):
    s, y = make_data(1, ties=ties, kind=kind)
    thr = tune_thresholds(s, sp.csr_matrix(y), method="grid", score_kind=kind)
    grid = PAPER_GRIDS[kind]
    f1s = [micro(y, (s >= np.float32(t)).astype(int)) for t in grid]
    best = int(np.argmax(f1s))  # first maximum: the lowest threshold
    assert thr.value == grid[best]
    assert thr.validation_micro_f1 == pytest.approx(f1s[best], abs=1e-12)
    assert thr.method == "grid" and thr.score_kind == kind


def test_grid_custom_and_ties_to_lowest():
    s = np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32)
    y = np.eye(2, dtype=int)
    thr = tune_thresholds(s, y, method="grid", grid=[0.5, 0.3, 0.7])  # all give F1 = 1
    assert thr.value == 0.3
    assert thr.validation_micro_f1 == 1.0


def brute_force_best(s, y):
    """Micro-F1 of ``score >= v`` for every distinct score ``v`` (plain numpy, one value at a time)."""
    yb = y.astype(bool)
    n_pos = yb.sum()
    best = -1.0
    for v in np.unique(s):
        pred = s >= v
        best = max(best, 2.0 * (pred & yb).sum() / (pred.sum() + n_pos))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_global_optimal_equals_brute_force_over_all_distinct_scores(seed, ties):
    s, y = make_data(seed, n=60, c=12, ties=ties)
    thr = tune_thresholds(s, y, method="global-optimal")
    pred = thr.predict(s).toarray()
    f1 = micro(y, pred)
    assert f1 == pytest.approx(brute_force_best(s, y), abs=1e-12)
    assert thr.validation_micro_f1 == pytest.approx(f1, abs=1e-12)
    # the threshold lies strictly between distinct scores (or on the lowest one): ties stay together
    below = s[s < thr.value]
    above = s[s >= thr.value]
    assert above.size and (below.size == 0 or below.max() < thr.value <= above.min())


def test_global_optimal_pruned_search_is_exact_when_search_grows(caplog):
    # many high-scoring negatives force the candidate set to grow (and the bound to be checked)
    rng = np.random.default_rng(5)
    y = (rng.random((300, 40)) < 0.02).astype(np.int8)
    s = rng.random((300, 40)).astype(np.float32)
    s[y == 1] = rng.uniform(0.3, 1.0, size=int(y.sum()))
    with caplog.at_level(logging.DEBUG, logger="mlbalance.evaluation.thresholding.global_optimal"):
        value, f1 = global_optimal_threshold(s, sp.csr_matrix(y))
    rounds = [r for r in caplog.records if "candidate scores" in r.getMessage()]
    assert len(rounds) >= 2  # the first candidate set was too small to prove the optimum
    assert f1 == pytest.approx(brute_force_best(s, y), abs=1e-12)
    assert micro(y, (s >= np.float32(value)).astype(int)) == pytest.approx(f1, abs=1e-12)


def test_global_optimal_midpoint_and_adjacent_floats():
    s = np.array([[0.9, 0.5], [0.7, 0.1]], dtype=np.float32)
    y = np.array([[1, 0], [1, 0]])
    thr = tune_thresholds(s, y, method="global-optimal")
    assert thr.value == pytest.approx(0.6, abs=1e-6)  # midpoint between 0.7 and 0.5
    a = np.float32(0.5)
    b = np.nextafter(a, np.float32(1))
    s2 = np.array([[b, a]], dtype=np.float32)
    thr2 = tune_thresholds(s2, np.array([[1, 0]]), method="global-optimal")
    np.testing.assert_array_equal(thr2.predict(s2).toarray(), [[1, 0]])
    np.testing.assert_array_equal(thr2.predict(s2.astype(np.float64)).toarray(), [[1, 0]])


def brute_label_f1(col_s, col_y, t):
    pred = col_s >= t
    return 2.0 * (pred & (col_y == 1)).sum() / max(1, pred.sum() + col_y.sum())


@pytest.mark.parametrize("ties", [False, True])
def test_per_label_is_optimal_per_label_and_falls_back(ties):
    s, y = make_data(3, n=80, c=15, ties=ties)
    min_pos = 4
    glob = tune_thresholds(s, y, method="global-optimal").value
    thr = tune_thresholds(s, y, method="per-label", min_positives=min_pos)
    assert thr.per_label.shape == (15,)
    assert thr.value is None
    support = y.sum(axis=0)
    for c in range(15):
        if support[c] < min_pos:
            assert thr.per_label[c] == glob
            continue
        best = max(brute_label_f1(s[:, c], y[:, c], v) for v in np.unique(s[:, c]))
        got = brute_label_f1(s[:, c], y[:, c], np.float32(thr.per_label[c]))
        assert got == pytest.approx(best, abs=1e-12), c
    pred = thr.predict(s).toarray()
    assert thr.validation_micro_f1 == pytest.approx(micro(y, pred), abs=1e-12)
    label_f1 = f1_score(y, pred, average=None, zero_division=0)
    assert label_f1[support >= min_pos] == pytest.approx(
        [
            brute_label_f1(s[:, c], y[:, c], np.float32(thr.per_label[c]))
            for c in np.flatnonzero(support >= min_pos)
        ]
    )


def test_per_label_fallback_grid():
    s, y = make_data(4)
    thr = tune_thresholds(s, y, method="per-label", min_positives=10**6, fallback="grid")
    grid_value = tune_thresholds(s, y, method="grid").value
    assert np.all(thr.per_label == grid_value)


def test_top_k_fixed_and_tuned():
    s, y = make_data(5)
    thr = tune_thresholds(s, y, method="top-k", k=2)
    pred = thr.predict(s).toarray()
    assert (pred.sum(axis=1) == 2).all()
    # every predicted score is >= every score left out (ties at the cut may go either way)
    chosen = np.where(pred == 1, s, np.inf).min(axis=1)
    left = np.where(pred == 0, s, -np.inf).max(axis=1)
    assert (chosen >= left).all()
    tuned = tune_thresholds(s, y, method="top-k", max_k=6)
    f1s = [micro(y, tune_thresholds(s, y, method="top-k", k=k).predict(s).toarray()) for k in range(1, 7)]
    assert tuned.k == int(np.argmax(f1s)) + 1
    assert tuned.validation_micro_f1 == pytest.approx(max(f1s), abs=1e-12)
    assert Thresholds("top-k", k=100).predict(s).nnz == s.size  # k above the number of labels


@pytest.mark.parametrize("k", [1, 4, 25, 30])
def test_top_k_indices_equal_a_stable_sort_ties_included(k):
    s, _ = make_data(12, n=90, c=25, ties=True)
    s[5] = 0.5  # a row of equal scores: the lowest columns win
    s[7] = -3.0  # a row far below the global cut: found by its own partition
    s[8, :3] = -3.0
    expected = np.argsort(-s, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(_top_k_indices(s, k), expected)
    np.testing.assert_array_equal(_top_k_indices(s.astype(np.float64), k), expected)
    pred = Thresholds("top-k", k=k).predict(s).toarray()
    assert (pred.sum(axis=1) == min(k, 25)).all()
    assert all(set(np.flatnonzero(pred[i])) == set(expected[i]) for i in range(len(s)))


def test_predict_matches_dense_rule_and_is_csr():
    s, _ = make_data(6, n=50, c=9)
    per = np.linspace(0.3, 0.7, 9)
    for thr in (Thresholds("grid", value=0.45), Thresholds("per-label", per_label=per)):
        pred = thr.predict(s)
        assert sp.isspmatrix_csr(pred) and pred.dtype == np.float32 and pred.shape == s.shape
        ref = s >= (np.float32(thr.value) if thr.value is not None else per.astype(np.float32))
        np.testing.assert_array_equal(pred.toarray(), ref.astype(np.float32))
    assert Thresholds("grid", value=0.45).predict(np.zeros((0, 9), np.float32)).shape == (0, 9)


def test_chunked_passes_equal_unchunked(monkeypatch):
    from mlbalance.evaluation import _core

    s, y = make_data(7, n=70, c=11)
    results = []
    for budget in (_core.CHUNK_ELEMENTS, 30):  # one chunk, then chunks of 2 rows
        monkeypatch.setattr(_core, "CHUNK_ELEMENTS", budget)
        per = tune_thresholds(s, y, method="per-label", min_positives=2)
        results.append(
            (
                tune_thresholds(s, y, method="grid").value,
                tune_thresholds(s, y, method="global-optimal").value,
                per.per_label.tolist(),
                per.predict(s).toarray().tolist(),
                tune_thresholds(s, y, method="top-k").k,
            )
        )
    assert list(_core.row_chunks(70, 11))[:2] == [(0, 2), (2, 4)]
    assert results[0] == results[1]


@pytest.mark.parametrize("kind", ["probability", "decision"])
def test_fixed_is_the_decision_point_or_the_given_value(kind):
    s, y = make_data(4, kind=kind)
    default = tune_thresholds(s, y, method="fixed", score_kind=kind)
    assert default.value == {"probability": 0.5, "decision": 0.0}[kind]
    np.testing.assert_array_equal(default.predict(s).toarray(), (s >= np.float32(default.value)).astype(int))
    at_value = (s >= np.float32(default.value)).astype(int)
    assert default.validation_micro_f1 == pytest.approx(micro(y, at_value))
    given_value = tune_thresholds(s, y, method="fixed", score_kind=kind, value=0.1)
    assert given_value.value == float(np.float32(0.1))
    with_top = tune_thresholds(s, y, method="fixed", score_kind=kind, value=1e9, at_least_one=True)
    assert (with_top.predict(s).sum(axis=1) == 1).all()  # nothing reaches it: each document gets its top
    empty = tune_thresholds(s, np.zeros_like(y), method="fixed", score_kind=kind)  # no positive: still fine
    assert empty.validation_micro_f1 == 0.0
    with pytest.raises(ConfigError, match="applies only to method 'fixed'"):
        tune_thresholds(s, y, method="grid", value=0.5)
    with pytest.raises(ConfigError, match="`value` must be a finite number, got inf"):
        tune_thresholds(s, y, method="fixed", value=float("inf"))
    with pytest.raises(ConfigError, match="needs a finite `value`"):
        Thresholds("fixed")


@pytest.mark.parametrize("method", ["grid", "global-optimal", "per-label", "top-k", "fixed"])
def test_to_dict_from_dict_roundtrip_through_json(method):
    s, y = make_data(8)
    thr = tune_thresholds(s, y, method=method)
    back = Thresholds.from_dict(json.loads(json.dumps(thr.to_dict())))
    assert back.method == thr.method and back.value == thr.value and back.k == thr.k
    np.testing.assert_array_equal(back.predict(s).toarray(), thr.predict(s).toarray())


def test_thresholds_are_frozen_and_validated():
    thr = Thresholds("grid", value=0.5)
    with pytest.raises(AttributeError):
        thr.value = 0.4  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"`method` must be one of .* got 'best'"):
        Thresholds("best", value=0.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a finite `value`"):
        Thresholds("grid")
    with pytest.raises(ConfigError, match="`k` must be an integer >= 1"):
        Thresholds("top-k", k=0)
    with pytest.raises(DataError, match="thresholds are malformed"):
        Thresholds.from_dict({"method": "per-label", "per_label": None})
    with pytest.raises(DataError, match="per-label thresholds"):
        Thresholds("per-label", per_label=[0.5, 0.5]).predict(np.zeros((2, 3), np.float32))


def test_bad_inputs_raise_clear_errors():
    s, y = make_data(9, n=20, c=5)
    with pytest.raises(ConfigError, match=r"`method` must be one of"):
        tune_thresholds(s, y, method="optimal")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"`score_kind` must be one of"):
        tune_thresholds(s, y, score_kind="logit")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="`min_positives` must be an integer >= 1, got 0"):
        tune_thresholds(s, y, method="per-label", min_positives=0)
    bad = s.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="must be finite, got nan at document 3, label 2"):
        tune_thresholds(bad, y)
    bad[3, 2] = 0.5
    bad[7, 0] = -np.inf
    with pytest.raises(DataError, match="must be finite, got -inf at document 7, label 0"):
        Thresholds("grid", value=0.5).predict(bad)
    huge = np.full((4, 3), 3e38, dtype=np.float32)  # finite, though their float32 sum overflows
    assert Thresholds("grid", value=0.5).predict(huge).nnz == 12
    y2 = y.copy()
    y2[4, 1] = 2
    with pytest.raises(DataError, match=r"must be binary \(0/1\), got 2 at document 4, label 1"):
        tune_thresholds(s, y2)
    with pytest.raises(DataError, match=r"must be binary \(0/1\), got 2.0 at document 4, label 1"):
        tune_thresholds(s, sp.csr_matrix(y2.astype(float)))
    with pytest.raises(DataError, match="has shape"):
        tune_thresholds(s, y[:, :4])
    with pytest.raises(DataError, match="no positive label"):
        tune_thresholds(s, np.zeros_like(y), method="global-optimal")
    with pytest.raises(ConfigError, match="`grid` must be a non-empty"):
        tune_thresholds(s, y, grid=[])
    with pytest.raises(ConfigError, match="`grid` must be a non-empty sequence of finite numbers, got 'abc'"):
        tune_thresholds(s, y, grid="abc")


def test_thresholds_between_arrays():
    from mlbalance.evaluation._core import threshold_between, thresholds_between

    a = np.float32(0.5)
    b = np.nextafter(a, np.float32(1))
    upper = np.array([0.7, b, 0.3, 0.9])
    lower = np.array([0.5, a, -np.inf, np.nan])
    got = thresholds_between(upper, lower, np.float32)
    assert (
        got[0] == pytest.approx(0.6)
        and got[1] == b
        and got[2] == np.float32(0.3)
        and got[3] == np.float32(0.9)
    )
    assert [
        threshold_between(u, None if not np.isfinite(v) else v, np.float32) for u, v in zip(upper, lower)
    ] == (got.tolist())


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["global-optimal", "per-label"]),
)
def test_optimal_thresholds_on_heavily_tied_scores(n, c, seed, method):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 4, size=(n, c)).astype(np.float32) / 4  # few distinct values
    y = (rng.random((n, c)) < 0.4).astype(np.int8)
    if y.sum() == 0:
        y[0, 0] = 1
    thr = tune_thresholds(s, y, method=method, min_positives=1)
    if method == "global-optimal":
        assert thr.validation_micro_f1 == pytest.approx(brute_force_best(s, y), abs=1e-12)
        assert not np.any(s == np.float32(thr.value)) or thr.value == s.min()
    else:
        for j in np.flatnonzero(y.sum(axis=0)):
            best = max(brute_label_f1(s[:, j], y[:, j], v) for v in np.unique(s[:, j]))
            assert brute_label_f1(s[:, j], y[:, j], np.float32(thr.per_label[j])) == pytest.approx(
                best, abs=1e-12
            )


def test_every_registered_method_is_a_thresholder_of_its_name_and_stored_form():
    from mlbalance.evaluation.thresholding import Thresholder, get_thresholder, thresholder_class
    from mlbalance.evaluation.thresholds import METHOD_TABLE

    rng = np.random.default_rng(0)
    y = (rng.random((60, 5)) < 0.3).astype(np.int8)
    s = np.clip(y * 0.4 + rng.random((60, 5)) * 0.6, 0, 1).astype(np.float32)
    from mlbalance.evaluation.thresholding import OutOfFold, Scored

    val = Scored.checked(s, y)
    oof = OutOfFold(val.scores, val.labels, np.arange(60) % 3, None)
    for method, (_, _, form) in METHOD_TABLE.items():
        cls = thresholder_class(method)
        assert issubclass(cls, Thresholder) and cls.name == method
        thresholds = get_thresholder(method).tune(val, oof if cls.needs_oof else None)
        assert thresholds.method == method
        stored = {"value": thresholds.value, "per_label": thresholds.per_label, "k": thresholds.k}[form]
        assert stored is not None and Thresholds.from_dict(thresholds.to_dict()).method == method
    with pytest.raises(ConfigError, match="takes no option 'k'"):
        get_thresholder("grid", k=3)
    with pytest.raises(ConfigError, match="tunes on out-of-fold training scores"):
        get_thresholder("per-label-cv").tune(val)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_global_macro_is_the_candidate_with_the_best_macro_f1(seed):
    from mlbalance.evaluation.thresholding import Scored, get_thresholder

    rng = np.random.default_rng(seed)
    y = (rng.random((80, 7)) < rng.uniform(0.03, 0.5, size=7)).astype(np.int8)
    y[0, :] = 1  # every label has a positive
    s = np.clip(y * rng.uniform(0.1, 0.5, size=7) + rng.random((80, 7)) * 0.6, 0, 1).astype(np.float32)
    thresholds = get_thresholder("global-macro").tune(Scored.checked(s, y))
    candidates = np.unique(s[y == 1])

    def macro(t):
        return f1_score(y, (s >= np.float32(t)).astype(int), average="macro", zero_division=0)

    expected = max(macro(t) for t in candidates)
    assert macro(thresholds.value) == pytest.approx(expected, abs=1e-12)
    assert thresholds.value == min(t for t in candidates if macro(t) == pytest.approx(expected, abs=1e-12))
    micro_best = get_thresholder("global-optimal").tune(Scored.checked(s, y)).value
    assert macro(thresholds.value) >= macro(micro_best)


def test_tune_thresholds_takes_every_method_tuned_on_validation():
    from mlbalance.evaluation.thresholding import thresholder_class
    from mlbalance.evaluation.thresholds import METHODS

    rng = np.random.default_rng(3)
    y = (rng.random((40, 4)) < 0.3).astype(np.int8)
    y[0] = 1
    s = rng.random((40, 4)).astype(np.float32)
    for method in METHODS:
        if not thresholder_class(method).needs_oof:
            assert tune_thresholds(s, y, method=method).method == method
