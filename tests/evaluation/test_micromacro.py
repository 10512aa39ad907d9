"""LibMultiLabel's micro+macro thresholding on out-of-fold scores (``micromacro-cv``)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from mlbalance.errors import ConfigError, DataError
from mlbalance.evaluation import Thresholds, tune_thresholds, tune_thresholds_micromacro
from mlbalance.evaluation.thresholds import NEVER
from mlbalance.out_of_fold import fold_assignment

from .helpers import make_data


def objective(tp, fp, fn, taken, totals):
    """LibMultiLabel's: micro-F1 with the labels so far (``totals``) + this label's F1 / ``taken``."""
    own = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else 0.0
    mtp = tp + totals[0]
    den = 2 * mtp + fp + fn + totals[1] + totals[2]
    return own / taken + (2 * mtp / den if den else 0.0)


def logit(p):
    p = np.clip(np.float64(p), 1e-12, 1 - 1e-7)
    return math.log(p / (1 - p))


def reference_micromacro(s_oof, y, folds, s_val, fold_medians=None):
    """A plain re-derivation, written after LibMultiLabel's loop: labels most frequent first; in each
    fold, walk the held-out scores in ascending order moving one document at a time to "negative",
    keep the last best of micro-F1 (with the labels so far) + F1 / labels so far; the threshold is the
    mean of the usable folds' cuts (with ``fold_medians``: each cut's logit raised by the rise of the
    label's median validation score from the fold model to the final one, the mean taken in logits);
    a label with no training positive is never predicted; a label no fold tested on a held-out
    positive gets at least the fallback; then the rate guard and its fallback."""
    n, c = y.shape
    support = y.sum(axis=0)
    total_tp = total_fp = total_fn = 0
    out = np.full(c, np.nan)
    tested = np.zeros(c, dtype=bool)
    for taken, j in enumerate(sorted(range(c), key=lambda j: (-support[j], j)), start=1):
        cuts, add = [], [0, 0, 0]
        for k in sorted(set(folds.tolist())):
            rows = np.flatnonzero(folds == k)
            scores, labels = s_oof[rows, j].astype(np.float64), y[rows, j]
            order = np.argsort(scores, kind="stable")
            tp, fp, fn = int(labels.sum()), int(len(rows) - labels.sum()), 0
            totals = (total_tp, total_fp, total_fn)
            best, best_counts, cut = objective(tp, fp, fn, taken, totals), (tp, fp, fn), -1
            for i, doc in enumerate(order):
                if labels[doc]:
                    tp, fn = tp - 1, fn + 1
                else:
                    fp -= 1
                value = objective(tp, fp, fn, taken, totals)
                if value >= best:
                    best, best_counts, cut = value, (tp, fp, fn), i
            ordered = scores[order]
            if cut == len(rows) - 1:
                t = float(np.nextafter(np.float32(ordered[-1]), np.float32(np.inf)))
            else:
                t = (ordered[cut] + ordered[cut + 1]) / 2
            add = [a + b for a, b in zip(add, best_counts)]
            if support[j] - labels.sum() > 0:
                if fold_medians is None:
                    cuts.append(t)
                else:
                    rise = logit(np.median(s_val[:, j])) - logit(fold_medians[k][j])
                    cuts.append(logit(t) + max(rise, 0.0))
                tested[j] = tested[j] or labels.sum() > 0
        total_tp, total_fp, total_fn = total_tp + add[0], total_fp + add[1], total_fn + add[2]
        if cuts:
            out[j] = np.mean(cuts) if fold_medians is None else 1 / (1 + math.exp(-np.mean(cuts)))
    fallback = np.nextafter(s_val.max(axis=0), np.float32(np.inf)).astype(np.float64)
    rate = support / n
    for j in range(c):
        if np.isnan(out[j]):
            out[j] = NEVER
            continue
        if not tested[j]:
            out[j] = max(out[j], fallback[j])
        if (s_val[:, j] >= np.float32(out[j])).sum() > 5 * (rate[j] * len(s_val) + 1):
            out[j] = fallback[j]
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("n_folds", [2, 3])
def test_micromacro_matches_a_plain_re_derivation(seed, n_folds):
    s_oof, y_train = make_data(seed, n=150, c=20)
    s_val, y_val = make_data(seed + 10, n=60, c=20)
    folds = fold_assignment(len(s_oof), n_folds, seed=seed)
    thr = tune_thresholds_micromacro(s_oof, y_train, folds, s_val, y_val)
    expected = reference_micromacro(s_oof, y_train, folds, s_val)
    assert thr.method == "micromacro-cv" and thr.fbr is None and thr.value is None
    # the same predictions everywhere it matters (a cut lies between two neighbouring scores)
    for scores in (s_oof, s_val):
        np.testing.assert_array_equal(
            scores >= thr.per_label.astype(np.float32), scores >= expected.astype(np.float32)
        )
    np.testing.assert_allclose(thr.per_label, expected, rtol=1e-6)
    pred = thr.predict(s_val).toarray()
    assert thr.validation_micro_f1 == pytest.approx(f1_score(y_val, pred, average="micro"), abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cuts_moved_by_the_rise_of_the_validation_median_match_a_plain_re_derivation(seed):
    s_oof, y_train = make_data(seed, n=150, c=20)
    s_val, y_val = make_data(seed + 10, n=61, c=20)
    folds = fold_assignment(len(s_oof), 3, seed=seed)
    # fold models' medians: some labels below the final model's (their cuts rise), some above
    rng = np.random.default_rng(seed)
    medians = np.clip(np.median(s_val, axis=0) + rng.normal(0.0, 0.1, size=(3, 20)), 0.01, 0.99)
    thr = tune_thresholds_micromacro(s_oof, y_train, folds, s_val, y_val, fold_validation_medians=medians)
    expected = reference_micromacro(s_oof, y_train, folds, s_val, medians)
    np.testing.assert_allclose(thr.per_label, expected, rtol=1e-6)
    plain = tune_thresholds_micromacro(s_oof, y_train, folds, s_val, y_val)
    assert not np.allclose(thr.per_label, plain.per_label)  # the medians do move the cuts
    # medians above the final model's everywhere: no rise, nothing moved (only the mean is in logits)
    high = tune_thresholds_micromacro(
        s_oof, y_train, folds, s_val, y_val, fold_validation_medians=np.full((3, 20), 0.99)
    )
    same = reference_micromacro(s_oof, y_train, folds, s_val, np.full((3, 20), 0.99))
    np.testing.assert_allclose(high.per_label, same, rtol=1e-6)
    assert (high.per_label <= thr.per_label + 1e-12).all()


def test_decision_values_move_by_the_plain_difference_of_medians():
    s_oof, y_train = make_data(5, n=120, c=10, kind="decision")
    s_val, y_val = make_data(6, n=51, c=10, kind="decision")
    folds = fold_assignment(120, 3)
    plain = tune_thresholds_micromacro(s_oof, y_train, folds, s_val, y_val, "decision")
    # every fold model's median 0.25 below the final model's: every cut rises by 0.25
    medians = np.tile(np.median(s_val, axis=0) - 0.25, (3, 1))
    moved = tune_thresholds_micromacro(
        s_oof, y_train, folds, s_val, y_val, "decision", fold_validation_medians=medians
    )
    # labels on neither the never-predict rule nor the fallback (just above the highest validation score)
    fallback = np.nextafter(s_val.max(axis=0), np.float32(np.inf))
    usable = (plain.per_label < NEVER) & (plain.per_label != fallback) & (moved.per_label != fallback)
    assert usable.sum() >= 5
    np.testing.assert_allclose(moved.per_label[usable], plain.per_label[usable] + 0.25, rtol=1e-6)


def test_a_fold_that_never_saw_the_label_gives_no_cut():
    rng = np.random.default_rng(0)
    n = 90
    folds = np.arange(n) % 3
    s = rng.uniform(0.0, 0.4, size=(n, 2)).astype(np.float32)
    y = np.zeros((n, 2), dtype=np.int8)
    y[:, 0] = rng.random(n) < 0.3
    pos = [0, 3]  # label 1: both positives in fold 0, scored high
    y[pos, 1] = 1
    s[pos, 1] = [0.9, 0.8]
    s_val = rng.uniform(0.0, 0.2, size=(40, 2)).astype(np.float32)
    y_val = (rng.random((40, 2)) < 0.3).astype(np.int8)
    thr = tune_thresholds_micromacro(s, y, folds, s_val, y_val)
    # folds 1 and 2 were trained on both positives but hold none: each cuts just above its highest
    # score; fold 0 (whose model never saw the label) would cut below 0.8 and is left out
    above = [np.nextafter(s[folds == k, 1].max(), np.float32(np.inf)) for k in (1, 2)]
    assert thr.per_label[1] == pytest.approx(np.mean(above), rel=1e-7)
    # no fold tested a cut on a positive, so the threshold is at least the final model's fallback:
    # with validation scores above the folds' cuts, just above the highest validation score
    s_val[:, 1] += 0.3
    lifted = tune_thresholds_micromacro(s, y, folds, s_val, y_val)
    assert lifted.per_label[1] == np.nextafter(s_val[:, 1].max(), np.float32(np.inf))
    assert lifted.per_label[0] == thr.per_label[0]  # a label with tested cuts keeps them


def test_a_label_with_one_training_document_takes_at_least_the_fallback():
    s_oof, y_train = make_data(11, n=120, c=6)
    s_val, y_val = make_data(12, n=50, c=6)
    y_train[:, 5] = 0
    y_train[7, 5] = 1  # one positive: the folds that trained on it hold none, the other never saw it
    s_oof[:, 5] = np.linspace(0.0, 0.5, 120, dtype=np.float32)
    s_val[:, 5] = np.linspace(0.3, 0.9, 50, dtype=np.float32)
    thr = tune_thresholds_micromacro(s_oof, y_train, fold_assignment(120, 3), s_val, y_val)
    assert thr.per_label[5] == np.nextafter(np.float32(0.9), np.float32(np.inf))
    assert not thr.predict(s_val).toarray()[:, 5].any()


def test_labels_without_training_positive_or_failing_the_rate_guard():
    s_oof, y_train = make_data(4, n=120, c=10)
    s_val, y_val = make_data(5, n=50, c=10)
    y_train[:, 4] = 0  # no training positive: no fold can cut, never predicted
    thr = tune_thresholds_micromacro(s_oof, y_train, fold_assignment(120, 3), s_val, y_val)
    assert thr.per_label[4] == NEVER and not thr.predict(s_val + 10).toarray()[:, 4].any()
    # a label whose cuts fire on most validation documents (lift its validation scores far above):
    # just above its highest validation score
    s_val2 = s_val.copy()
    s_val2[:, 5] += 5.0
    thr2 = tune_thresholds_micromacro(s_oof, y_train, fold_assignment(120, 3), s_val2, y_val)
    assert thr2.per_label[5] == np.nextafter(s_val2[:, 5].max(), np.float32(np.inf))


def test_decision_values_and_the_at_least_one_rule():
    s_oof, y_train = make_data(6, n=120, c=12, kind="decision")
    s_val, y_val = make_data(7, n=50, c=12, kind="decision")
    folds = fold_assignment(120, 3)
    thr = tune_thresholds_micromacro(s_oof, y_train, folds, s_val, y_val, "decision", at_least_one=True)
    plain = tune_thresholds_micromacro(s_oof, y_train, folds, s_val, y_val, "decision")
    assert thr.score_kind == "decision" and thr.at_least_one
    np.testing.assert_array_equal(thr.per_label, plain.per_label)  # the rule does not change the cuts
    pred, pred_plain = thr.predict(s_val).toarray(), plain.predict(s_val).toarray()
    assert (pred.sum(axis=1) >= 1).all()
    empty = pred_plain.sum(axis=1) == 0
    np.testing.assert_array_equal(pred[~empty], pred_plain[~empty])
    np.testing.assert_array_equal(pred[empty].argmax(axis=1), s_val[empty].argmax(axis=1))


def test_serialisation_round_trip():
    s_oof, y_train = make_data(8, n=90, c=8)
    s_val, y_val = make_data(9, n=40, c=8)
    thr = tune_thresholds_micromacro(s_oof, y_train, fold_assignment(90, 3), s_val, y_val, at_least_one=True)
    back = Thresholds.from_dict(json.loads(json.dumps(thr.to_dict())))
    assert back.method == "micromacro-cv" and back.at_least_one
    np.testing.assert_array_equal(back.per_label, thr.per_label)


def test_bad_input_is_named():
    s_oof, y_train = make_data(1, n=60, c=6)
    s_val, y_val = make_data(2, n=30, c=6)
    folds = fold_assignment(60, 3)
    with pytest.raises(DataError, match="`folds` must be 60 integers"):
        tune_thresholds_micromacro(s_oof, y_train, folds[:-1], s_val, y_val)
    with pytest.raises(DataError, match="at least 2 folds"):
        tune_thresholds_micromacro(s_oof, y_train, np.zeros(60, dtype=int), s_val, y_val)
    with pytest.raises(DataError, match="6 labels but the validation scores 5"):
        tune_thresholds_micromacro(s_oof, y_train, folds, s_val[:, :5], y_val[:, :5])
    with pytest.raises(ConfigError, match="score_kind"):
        tune_thresholds_micromacro(s_oof, y_train, folds, s_val, y_val, "logit")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="use tune_thresholds_micromacro"):
        tune_thresholds(s_val, y_val, method="micromacro-cv")
    with pytest.raises(DataError, match=r"`fold_validation_medians` must have shape \(3, 6\)"):
        tune_thresholds_micromacro(
            s_oof, y_train, folds, s_val, y_val, fold_validation_medians=np.zeros((2, 6))
        )
    with pytest.raises(DataError, match="NaN or infinite"):
        tune_thresholds_micromacro(
            s_oof, y_train, folds, s_val, y_val, fold_validation_medians=np.full((3, 6), np.nan)
        )
