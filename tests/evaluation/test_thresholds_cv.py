"""Per-label thresholds from out-of-fold scores (``per-label-cv``) and the at-least-one-label rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from mlbalance.errors import ConfigError, DataError
from mlbalance.evaluation import FBR_CANDIDATES, Thresholds, tune_thresholds, tune_thresholds_cv
from mlbalance.evaluation.thresholds import NEVER

from .helpers import make_data


def label_f1(col_s, col_y, t):
    pred = col_s >= t
    return 2.0 * (pred & (col_y == 1)).sum() / max(1, pred.sum() + col_y.sum())


def reference_cv(s_oof, y_train, s_val, y_val, fbr, fallback):
    """Plain re-derivation: each label's best out-of-fold threshold, or the fallback one."""
    grid = tune_thresholds(s_val, y_val, method="grid").value
    out = np.empty(s_oof.shape[1])
    for c in range(s_oof.shape[1]):
        highest = (s_val if fallback == "highest" else s_oof)[:, c].max()  # the next float32 above it
        fall = grid if fallback == "grid" else float(np.nextafter(highest, np.float32(np.inf)))
        if y_train[:, c].sum() == 0:  # never predicted: nothing to learn it from
            out[c] = NEVER
            continue
        candidates = np.unique(s_oof[:, c])
        f1 = [label_f1(s_oof[:, c], y_train[:, c], v) for v in candidates]
        own = candidates[int(np.argmax(f1))]
        # the rate guard: no more than 5 x (training rate x n_val + 1) validation documents
        fires = (s_val[:, c] >= own).sum() > 5 * (y_train[:, c].mean() * len(s_val) + 1)
        out[c] = fall if max(f1) < fbr or fires else own
    return out


@pytest.mark.parametrize("fallback", ["highest", "highest-oof", "grid"])
@pytest.mark.parametrize("fbr", [0.0, 0.3, 0.6])
def test_per_label_cv_matches_a_plain_re_derivation(fbr, fallback):
    s_oof, y_train = make_data(1, n=150, c=20)
    s_val, y_val = make_data(2, n=60, c=20)
    thr = tune_thresholds_cv(s_oof, y_train, s_val, y_val, fbr=fbr, fallback=fallback)
    expected = reference_cv(s_oof, y_train, s_val, y_val, fbr, fallback)
    assert thr.method == "per-label-cv" and thr.fbr == fbr
    assert thr.value == (tune_thresholds(s_val, y_val, method="grid").value if fallback == "grid" else None)
    for c in range(20):
        # the same predictions on the tuning scores (a tuned threshold is a midpoint below the best score)
        ours = label_f1(s_oof[:, c], y_train[:, c], np.float32(thr.per_label[c]))
        ref = label_f1(s_oof[:, c], y_train[:, c], np.float32(expected[c]))
        assert ours == pytest.approx(ref, abs=1e-12), c
        if fallback == "highest" and thr.per_label[c] > s_val[:, c].max():  # a fallback label
            assert not (s_val[:, c] >= np.float32(thr.per_label[c])).any()
    np.testing.assert_array_equal(thr.per_label[:3], NEVER)  # no training positive: never predicted
    assert not thr.predict(s_val).toarray()[:, :3].any()
    pred = thr.predict(s_val).toarray()
    assert thr.validation_micro_f1 == pytest.approx(f1_score(y_val, pred, average="micro"), abs=1e-12)


def test_per_label_cv_without_fbr_picks_the_best_validation_macro_f1_grid_fallback():
    s_oof, y_train = make_data(19, n=150, c=20)
    s_val, y_val = make_data(119, n=60, c=20)
    auto = tune_thresholds_cv(s_oof, y_train, s_val, y_val, fallback="grid")
    assert auto.fbr == 0.8
    macro = {}
    for fbr in FBR_CANDIDATES:
        fixed = tune_thresholds_cv(s_oof, y_train, s_val, y_val, fbr=fbr, fallback="grid")
        macro[fbr] = f1_score(y_val, fixed.predict(s_val).toarray(), average="macro", zero_division=0)
    assert auto.fbr in FBR_CANDIDATES
    assert macro[auto.fbr] == pytest.approx(max(macro.values()), abs=1e-12)


def test_per_label_cv_without_fbr_cross_fits_the_highest_fallback_on_validation():
    s_oof, y_train = make_data(20, n=150, c=20)
    s_val, y_val = make_data(120, n=60, c=20)
    auto = tune_thresholds_cv(s_oof, y_train, s_val, y_val)
    assert auto.fbr == 0.5  # not the smallest candidate, which scoring on all of validation would favour
    own = tune_thresholds_cv(s_oof, y_train, s_val, y_val, fbr=0.0, fallback="grid").per_label
    best_oof_f1 = np.array(
        [
            max(label_f1(s_oof[:, c], y_train[:, c], v) for v in np.unique(s_oof[:, c]))
            if y_train[:, c].any()
            else -1.0
            for c in range(20)
        ]
    )
    parts = np.random.default_rng(0).permutation(60) % 5
    macro = {}
    for fbr in FBR_CANDIDATES:
        falls_back = best_oof_f1 < fbr
        pred = np.zeros_like(y_val)
        for k in range(5):  # each fifth predicted with the highest score of the other four fifths
            held = parts == k
            highest = np.nextafter(s_val[~held].max(axis=0), np.float32(np.inf))
            pred[held] = s_val[held] >= np.where(falls_back, highest, own.astype(np.float32))
        macro[fbr] = f1_score(y_val, pred, average="macro", zero_division=0)
    assert macro[auto.fbr] == pytest.approx(max(macro.values()), abs=1e-12)
    assert auto.fbr == min(f for f in FBR_CANDIDATES if macro[f] == pytest.approx(max(macro.values())))


