"""Per-label thresholds by cross-validation for micro- plus macro-F1 (method ``"micromacro-cv"``).

LibMultiLabel's thresholding ("micromacro-freq", Lin et al., *On the Thresholding Strategy for
Infrequent Labels in Multi-label Classification*, CIKM 2023): the training set is split into folds;
on each fold's out-of-fold scores a label's cut is the one that maximises

    micro-F1(labels so far + this label)  +  F1(this label) / (number of labels so far)

where "so far" means the labels already processed, most frequent first, with their chosen cuts
counted into the running micro-F1. The label's threshold is the mean of its per-fold cuts, applied to
the final model's scores. Rare labels thereby get cuts that weigh their own F1 against the damage
their false positives do to micro-F1, which the plain per-label F1 optimum ignores.

Additions make it fit models other than a linear SVM (:func:`tune_thresholds_micromacro`):

- a fold whose *training* part held no positive of the label gives no cut for it (its model could
  not learn the label), and a label with no training positive is never predicted;
- a label for which no fold both trained on a positive and held one out (typically a label with one
  training document) had no cut tested on a positive: its threshold is at least the final model's
  highest validation score (SCutFBR.1's fallback), as a label failing ``"per-label-cv"`` gets;
- given each fold model's per-label median validation score, a fold's cut is raised by how far the
  label's median rose from that fold model to the final model, in logit units for probabilities, and
  the cuts are averaged in those units. A network trained on all of a rare label's documents scores
  that label higher across the board than one trained on part of them, so a cut found on a fold
  model's scale lets the final model's extra height through as false positives; a fall is left
  alone (for frequent labels the medians move by noise only; a linear SVM's margin keeps its scale,
  and its shifts stay near zero);
- the rate guard and fallback of ``"per-label-cv"`` apply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import DataError
from mlbalance.evaluation.thresholding.base import OutOfFold, Scored, Thresholder
from mlbalance.evaluation.thresholding.per_label import cut_thresholds, label_runs
from mlbalance.evaluation.thresholding.per_label_cv import just_above_highest, within_rate_guard
from mlbalance.evaluation.thresholds import NEVER, ScoreKind, Thresholds

logger = logging.getLogger(__name__)

#: Probabilities are clipped to this range before the logit that puts cuts of different models on
#: one scale.
LOGIT_CLIP: tuple[float, float] = (1e-12, 1.0 - 1e-7)


def _link(scores: np.ndarray, score_kind: ScoreKind) -> np.ndarray:
    """Scores on an additive scale: the logit of probabilities, decision values as they are."""
    values = np.asarray(scores, dtype=np.float64)
    if score_kind == "decision":
        return values
    p = np.clip(values, *LOGIT_CLIP)
    return np.log(p) - np.log1p(-p)


def _unlink(values: np.ndarray, score_kind: ScoreKind) -> np.ndarray:
    """The inverse of :func:`_link`."""
    return values if score_kind == "decision" else 1.0 / (1.0 + np.exp(-values))


@dataclass(frozen=True)
class _Cuts:
    """One fold's candidate cuts, grouped by label: label ``j``'s are ``[start[j], start[j + 1])``.

    Each cut predicts the scores ``>= threshold``: ``predicted`` of them, ``tp`` of which are positive.
    The first cut of every label predicts nothing (its threshold is just above the label's highest
    score); the others end at each distinct score down to the label's lowest positive score (a lower
    cut adds false positives and nothing else, so it never wins).
    """

    start: np.ndarray
    tp: np.ndarray
    predicted: np.ndarray
    threshold: np.ndarray
    support: np.ndarray


def _fold_cuts(
    s: np.ndarray | sp.csr_matrix, y: sp.csr_matrix, unstored_max: np.ndarray | None = None
) -> _Cuts:
    """The candidate cuts of every label on one fold's scores ``s`` and labels ``y`` (sparse ``s``:
    ``unstored_max``, the fold's highest score not stored per label, :class:`OutOfFold`)."""
    n_labels = s.shape[1]
    runs = label_runs(s, y, 1, unstored_max)
    ends = runs.ends
    # each label's "predict nothing" cut first, then its runs from the highest score down
    cols = np.concatenate([np.arange(n_labels), runs.cols[ends]])
    first = np.concatenate([np.zeros(n_labels, dtype=np.int64), np.ones(ends.size, dtype=np.int64)])
    order = np.lexsort((first, cols))
    tp = np.concatenate([np.zeros(n_labels, dtype=np.int64), runs.tp[ends]])
    predicted = np.concatenate([np.zeros(n_labels, dtype=np.int64), runs.predicted[ends]])
    threshold = np.concatenate([just_above_highest(s, unstored_max), cut_thresholds(s, runs, ends)])
    start = np.searchsorted(cols[order], np.arange(n_labels + 1), side="left")
    return _Cuts(start, tp[order], predicted[order], threshold[order], runs.support)


