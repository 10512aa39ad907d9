"""``"per-label-cv"`` — per-label thresholds tuned on out-of-fold training scores.

Each training document is scored by a model fitted without it (:func:`mlbalance.out_of_fold.cross_fit`);
those scores hold several times more positives of a rare label than validation does. A label whose
out-of-fold F1 at its best threshold is below ``fbr`` gets a threshold just above its highest
validation score instead (the SCutFBR.1 rule; without it a label with no recoverable positive gets a
threshold below most scores). ``fbr=None`` picks it from
:data:`~mlbalance.evaluation.thresholds.FBR_CANDIDATES` by validation macro-F1. The fallback and the
rate guard here are shared with ``"micromacro-cv"``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from mlbalance._checks import check_float
from mlbalance.errors import ConfigError
from mlbalance.evaluation import _core
from mlbalance.evaluation.thresholding.base import OutOfFold, Scored, Thresholder
from mlbalance.evaluation.thresholding.grid import check_grid, tune_grid
from mlbalance.evaluation.thresholding.per_label import per_label_optimal
from mlbalance.evaluation.thresholds import FBR_CANDIDATES, NEVER, RATE_GUARD, ScoreKind, Thresholds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PerLabelCV(Thresholder):
    """Per-label thresholds from out-of-fold training scores, with SCutFBR.1's fallback.

    Each label's threshold maximises its F1 on the out-of-fold scores (exact, midpoints as for
    ``"per-label"``). A label with no training positive is never predicted (threshold ``NEVER``).
    A label whose out-of-fold F1 there is below ``fbr``, and a label that its threshold would predict
    on more than ``RATE_GUARD`` × (its training rate × n_val + 1) validation documents (the
    out-of-fold models, fitted on part of the data, can score a rare label on another scale than the
    final model: seen with focal-type losses) take the ``fallback`` threshold instead:

    - ``"highest"`` (default): just above the label's highest **validation** score, so the label is
      predicted only for a document that scores higher than every validation document. This is the
      SCutFBR.1 rule measured on the final model's own scores, so it stays right when the
      out-of-fold models' scores are on another scale (a network trained on fewer documents).
    - ``"highest-oof"``: just above the label's highest out-of-fold score (SCutFBR.1 as LibMultiLabel
      applies it; suits models whose scores keep their scale across fits, such as the SVM).
    - ``"grid"``: the global grid threshold tuned on validation (``grid``: its candidates).

    ``fbr=None`` picks the value of ``FBR_CANDIDATES`` with the best validation macro-F1 (with
    ``"highest"``, each fifth of validation predicted with the fallback of the other four fifths;
    ties: best micro-F1, then the smallest value).
    """

    name: ClassVar[str] = "per-label-cv"
    needs_oof: ClassVar[bool] = True
    fbr: float | None = None
    fallback: Literal["highest", "highest-oof", "grid"] = "highest"
    grid: Any = None

    def __post_init__(self) -> None:
        if self.fallback not in ("highest", "highest-oof", "grid"):
            raise ConfigError(
                f"`fallback` must be one of ('highest', 'highest-oof', 'grid'), got {self.fallback!r}"
            )
        if self.fbr is not None:
            check_float("fbr", self.fbr, 0.0, 1.0)
        super().__post_init__()

    def _tune(self, val: Scored, oof: OutOfFold | None, score_kind: ScoreKind) -> Thresholds:
        assert oof is not None  # Thresholder.tune checked it
        s_oof, y_oof, s_val, y_v = oof.scores, oof.labels, val.scores, val.labels
        val.require_positives()
        fallback = self.fallback
        value = tune_grid(s_val, y_v, check_grid(self.grid, score_kind))[0] if fallback == "grid" else None
        unstored = None if oof.unstored_max is None else np.max(oof.unstored_max, axis=0)
        per_label, _ = per_label_optimal(s_oof, y_oof, 1, 0.0, unstored)
        counts = _core.label_counts(y_oof, Thresholds("per-label", per_label=per_label)._predict(s_oof))
        denominator = 2 * counts.tp + counts.fp + counts.fn
        oof_f1 = np.divide(2 * counts.tp, denominator, out=np.zeros(per_label.shape), where=denominator > 0)
        unseen = counts.support == 0
        train_rate = counts.support / max(1, s_oof.shape[0])

        def rule_for(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """The fallback thresholds and the labels passing the rate guard, measured on ``scores``."""
            if value is not None:
                fall = np.full(per_label.shape, value)
            else:
                fall = just_above_highest(s_oof, unstored) if fallback == "highest-oof" else None
                fall = just_above_highest(scores) if fall is None else fall
            fall = np.where(unseen, NEVER, fall)
            return fall, within_rate_guard(per_label, scores, train_rate) & ~unseen

        def thresholds_at(candidate: float, rule: tuple[np.ndarray, np.ndarray]) -> Thresholds:
            """The thresholds at one ``fbr``: a label keeps its own unless it fails ``fbr`` or the rule."""
            fall, keeps = rule
            return Thresholds(
                "per-label-cv",
                value=value,
                per_label=np.where(keeps & (oof_f1 >= candidate), per_label, fall),
                score_kind=score_kind,
                at_least_one=self.at_least_one,
                fbr=candidate,
            )

        if self.fbr is not None:
            chosen = thresholds_at(float(self.fbr), rule_for(s_val))
        else:
            chosen = _choose_fbr(rule_for, thresholds_at, s_val, y_v, cross_fit=fallback == "highest")
        chosen = val.with_micro_f1(chosen)
        logger.info(
            "per-label-cv thresholds: fbr %g; %d of %d labels take the %s fallback",
            chosen.fbr,
            int(np.sum(chosen.per_label != per_label)),
            oof_f1.size,
            fallback,
        )
        return chosen


def just_above_highest(
    scores: np.ndarray | sp.csr_matrix, unstored_max: np.ndarray | None = None
) -> np.ndarray:
    """Per label, a threshold just above its highest score (SCutFBR.1's fallback), as float64.

    Sparse ``scores`` (:class:`~mlbalance.evaluation.thresholding.base.OutOfFold`): the higher of the
    highest stored score and ``unstored_max`` (the highest not stored); a label with neither is never
    predicted.
    """
    if sp.issparse(scores):
        highest = np.full(scores.shape[1], -np.inf, dtype=scores.dtype)
        np.maximum.at(highest, scores.indices, scores.data)
        if unstored_max is not None:
            highest = np.maximum(highest, unstored_max.astype(scores.dtype))
        highest = np.where(np.isneginf(highest), np.asarray(NEVER, dtype=scores.dtype), highest)
    else:
        highest = scores.max(axis=0)
    with np.errstate(over="ignore"):  # above the largest float: the label keeps NEVER
        above = np.nextafter(highest, np.asarray(np.inf, dtype=highest.dtype))
    return np.where(np.isfinite(above), above, highest).astype(np.float64)


def within_rate_guard(per_label: np.ndarray, scores: np.ndarray, train_rate: np.ndarray) -> np.ndarray:
    """Labels that ``per_label`` predicts on at most :data:`RATE_GUARD` × (training rate × n + 1) rows."""
    predicted = np.bincount(
        Thresholds("per-label", per_label=per_label)._predict(scores).indices, minlength=per_label.size
    )
    return predicted <= RATE_GUARD * train_rate * scores.shape[0] + RATE_GUARD


def _choose_fbr(
    rule_for: Any,
    thresholds_at: Any,
    s_val: np.ndarray,
    y_val: sp.csr_matrix,
    cross_fit: bool,
    folds: int = 5,
) -> Thresholds:
    """The thresholds of the :data:`FBR_CANDIDATES` value with the best validation macro-F1.

    With ``cross_fit`` (the fallback is computed from validation scores) validation is split into
    ``folds`` parts and each part is predicted with the fallback of the others; otherwise a fallback
    label's threshold would by construction predict no validation document, and the choice would
    always fall on the smallest value. Ties go to the better micro-F1, then the smaller value.
    """
    n_docs = s_val.shape[0]
    if cross_fit and n_docs >= 2:
        parts = np.random.default_rng(0).permutation(n_docs) % min(folds, n_docs)
        held_out = [np.flatnonzero(parts == k) for k in range(int(parts.max()) + 1)]
        # (held-out rows, their scores, their labels, the rule measured on the other parts)
        pieces = [(s_val[rows], y_val[rows], rule_for(np.delete(s_val, rows, axis=0))) for rows in held_out]
    else:
        pieces = [(s_val, y_val, rule_for(s_val))]
    best: tuple[float, float, float] | None = None
    chosen = FBR_CANDIDATES[0]
    for candidate in FBR_CANDIDATES:
        tp = fp = fn = 0
        for scores, labels, rule in pieces:
            c = _core.label_counts(labels, thresholds_at(candidate, rule)._predict(scores))
            tp, fp, fn = tp + c.tp, fp + c.fp, fn + c.fn
        m = _core.reduce_counts(tp, fp, fn)  # type: ignore[arg-type]
        key = (m["macro_f1"] or 0.0, m["micro_f1"] or 0.0, -candidate)
        if best is None or key > best:
            best, chosen = key, candidate
    return thresholds_at(chosen, rule_for(s_val))
