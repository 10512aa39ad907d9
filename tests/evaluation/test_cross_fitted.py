"""Validation F1 of thresholds tuned without the documents they predict (``tune``'s trial score)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import f1_score

from mlbalance.evaluation.thresholding import OutOfFold, Scored, get_thresholder
from mlbalance.evaluation.thresholding.cross_fitted import TunedOn, cross_fitted_f1
from mlbalance.out_of_fold import fold_assignment

from .helpers import make_data


@pytest.mark.parametrize("method", ["grid", "global-optimal", "per-label", "per-label-cv", "micromacro-cv"])
def test_each_part_is_predicted_by_thresholds_tuned_on_the_others(method):
    s_val, y_val = make_data(11, n=200, c=15)
    s_oof, y_train = make_data(12, n=300, c=15)
    oof = OutOfFold(s_oof, sp.csr_matrix(y_train), fold_assignment(300, 3))
    thresholder = get_thresholder(method)
    val = Scored.checked(s_val, y_val)
    micro, macro = cross_fitted_f1(TunedOn(thresholder, val, oof, "probability"), parts=5, seed=3)
    # a plain re-derivation: the same five parts, each predicted by the thresholds of the other four
    part = np.random.default_rng(3).permutation(200) % 5
    pred = np.zeros_like(y_val)
    for k in range(5):
        rest = Scored.checked(s_val[part != k], y_val[part != k])
        pred[part == k] = thresholder.tune(rest, oof, "probability").predict(s_val[part == k]).toarray()
    assert micro == pytest.approx(f1_score(y_val, pred, average="micro"), abs=1e-12)
    assert macro == pytest.approx(f1_score(y_val, pred, average="macro", zero_division=0), abs=1e-12)


def test_per_label_thresholds_score_lower_when_they_did_not_see_what_they_predict():
    s_val, y_val = make_data(13, n=150, c=25)
    val = Scored.checked(s_val, y_val)
    per_label = get_thresholder("per-label", min_positives=1)
    own = per_label.tune(val)
    own_micro = f1_score(y_val, own.predict(s_val).toarray(), average="micro")
    micro, _ = cross_fitted_f1(TunedOn(per_label, val, None, "probability"))
    assert micro < own_micro - 0.01