@dataclass(frozen=True)
class MicroMacroCV(Thresholder):
    """Per-label thresholds by LibMultiLabel's micro+macro cross-validation (method ``"micromacro-cv"``).

    Labels are taken most frequent first. In each fold of the training documents, the label's cut
    maximises the micro-F1 of the labels taken so far (their chosen cuts' counts summed over the
    folds, plus this cut's) plus this label's F1 divided by the number of labels taken so far; ties go
    to the cut predicting fewer documents. The threshold is the mean of the label's per-fold cuts.

    Unlike LibMultiLabel:

    - a fold whose training part holds no positive of the label gives no cut for it (its model never
      saw the label; a network scores such a label on a scale of its own); a label with no training
      positive, which no fold can cut, is never predicted
      (:data:`~mlbalance.evaluation.thresholds.NEVER`);
    - a label for which no fold both trained on a positive and held one out gets a threshold at
      least just above its highest validation score: none of its cuts was tested on a positive;
    - with ``fold_validation_medians``, fold ``k``'s cut of label ``j`` is raised by
      ``max(0, median_j(final) − fold_validation_medians[k, j])`` (medians of the validation scores,
      in logit units for probabilities: ``LOGIT_CLIP``), and the cuts are averaged in those units;
    - a label that its threshold would predict on more than
      :data:`~mlbalance.evaluation.thresholds.RATE_GUARD` × (training rate × n_val + 1) validation
      documents gets a threshold just above its highest validation score, as for ``"per-label-cv"``.

    Validation labels are not used for the thresholds, only for the reported validation micro-F1.

    The fold of each training document and (optionally) each fold model's per-label median
    validation score come with the out-of-fold scores (:class:`OutOfFold`); without the medians the
    cuts are averaged as they are, as LibMultiLabel does.
    """

    name: ClassVar[str] = "micromacro-cv"
    needs_oof: ClassVar[bool] = True
    needs_fold_medians: ClassVar[bool] = True

    def _tune(self, val: Scored, oof: OutOfFold | None, score_kind: ScoreKind) -> Thresholds:
        assert oof is not None  # Thresholder.tune checked it
        s_oof, y_oof, s_val, _y_v = oof.scores, oof.labels, val.scores, val.labels
        at_least_one, folds, fold_validation_medians = self.at_least_one, oof.folds, oof.validation_medians
        fold_of = np.asarray(folds)
        if fold_of.shape != (s_oof.shape[0],) or not np.issubdtype(fold_of.dtype, np.integer):
            raise DataError(f"`folds` must be {s_oof.shape[0]} integers (one per training document)")
        fold_ids = np.unique(fold_of)
        if fold_ids.size < 2:
            raise DataError(f"`folds` must name at least 2 folds, got {fold_ids.tolist()}")

        n_labels = s_oof.shape[1]
        shifts = _scale_shifts(fold_validation_medians, s_val, score_kind, fold_ids.size)
        cuts = []
        for i, k in enumerate(fold_ids):
            rows = np.flatnonzero(fold_of == k)
            unstored = None if oof.unstored_max is None else oof.unstored_max[i]
            cuts.append(_fold_cuts(s_oof[rows], y_oof[rows], unstored))
        support = np.bincount(y_oof.indices, minlength=n_labels)
        per_label = np.full(n_labels, np.nan)
        tested = np.zeros(n_labels, dtype=bool)  # some fold trained on a positive and held one out
        total = np.zeros(3)  # tp, fp, fn of the labels taken so far, summed over folds
        for taken, j in enumerate(np.argsort(-support, kind="stable"), start=1):
            counts = np.zeros(3)
            chosen_folds, chosen = [], []
            for k, c in enumerate(cuts):
                a, b = c.start[j], c.start[j + 1]
                tp = c.tp[a:b].astype(np.float64)
                fp = c.predicted[a:b] - tp
                fn = c.support[j] - tp
                with np.errstate(divide="ignore", invalid="ignore"):
                    own = np.nan_to_num(2 * tp / (2 * tp + fp + fn)) / taken
                    micro_tp = tp + total[0]
                    micro = np.nan_to_num(2 * micro_tp / (2 * micro_tp + fp + fn + total[1] + total[2]))
                best = int(np.argmax(own + micro))  # the first maximum: the cut predicting fewest
                counts += (tp[best], fp[best], fn[best])
                if support[j] - c.support[j] > 0:  # this fold's model saw the label
                    chosen_folds.append(k)
                    chosen.append(c.threshold[a + best])
                    tested[j] |= c.support[j] > 0
            total += counts
            if chosen and shifts is None:
                per_label[j] = float(np.mean(chosen))
            elif chosen:
                moved = _link(np.asarray(chosen), score_kind) + shifts[chosen_folds, j]
                per_label[j] = float(_unlink(np.mean(moved), score_kind))

        train_rate = support / max(1, s_oof.shape[0])
        fallback = just_above_highest(s_val)
        no_cut = np.isnan(per_label)  # exactly the labels with no training positive
        per_label = np.where(no_cut, NEVER, np.where(tested, per_label, np.maximum(per_label, fallback)))
        keeps = within_rate_guard(per_label, s_val, train_rate) | no_cut
        chosen_thr = Thresholds(
            "micromacro-cv",
            per_label=np.where(keeps, per_label, fallback),
            score_kind=score_kind,
            at_least_one=bool(at_least_one),
        )
        chosen_thr = val.with_micro_f1(chosen_thr)
        logger.info(
            "micromacro-cv thresholds: %d of %d labels take the fallback, %d without training positive, "
            "%d with no cut tested on a positive",
            int((~keeps).sum()),
            keeps.size,
            int(no_cut.sum()),
            int((~tested & ~no_cut).sum()),
        )
        return chosen_thr


def _scale_shifts(
    medians: np.ndarray | None, s_val: np.ndarray, score_kind: ScoreKind, n_folds: int
) -> np.ndarray | None:
    """``(n_folds, C)``: how far each label's median validation score rose from each fold model to
    the final model, on the additive scale of :func:`_link`; 0 where it fell (None without
    ``medians``)."""
    if medians is None:
        return None
    fold_medians = np.asarray(medians, dtype=np.float64)
    if fold_medians.shape != (n_folds, s_val.shape[1]):
        raise DataError(
            f"`fold_validation_medians` must have shape {(n_folds, s_val.shape[1])} (folds × labels), "
            f"got {fold_medians.shape}"
        )
    if not np.isfinite(fold_medians).all():
        raise DataError("`fold_validation_medians` holds NaN or infinite values")
    final = _link(np.median(s_val, axis=0), score_kind)
    return np.maximum(final[None, :] - _link(fold_medians, score_kind), 0.0)