def test_per_label_cv_decision_scores_use_the_decision_grid():
    s_oof, y_train = make_data(5, n=100, c=10, kind="decision")
    s_val, y_val = make_data(6, n=50, c=10, kind="decision")
    thr = tune_thresholds_cv(s_oof, y_train, s_val, y_val, "decision", fbr=1.0, fallback="grid")
    assert thr.score_kind == "decision"
    assert thr.value == tune_thresholds(s_val, y_val, method="grid", score_kind="decision").value
    assert (thr.per_label[:3] == NEVER).all()  # no training positive
    for c in range(3, 10):  # fbr 1: only a label separated perfectly out of fold keeps its own threshold
        best = max(label_f1(s_oof[:, c], y_train[:, c], v) for v in np.unique(s_oof[:, c]))
        assert (thr.per_label[c] == thr.value) == (best < 1.0), c


@pytest.mark.parametrize("method", ["grid", "global-optimal", "per-label"])
def test_at_least_one_gives_empty_rows_their_top_label(method):
    s, y = make_data(7, n=90, c=12)
    plain = tune_thresholds(s, y, method=method)
    one = tune_thresholds(s, y, method=method, at_least_one=True)
    assert one.at_least_one and not plain.at_least_one
    base = plain.predict(s).toarray()
    expected = base.copy()
    empty = base.sum(axis=1) == 0
    assert empty.any()  # the test exercises the rule
    expected[np.flatnonzero(empty), s[empty].argmax(axis=1)] = 1
    got = one.predict(s)
    np.testing.assert_array_equal(got.toarray(), expected)
    assert got.has_sorted_indices and (got.toarray().sum(axis=1) >= 1).all()
    assert one.validation_micro_f1 == pytest.approx(f1_score(y, expected, average="micro"), abs=1e-12)


def test_roundtrip_and_validation_of_the_new_fields():
    s_oof, y_train = make_data(8, n=80, c=9)
    s_val, y_val = make_data(9, n=40, c=9)
    thr = tune_thresholds_cv(s_oof, y_train, s_val, y_val, fbr=0.2, at_least_one=True)
    back = Thresholds.from_dict(json.loads(json.dumps(thr.to_dict())))
    assert (back.method, back.fbr, back.at_least_one, back.value) == ("per-label-cv", 0.2, True, None)
    np.testing.assert_array_equal(back.predict(s_val).toarray(), thr.predict(s_val).toarray())
    # a stored dictionary from before the new fields reads back with their defaults
    old = Thresholds.from_dict({"method": "grid", "value": 0.5})
    assert old.at_least_one is False and old.fbr is None


def test_bad_inputs_raise_clear_errors():
    s, y = make_data(10, n=40, c=6)
    with pytest.raises(ConfigError, match="use tune_thresholds_cv"):
        tune_thresholds(s, y, method="per-label-cv")
    with pytest.raises(ConfigError, match=r"`fbr` must be a number >= 0\.0 and <= 1\.0, got 1\.5"):
        tune_thresholds_cv(s, y, s, y, fbr=1.5)
    with pytest.raises(ConfigError, match="`fallback` must be one of"):
        tune_thresholds_cv(s, y, s, y, fallback="max")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="`at_least_one` must be true or false"):
        tune_thresholds(s, y, at_least_one="yes")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="6 labels but the validation scores 5"):
        tune_thresholds_cv(s, y, s[:, :5], y[:, :5])
    with pytest.raises(DataError, match="no positive label"):
        tune_thresholds_cv(s, y, s, np.zeros_like(y))
    with pytest.raises(ConfigError, match="needs `per_label` thresholds"):
        Thresholds("per-label-cv", value=0.5)


def test_a_label_firing_far_above_its_training_rate_takes_the_fallback():
    s_oof, y_train = make_data(11, n=200, c=6)
    s_val, y_val = make_data(12, n=80, c=6)
    y_train[:, 5] = 0
    y_train[:4, 5] = 1
    s_oof[:, 5] = 0.1
    s_oof[:4, 5] = 0.9  # out of fold label 5 is perfectly separated: its own threshold is ~0.5
    s_val[:, 5] = 0.2
    plain = tune_thresholds_cv(s_oof, y_train, s_val, y_val, fbr=0.1, fallback="grid")
    assert plain.per_label[5] == pytest.approx(0.5)
    s_val[:, 5] = 0.95  # the final model scores label 5 above that on every validation document
    guarded = tune_thresholds_cv(s_oof, y_train, s_val, y_val, fbr=0.1, fallback="grid")
    # 80 predicted > RATE_GUARD * (4 / 200 * 80 + 1) = 13: the label takes the fallback
    assert guarded.per_label[5] == guarded.value
    for c in range(5):  # the other labels are untouched (the grid fallback moved with label 5's scores)
        if plain.per_label[c] == plain.value:
            assert guarded.per_label[c] == guarded.value
        else:
            assert guarded.per_label[c] == plain.per_label[c]
