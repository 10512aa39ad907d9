"""Validation F1 of a thresholding method with thresholds chosen without the documents they predict.

A method tuned on validation and scored on validation is scored on what it fitted: per-label
thresholds chosen on 1,000 documents, where a tail label has a handful of positives, promise points
of micro-F1 that the test split does not give (BENCHMARKS.md, *tune on Reuters-21578*). Here the
validation documents are dealt into ``parts``; each part is predicted with the thresholds the method
tunes on the other parts (and on the out-of-fold training scores, which stay whole), and the counts
of all parts are pooled into micro- and macro-F1. ``tune`` ranks its trials by these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlbalance.evaluation import _core
from mlbalance.evaluation.thresholding.base import OutOfFold, Scored, Thresholder
from mlbalance.evaluation.thresholds import ScoreKind


@dataclass(frozen=True, eq=False)
class TunedOn:
    """What a run's thresholds were tuned on: the method, the validation scores and labels, the
    out-of-fold training scores (None for a method that needs none) and the kind of scores."""

    thresholder: Thresholder
    validation: Scored
    oof: OutOfFold | None
    score_kind: ScoreKind


def cross_fitted_f1(tuned_on: TunedOn, parts: int = 5, seed: int = 0) -> tuple[float, float]:
    """``(micro-F1, macro-F1)`` on validation, each of ``parts`` random parts predicted with the
    thresholds tuned on the others (module docstring). Macro-F1 over all labels, as the reports."""
    val = tuned_on.validation
    n_docs, n_labels = val.scores.shape
    part = np.random.default_rng(seed).permutation(n_docs) % max(1, min(parts, n_docs))
    tp, fp, fn = (np.zeros(n_labels, dtype=np.int64) for _ in range(3))
    for k in np.unique(part):
        held = part == k
        rest = Scored(val.scores[~held], val.labels[~held]) if (~held).any() else val
        thresholds = tuned_on.thresholder.tune(rest, tuned_on.oof, tuned_on.score_kind)
        counts = _core.label_counts(val.labels[held], thresholds._predict(val.scores[held]))
        tp, fp, fn = tp + counts.tp, fp + counts.fp, fn + counts.fn
    metrics = _core.reduce_counts(tp, fp, fn)
    return float(metrics["micro_f1"] or 0.0), float(metrics["macro_f1"] or 0.0)
