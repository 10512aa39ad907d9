"""``"global-optimal"`` — the exact global threshold maximising validation micro-F1.

Found by sorting the scores (only the top ones that can matter: an F1 bound prunes the rest, the
result is exact). The threshold is placed at the midpoint between the chosen score and the next lower
distinct score, so tied scores are always on the same side. Ties in F1 go to the lowest threshold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from mlbalance.evaluation import _core
from mlbalance.evaluation.thresholding.base import OutOfFold, Scored, Thresholder
from mlbalance.evaluation.thresholds import ScoreKind, Thresholds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GlobalOptimal(Thresholder):
    """The one global threshold with the best validation micro-F1 (exact)."""

    name: ClassVar[str] = "global-optimal"

    def _tune(self, val: Scored, oof: OutOfFold | None, score_kind: ScoreKind) -> Thresholds:
        val.require_positives()
        value, f1 = global_optimal_threshold(val.scores, val.labels)
        return Thresholds("global-optimal", value=value, score_kind=score_kind, validation_micro_f1=f1)


def global_optimal_threshold(scores: np.ndarray, y: sp.csr_matrix) -> tuple[float, float]:
    """The exact global threshold maximising micro-F1, and that micro-F1.

    Micro-F1 at threshold t is ``2 TP(t) / (P(t) + S)`` with ``P(t)`` the number of scores ``>= t`` and
    ``S`` the number of true pairs. Only the top scores can matter: if the best F1 among thresholds at
    or above the ``m`` highest scores is at least ``2S / (m + S)``, no lower threshold (which predicts
    more than ``m`` pairs, so scores at most ``2S / (m + 1 + S)``) can beat it. The top set is chosen
    from a fixed random sample of the scores and grown (×4) until that bound holds, so the answer is
    exact and typically needs to sort only a few times ``S`` scores.
    """
    s = np.ascontiguousarray(scores)
    flat = s.reshape(-1)
    n_total = flat.size
    pos = np.sort(_core.positive_scores(s, y))
    n_pos = pos.size
    rng = np.random.default_rng(0)
    sample = np.sort(flat[rng.integers(0, n_total, size=min(n_total, 200_000))])
    m = 4 * n_pos
    while True:
        if m >= n_total:
            t0 = None
            cand = np.sort(flat)
        else:
            # a cut-off with about m scores above it, estimated on the sample
            t0 = sample[max(0, sample.size - 1 - int(sample.size * m / n_total))]
            cand = np.sort(
                np.concatenate([_core.take_at_least(s[a:b], t0) for a, b in _core.row_chunks(*s.shape)])
            )
        distinct = np.unique(cand)
        predicted = cand.size - np.searchsorted(cand, distinct, side="left")
        tp = n_pos - np.searchsorted(pos, distinct, side="left")
        f1 = 2.0 * tp / (predicted + n_pos)
        best = int(np.argmax(f1))  # ascending thresholds: ties go to the lowest
        logger.debug(
            "global-optimal: %d candidate scores of %d, best micro-F1 %.6f", cand.size, n_total, f1[best]
        )
        if t0 is None or f1[best] >= 2.0 * n_pos / (cand.size + n_pos):
            break
        m *= 4
    upper = distinct[best]
    if best > 0:
        lower = float(distinct[best - 1])
    elif t0 is None:
        lower = None
    else:
        lower = _max_below(s, upper)
    return _core.threshold_between(float(upper), lower, s.dtype), float(f1[best])


def _max_below(s: np.ndarray, value: Any) -> float | None:
    """The largest score strictly below ``value``, or None."""
    best = -np.inf
    for a, b in _core.row_chunks(*s.shape):
        below = s[a:b][s[a:b] < value]
        if below.size:
            best = max(best, float(below.max()))
    return None if best == -np.inf else best
