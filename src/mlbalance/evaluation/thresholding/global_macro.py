"""``"global-macro"`` — the one global threshold that maximises validation **macro**-F1.

For a user whose measure is macro-F1 (every label counts the same, as the tail does in the paper's
tables): the candidates are the validation scores of the true pairs, thinned to at most
``max_candidates`` quantiles; every label's counts at every candidate come from one pass over the
scores; ties go to the lowest threshold. A label with no true and no predicted positive counts 0 in
the mean, as in the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mlbalance._checks import check_int
from mlbalance.evaluation import _core
from mlbalance.evaluation.thresholding.base import OutOfFold, Scored, Thresholder
from mlbalance.evaluation.thresholds import ScoreKind, Thresholds


@dataclass(frozen=True)
class GlobalMacro(Thresholder):
    """The global threshold with the best validation macro-F1 (at most ``max_candidates`` tried)."""

    name: ClassVar[str] = "global-macro"
    max_candidates: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("max_candidates", self.max_candidates, minimum=1)

    def _tune(self, val: Scored, oof: OutOfFold | None, score_kind: ScoreKind) -> Thresholds:
        val.require_positives()
        s, y = val.scores, val.labels
        positives = _core.positive_scores(s, y)
        candidates = np.unique(positives.astype(np.float64))
        if candidates.size > self.max_candidates:
            candidates = np.unique(np.quantile(positives, np.linspace(0.0, 1.0, self.max_candidates)))
        predicted, tp, support = _core.grid_counts(s, y, candidates)
        denominator = predicted + support[None, :]
        f1 = np.divide(2.0 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
        best = int(np.argmax(f1.mean(axis=1)))  # ascending candidates: ties go to the lowest
        value = float(np.asarray(candidates[best], dtype=s.dtype))
        return val.with_micro_f1(Thresholds("global-macro", value=value, score_kind=score_kind))
