"""Decision thresholds tuned on validation scores, saved with a model, applied to test scores.

Seven methods (:func:`tune_thresholds` for the first five, :func:`tune_thresholds_cv` and
:func:`mlbalance.evaluation.micromacro.tune_thresholds_micromacro` for the two tuned on out-of-fold
training scores):

- ``"fixed"`` — one given threshold, no tuning: by default the decision point of the scores
  (:data:`FIXED_DEFAULTS`: probability 0.5, decision value 0), where losses such as ZLPR put it.

- ``"grid"`` — the paper's: the global threshold of a grid that maximises validation micro-F1.
  Default grids (:data:`PAPER_GRIDS`): probabilities 0.40–0.60 step 0.01; SVM decision values
  −1.0–1.0 step 0.1 ("hyper-plane shifting"). Ties go to the lowest grid value, as in the authors' loop.
- ``"global-optimal"`` — the exact global threshold maximising validation micro-F1, found by sorting
  the scores (only the top ones that can matter: an F1 bound prunes the rest, the result is exact).
  The threshold is placed at the midpoint between the chosen score and the next lower distinct score,
  so tied scores are always on the same side. Ties in F1 go to the lowest threshold.
- ``"per-label"`` — for each label the threshold maximising its own validation F1 (exact, midpoints as
  above); a label with fewer than ``min_positives`` validation positives (default 5, and always a
  label with none) takes the global threshold of ``fallback`` (default ``"global-optimal"``) instead.
- ``"top-k"`` — the ``k`` highest-scoring labels of each document; with ``k=None`` the ``k`` in
  ``1..max_k`` that maximises validation micro-F1.
- ``"per-label-cv"`` — per-label thresholds tuned on **out-of-fold training scores** (each training
  document scored by a model fitted without it, :func:`mlbalance.training.out_of_fold_scores`), which
  hold several times more positives of a rare label than validation does; a label whose out-of-fold F1
  at its best threshold is below ``fbr`` gets a threshold just above its highest validation score
  instead (the SCutFBR.1 rule; without it a label with no recoverable positive gets a threshold below
  most scores). ``fbr=None`` picks it from :data:`FBR_CANDIDATES` by validation macro-F1.
- ``"micromacro-cv"`` — LibMultiLabel's thresholding: per label and fold, the cut of the out-of-fold
  scores that maximises micro-F1 plus a share of macro-F1, labels taken most frequent first; the
  threshold is the mean of the per-fold cuts (module :mod:`mlbalance.evaluation.micromacro`).

Any method but top-k may add ``at_least_one``: a document with no score above its threshold gets its
top-scoring label (for corpora where every document has a label; thresholds are tuned without it).

Prediction rule: ``score >= threshold``, compared in the scores' dtype (a stored threshold is a value
exactly representable in float32, so float32 and float64 scores give the same predictions).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import ConfigError, DataError
from mlbalance.evaluation import _core

logger = logging.getLogger(__name__)

ThresholdMethod = Literal[
    "grid", "global-optimal", "per-label", "top-k", "per-label-cv", "micromacro-cv", "fixed"
]
ScoreKind = Literal["probability", "decision"]

METHODS: tuple[str, ...] = (
    "grid", "global-optimal", "per-label", "top-k", "per-label-cv", "micromacro-cv", "fixed"
)
#: The methods that hold one global threshold ``value``.
GLOBAL_METHODS: tuple[str, ...] = ("grid", "global-optimal", "fixed")
#: ``"fixed"``'s threshold when none is given: the scores' decision point (σ(0) = 0.5; 0).
FIXED_DEFAULTS: dict[str, float] = {"probability": 0.5, "decision": 0.0}
#: The methods that hold one threshold per label.
PER_LABEL_METHODS: tuple[str, ...] = ("per-label", "per-label-cv", "micromacro-cv")
#: The methods tuned on out-of-fold training scores (:func:`mlbalance.training.out_of_fold_scores`).
CV_METHODS: tuple[str, ...] = ("per-label-cv", "micromacro-cv")
#: ``fbr`` values :func:`tune_thresholds_cv` chooses from when it is not given.
FBR_CANDIDATES: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
#: per-label-cv: a label whose out-of-fold threshold would predict it on more than
#: ``RATE_GUARD × (training rate × n + 1)`` validation documents takes the fallback threshold.
RATE_GUARD = 5
#: The out-of-fold methods' threshold for a label with no training positive: no score reaches it, so
#: the label is never predicted (a model cannot have learned it; predicting it only adds errors).
NEVER = float(np.finfo(np.float32).max)
SCORE_KINDS: tuple[str, ...] = ("probability", "decision")

#: The authors' grids: probabilities 0.40..0.60 step 0.01; SVM decision values -1.0..1.0 step 0.1.
PAPER_GRIDS: dict[str, tuple[float, ...]] = {
    "probability": tuple(round(0.40 + 0.01 * i, 2) for i in range(21)),
    "decision": tuple(round(-1.0 + 0.1 * i, 1) for i in range(21)),
}


@dataclass(frozen=True, eq=False)
class Thresholds:
    """How scores become 0/1 predictions.

    Attributes:
        method: one of :data:`METHODS`.
        value: the global threshold (grid, global-optimal, fixed; per-label-cv with the grid fallback),
            else None.
        per_label: float64 array ``(C,)`` of per-label thresholds (per-label, per-label-cv), else None.
        k: labels per document (top-k), else None.
        score_kind: ``"probability"`` or ``"decision"``: what the scores were.
        validation_micro_f1: micro-F1 on the validation scores, if known.
        at_least_one: a document with no label above threshold gets its top-scoring label.
        fbr: per-label-cv: labels whose out-of-fold F1 was below this took the fallback threshold.
    """

    method: ThresholdMethod
    value: float | None = None
    per_label: np.ndarray | None = None
    k: int | None = None
    score_kind: ScoreKind = "probability"
    validation_micro_f1: float | None = None
    at_least_one: bool = False
    fbr: float | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"`method` must be one of {METHODS}, got {self.method!r}")
        if self.score_kind not in SCORE_KINDS:
            raise ConfigError(f"`score_kind` must be one of {SCORE_KINDS}, got {self.score_kind!r}")
        if self.method in GLOBAL_METHODS:
            if self.value is None or not math.isfinite(float(self.value)):
                raise ConfigError(f"method {self.method!r} needs a finite `value`, got {self.value!r}")
            object.__setattr__(self, "value", float(self.value))
        if not isinstance(self.at_least_one, (bool, np.bool_)):
            raise ConfigError(f"`at_least_one` must be true or false, got {self.at_least_one!r}")
        object.__setattr__(self, "at_least_one", bool(self.at_least_one))
        if self.fbr is not None and not (isinstance(self.fbr, (int, float)) and 0.0 <= self.fbr <= 1.0):
            raise ConfigError(f"`fbr` must be a number in [0, 1] or None, got {self.fbr!r}")
        if self.method in PER_LABEL_METHODS:
            if self.per_label is None:
                raise ConfigError(f"method {self.method!r} needs `per_label` thresholds, got None")
            arr = np.array(self.per_label, dtype=np.float64)
            if arr.ndim != 1 or not np.isfinite(arr).all():
                raise ConfigError(f"`per_label` must be a 1-D array of finite numbers, got shape {arr.shape}")
            arr.setflags(write=False)
            object.__setattr__(self, "per_label", arr)
        if self.method == "top-k":
            if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
                raise ConfigError(f"`k` must be an integer >= 1 for method 'top-k', got {self.k!r}")
            object.__setattr__(self, "k", int(self.k))

    def predict(self, scores: np.ndarray) -> sp.csr_matrix:
        """0/1 predictions (float32 CSR, shape of ``scores``): ``score >= threshold`` or the top ``k``."""
        return self._predict(_core.as_scores(scores))

    def _predict(self, s: np.ndarray) -> sp.csr_matrix:
        """:meth:`predict` on scores already validated."""
        n_docs, n_labels = s.shape
        if self.method == "top-k":
            return _top_k_csr(s, self.k)  # type: ignore[arg-type]
        if self.method in PER_LABEL_METHODS:
            thr = self.per_label
            if thr.shape[0] != n_labels:  # type: ignore[union-attr]
                raise DataError(
                    f"the scores have {n_labels} labels but there are {thr.shape[0]} per-label thresholds"  # type: ignore[union-attr]
                )
        else:
            thr = np.asarray(self.value)
        thr = np.asarray(thr, dtype=s.dtype)
        cols, counts = [], []
        for start, stop in _core.row_chunks(n_docs, n_labels):
            r, c = _core.nonzero_2d(s[start:stop] >= thr)
            cols.append(c.astype(np.int32))
            counts.append(np.bincount(r, minlength=stop - start))
        pred = _csr_from_row_counts(cols, counts, (n_docs, n_labels))
        return _with_top_label(pred, s) if self.at_least_one else pred

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; :meth:`from_dict` reads it back."""
        return {
            "method": self.method,
            "value": self.value,
            "per_label": None if self.per_label is None else self.per_label.tolist(),
            "k": self.k,
            "score_kind": self.score_kind,
            "validation_micro_f1": self.validation_micro_f1,
            "at_least_one": self.at_least_one,
            "fbr": self.fbr,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        """Read back :meth:`to_dict`'s output; a malformed dictionary raises :class:`DataError`."""
        if not isinstance(data, dict) or "method" not in data:
            raise DataError(f"thresholds must be a dictionary with a 'method' key, got {data!r:.80}")
        try:
            return cls(
                method=data["method"],
                value=data.get("value"),
                per_label=None if data.get("per_label") is None else np.asarray(data["per_label"], float),
                k=data.get("k"),
                score_kind=data.get("score_kind", "probability"),
                validation_micro_f1=data.get("validation_micro_f1"),
                at_least_one=data.get("at_least_one", False),
                fbr=data.get("fbr"),
            )
        except ConfigError as exc:
            raise DataError(f"thresholds are malformed: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise DataError(f"thresholds are malformed: {exc}") from exc


def tune_thresholds(
    scores_val: np.ndarray,
    y_val: sp.spmatrix | np.ndarray,
    method: ThresholdMethod = "grid",
    score_kind: ScoreKind = "probability",
    grid: np.ndarray | list[float] | tuple[float, ...] | None = None,
    k: int | None = None,
    *,
    min_positives: int = 5,
    fallback: Literal["global-optimal", "grid"] = "global-optimal",
    max_k: int | None = None,
    at_least_one: bool = False,
    value: float | None = None,
) -> Thresholds:
    """Choose thresholds on **validation** scores.

    Args:
        scores_val: dense ``(n_docs, C)`` validation scores (probabilities or decision values).
        y_val: validation labels, binary, ``scipy.sparse`` or dense, same shape.
        method: ``"grid"``, ``"global-optimal"``, ``"per-label"``, ``"top-k"`` or ``"fixed"`` (module
            docstring).
        score_kind: ``"probability"`` or ``"decision"``; picks the default grid.
        grid: candidate thresholds for ``"grid"`` (and for ``fallback="grid"``); default the paper's.
        k: labels per document for ``"top-k"``; None tunes it in ``1..max_k``.
        min_positives: per-label: labels with fewer validation positives use the fallback threshold.
        fallback: per-label: how the global fallback threshold is found.
        max_k: top-k with ``k=None``: largest ``k`` tried; default ``ceil(3 × mean labels per
            document)``, at least 1, at most ``C``.
        at_least_one: give a document with no label above threshold its top-scoring label (the
            thresholds are tuned without this rule; ``validation_micro_f1`` is measured with it).
        value: ``"fixed"``: the threshold (None: :data:`FIXED_DEFAULTS` of ``score_kind``).

    Returns:
        The tuned :class:`Thresholds` (with the validation micro-F1 they reach).

    Raises:
        ConfigError: on an unknown method, score kind or a bad option value; ``"per-label-cv"`` and
            ``"micromacro-cv"``, which need out-of-fold training scores (:func:`tune_thresholds_cv`,
            :func:`~mlbalance.evaluation.micromacro.tune_thresholds_micromacro`).
        DataError: on malformed scores/labels, or validation labels with no positive at all
            (nothing to tune on) for the threshold methods.
    """
    if method in CV_METHODS:
        function = "tune_thresholds_cv" if method == "per-label-cv" else "tune_thresholds_micromacro"
        raise ConfigError(
            f"method {method!r} tunes on out-of-fold training scores: use {function}(), "
            f"or mlbalance.train(..., threshold={method!r}) which computes them"
        )
    if not isinstance(at_least_one, (bool, np.bool_)):
        raise ConfigError(f"`at_least_one` must be true or false, got {at_least_one!r}")
    if value is not None and method != "fixed":
        raise ConfigError(f"`value` applies only to method 'fixed', got method {method!r}")
    out = _tune(scores_val, y_val, method, score_kind, grid, k, min_positives, fallback, max_k, value)
    if not at_least_one or out.method == "top-k":
        return out
    s = _core.as_scores(scores_val, "scores_val")
    y = _core.as_binary_csr(y_val, "y_val", shape=s.shape)
    with_top = dataclasses.replace(out, at_least_one=True)
    return dataclasses.replace(with_top, validation_micro_f1=micro_f1_of(with_top, s, y))


def _tune(
    scores_val: np.ndarray,
    y_val: sp.spmatrix | np.ndarray,
    method: ThresholdMethod,
    score_kind: ScoreKind,
    grid: Any,
    k: int | None,
    min_positives: int,
    fallback: str,
    max_k: int | None,
    value: float | None = None,
) -> Thresholds:
    """:func:`tune_thresholds` without the ``at_least_one`` rule."""
    if method not in METHODS:
        raise ConfigError(f"`method` must be one of {METHODS}, got {method!r}")
    if score_kind not in SCORE_KINDS:
        raise ConfigError(f"`score_kind` must be one of {SCORE_KINDS}, got {score_kind!r}")
    if fallback not in ("global-optimal", "grid"):
        raise ConfigError(f"`fallback` must be one of ('global-optimal', 'grid'), got {fallback!r}")
    if (
        isinstance(min_positives, bool)
        or not isinstance(min_positives, (int, np.integer))
        or min_positives < 1
    ):
        raise ConfigError(f"`min_positives` must be an integer >= 1, got {min_positives!r}")
    s = _core.as_scores(scores_val, "scores_val")
    y = _core.as_binary_csr(y_val, "y_val", shape=s.shape)
    if s.shape[0] == 0:
        raise DataError("`scores_val` has no documents: thresholds cannot be tuned")

    if method == "fixed":
        chosen = FIXED_DEFAULTS[score_kind] if value is None else _check_fixed_value(value)
        out = Thresholds("fixed", value=chosen, score_kind=score_kind)
        return dataclasses.replace(out, validation_micro_f1=micro_f1_of(out, s, y))
    if method == "top-k":
        check_top_k(k, s.shape[1])
        if k is not None:
            out = Thresholds("top-k", k=k, score_kind=score_kind)
            micro = micro_f1_of(out, s, y)
            return Thresholds("top-k", k=out.k, score_kind=score_kind, validation_micro_f1=micro)
        return _tune_top_k(s, y, max_k, score_kind)

    if y.nnz == 0:
        raise DataError("`y_val` has no positive label: a threshold cannot be tuned on it")
    grid_arr = _check_grid(grid, score_kind) if (method == "grid" or fallback == "grid") else None
    if method == "grid":
        value, f1 = _tune_grid(s, y, grid_arr)  # type: ignore[arg-type]
        return Thresholds("grid", value=value, score_kind=score_kind, validation_micro_f1=f1)
    if method == "global-optimal":
        value, f1 = global_optimal_threshold(s, y)
        return Thresholds("global-optimal", value=value, score_kind=score_kind, validation_micro_f1=f1)

    if fallback == "grid":
        global_value, _ = _tune_grid(s, y, grid_arr)  # type: ignore[arg-type]
    else:
        global_value, _ = global_optimal_threshold(s, y)
    per_label, n_fallback = _per_label_optimal(s, y, int(min_positives), global_value)
    logger.info(
        "per-label thresholds: %d of %d labels have < %d validation positives and use the %s threshold %g",
        n_fallback,
        s.shape[1],
        min_positives,
        fallback,
        global_value,
    )
    out = Thresholds("per-label", per_label=per_label, score_kind=score_kind)
    return Thresholds(
        "per-label", per_label=per_label, score_kind=score_kind, validation_micro_f1=micro_f1_of(out, s, y)
    )


def tune_thresholds_cv(
    scores_oof: np.ndarray,
    y_train: sp.spmatrix | np.ndarray,
    scores_val: np.ndarray,
    y_val: sp.spmatrix | np.ndarray,
    score_kind: ScoreKind = "probability",
    *,
    fbr: float | None = None,
    fallback: Literal["highest", "highest-oof", "grid"] = "highest",
    grid: np.ndarray | list[float] | tuple[float, ...] | None = None,
    at_least_one: bool = False,
) -> Thresholds:
    """Per-label thresholds tuned on out-of-fold training scores (method ``"per-label-cv"``).

    Each label's threshold maximises its F1 on ``scores_oof`` (exact, midpoints as for
    ``"per-label"``). A label with no training positive is never predicted (threshold :data:`NEVER`).
    A label whose out-of-fold F1 there is below ``fbr``, and a label that its threshold would predict
    on more than :data:`RATE_GUARD` × (its training rate × n_val + 1) validation documents (the
    out-of-fold models, fitted on part of the data, can score a rare label on another scale than the
    final model: seen with focal-type losses) take the ``fallback`` threshold instead:

    - ``"highest"`` (default): just above the label's highest **validation** score, so the label is
      predicted only for a document that scores higher than every validation document. This is the
      SCutFBR.1 rule measured on the final model's own scores, so it stays right when the
      out-of-fold models' scores are on another scale (a network trained on fewer documents).
    - ``"highest-oof"``: just above the label's highest out-of-fold score (SCutFBR.1 as LibMultiLabel
      applies it; suits models whose scores keep their scale across fits, such as the SVM).
    - ``"grid"``: the global grid threshold tuned on validation.

    Args:
        scores_oof: ``(n_train, C)`` out-of-fold scores of the training documents
            (:func:`mlbalance.training.out_of_fold_scores`).
        y_train: the training labels, same shape.
        scores_val: ``(n_val, C)`` validation scores of the final model.
        y_val: the validation labels, same shape.
        score_kind: ``"probability"`` or ``"decision"``; picks the default grid.
        fbr: the F1 below which a label takes the fallback, in [0, 1]; None picks the value of
            :data:`FBR_CANDIDATES` with the best validation macro-F1 (with ``"highest"``, each fifth
            of validation predicted with the fallback of the other four fifths; ties: best micro-F1,
            then the smallest value).
        fallback: ``"highest"``, ``"highest-oof"`` or ``"grid"`` (above).
        grid: candidate global thresholds for ``fallback="grid"`` (default the paper's grid).
        at_least_one: as for :func:`tune_thresholds`.

    Returns:
        :class:`Thresholds` with method ``"per-label-cv"``, the chosen ``fbr`` and the validation
        micro-F1 (``value`` holds the global grid threshold with ``fallback="grid"``, else None).

    Raises:
        ConfigError: a bad option value.
        DataError: malformed scores/labels, or validation labels with no positive.
    """
    if fallback not in ("highest", "highest-oof", "grid"):
        raise ConfigError(f"`fallback` must be one of ('highest', 'highest-oof', 'grid'), got {fallback!r}")
    if fbr is not None and (isinstance(fbr, bool) or not isinstance(fbr, (int, float)) or not 0 <= fbr <= 1):
        raise ConfigError(f"`fbr` must be a number in [0, 1] or None, got {fbr!r}")
    s_oof, y_oof, s_val, y_v = oof_inputs(scores_oof, y_train, scores_val, y_val, score_kind, at_least_one)
    if y_v.nnz == 0:
        raise DataError("`y_val` has no positive label: a threshold cannot be tuned on it")
    if fallback == "grid":
        value: float | None = _tune_grid(s_val, y_v, _check_grid(grid, score_kind))[0]
    else:
        value = None
    per_label, _ = _per_label_optimal(s_oof, y_oof, 1, 0.0)
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
            fall = just_above_highest(s_oof if fallback == "highest-oof" else scores)
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
            at_least_one=bool(at_least_one),
            fbr=candidate,
        )

    if fbr is not None:
        chosen = thresholds_at(float(fbr), rule_for(s_val))
    else:
        chosen = _choose_fbr(rule_for, thresholds_at, s_val, y_v, cross_fit=fallback == "highest")
    chosen = dataclasses.replace(chosen, validation_micro_f1=micro_f1_of(chosen, s_val, y_v))
    logger.info(
        "per-label-cv thresholds: fbr %g; %d of %d labels take the %s fallback",
        chosen.fbr,
        int(np.sum(chosen.per_label != per_label)),
        oof_f1.size,
        fallback,
    )
    return chosen


def oof_inputs(
    scores_oof: np.ndarray,
    y_train: sp.spmatrix | np.ndarray,
    scores_val: np.ndarray,
    y_val: sp.spmatrix | np.ndarray,
    score_kind: str,
    at_least_one: Any,
) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray, sp.csr_matrix]:
    """The checked inputs of the out-of-fold methods: scores and binary CSR labels, same label count."""
    if score_kind not in SCORE_KINDS:
        raise ConfigError(f"`score_kind` must be one of {SCORE_KINDS}, got {score_kind!r}")
    if not isinstance(at_least_one, (bool, np.bool_)):
        raise ConfigError(f"`at_least_one` must be true or false, got {at_least_one!r}")
    s_oof = _core.as_scores(scores_oof, "scores_oof")
    y_oof = _core.as_binary_csr(y_train, "y_train", shape=s_oof.shape)
    s_val = _core.as_scores(scores_val, "scores_val")
    y_v = _core.as_binary_csr(y_val, "y_val", shape=s_val.shape)
    if s_oof.shape[1] != s_val.shape[1]:
        raise DataError(
            f"the out-of-fold scores have {s_oof.shape[1]} labels but the validation scores {s_val.shape[1]}"
        )
    return s_oof, y_oof, s_val, y_v


def just_above_highest(scores: np.ndarray) -> np.ndarray:
    """Per label, a threshold just above its highest score (SCutFBR.1's fallback), as float64."""
    highest = scores.max(axis=0)
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


def _with_top_label(pred: sp.csr_matrix, s: np.ndarray) -> sp.csr_matrix:
    """``pred`` with each empty row given the column of its highest score."""
    empty = np.flatnonzero(np.diff(pred.indptr) == 0)
    if empty.size == 0:
        return pred
    top = sp.csr_matrix(
        (np.ones(empty.size, dtype=np.float32), (empty, s[empty].argmax(axis=1))), shape=pred.shape
    )
    out = (pred + top).tocsr()
    out.sort_indices()
    return out


def micro_f1_of(thresholds: Thresholds, s: np.ndarray, y: sp.csr_matrix) -> float:
    """Micro-F1 of ``thresholds`` applied to checked scores ``s`` against binary CSR labels ``y``."""
    counts = _core.label_counts(y, thresholds._predict(s))
    return _core.reduce_counts(
        counts.tp.sum(keepdims=True), counts.fp.sum(keepdims=True), counts.fn.sum(keepdims=True)
    )["micro_f1"]  # type: ignore[return-value]


def _check_fixed_value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ConfigError(f"the fixed threshold must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ConfigError(f"the fixed threshold must be finite, got {value!r}")
    return float(np.float32(value))  # exactly representable in float32 (module docstring)


def _check_grid(grid: Any, score_kind: str) -> np.ndarray:
    try:
        arr = np.asarray(PAPER_GRIDS[score_kind] if grid is None else grid, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        arr = np.array([np.nan])
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ConfigError(f"`grid` must be a non-empty sequence of finite numbers, got {grid!r}")
    return np.unique(arr)


def _tune_grid(s: np.ndarray, y: sp.csr_matrix, grid: np.ndarray) -> tuple[float, float]:
    """The grid value with the highest micro-F1 (first, i.e. lowest, on ties) and that F1."""
    f1 = grid_micro_f1(s, y, grid)
    best = int(np.argmax(f1))
    return float(grid[best]), float(f1[best])


def grid_micro_f1(scores: np.ndarray, y: sp.csr_matrix, grid: np.ndarray) -> np.ndarray:
    """Micro-F1 over all labels at each threshold of an ascending grid (exact counts, one pass)."""
    grid_t = grid.astype(scores.dtype)
    n_pos = y.nnz
    hist = np.zeros(grid.size + 1, dtype=np.int64)
    for start, stop in _core.row_chunks(*scores.shape):
        cand = _core.take_at_least(scores[start:stop], grid_t[0])
        if cand.size:
            hist += np.bincount(np.searchsorted(grid_t, cand, side="right"), minlength=grid.size + 1)
    predicted = np.cumsum(hist[::-1])[::-1][1:]
    pos = np.sort(_core.positive_scores(scores, y))
    tp = n_pos - np.searchsorted(pos, grid_t, side="left")
    return 2.0 * tp / np.maximum(predicted + n_pos, 1)


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


def _per_label_optimal(
    s: np.ndarray, y: sp.csr_matrix, min_positives: int, fallback_value: float
) -> tuple[np.ndarray, int]:
    """Per-label F1-optimal thresholds (exact), fallback for labels with few positives.

    Labels are handled in blocks of about :data:`_core.CHUNK_ELEMENTS` scores, which bounds the memory
    of the candidate arrays even when most scores are candidates.
    """
    n_docs, n_labels = s.shape
    thresholds = np.empty(n_labels, dtype=np.float64)
    n_fallback = 0
    for a, b in _core.row_chunks(n_labels, n_docs):  # blocks of columns
        thresholds[a:b], n = _per_label_block(s[:, a:b], y[:, a:b].tocsr(), min_positives, fallback_value)
        n_fallback += n
    return thresholds, n_fallback


def _per_label_block(
    s: np.ndarray, y: sp.csr_matrix, min_positives: int, fallback_value: float
) -> tuple[np.ndarray, int]:
    """:func:`_per_label_optimal` on a block of labels (``s`` may be a column slice).

    A label's F1 is maximal at a threshold equal to one of its positive scores, so only entries at or
    above the label's lowest positive score are candidates; they are sorted by (label, score desc) once.
    """
    y = _core.as_binary_csr(y, "y_val")
    n_labels = s.shape[1]
    runs = label_runs(s, y, min_positives)
    cols, tp, predicted, ends, support = runs.cols, runs.tp, runs.predicted, runs.ends, runs.support
    thresholds = np.full(n_labels, fallback_value, dtype=np.float64)
    if cols.size:
        f1 = 2.0 * tp[ends] / (predicted[ends] + support[cols[ends]])
        # per label: highest F1, ties to the lowest threshold (most predictions)
        pick = np.lexsort((predicted[ends], f1, cols[ends]))
        sorted_cols = cols[ends][pick]
        is_last = np.ones(pick.size, dtype=bool)
        is_last[:-1] = sorted_cols[1:] != sorted_cols[:-1]
        chosen = ends[pick[is_last]]
        thresholds[cols[chosen]] = cut_thresholds(s, runs, chosen)
    return thresholds, int((support < min_positives).sum())


@dataclass(frozen=True)
class LabelRuns:
    """Each label's scores at or above its lowest positive score, sorted by (label, score descending).

    ``cols``/``vals``: the entries; ``tp``/``predicted``: for each entry, the positives and the entries
    of its label scoring at least as high; ``ends``: the indices that close a run of equal (label,
    score) — the cuts a threshold can make; ``support``: positives per label.
    """

    cols: np.ndarray
    vals: np.ndarray
    tp: np.ndarray
    predicted: np.ndarray
    ends: np.ndarray
    support: np.ndarray


def label_runs(s: np.ndarray, y: sp.csr_matrix, min_positives: int = 1) -> LabelRuns:
    """The candidate cuts of every label with at least ``min_positives`` positives (:class:`LabelRuns`).

    A label's F1 (and any score that only gains from true positives) is best at a cut equal to one of
    its positive scores, so only entries at or above the label's lowest positive score are kept.
    """
    n_docs, n_labels = s.shape
    pos_rows = _core.row_of_entries(y)
    pos_cols = y.indices.astype(np.int64)
    support = np.bincount(pos_cols, minlength=n_labels)
    min_pos = np.full(n_labels, np.inf, dtype=s.dtype)
    np.minimum.at(min_pos, pos_cols, s[pos_rows, pos_cols])
    min_pos[support < min_positives] = np.inf  # nothing to look at for these labels

    rows_l, cols_l, vals_l = [], [], []
    for a, b in _core.row_chunks(n_docs, n_labels):
        chunk = s[a:b]
        r, c = _core.nonzero_2d(chunk >= min_pos)
        rows_l.append(r + a)
        cols_l.append(c)
        vals_l.append(chunk[r, c])
    rows = np.concatenate(rows_l).astype(np.int64)
    cols = np.concatenate(cols_l).astype(np.int64)
    vals = np.concatenate(vals_l)
    is_pos = _core.is_member(
        _core.entry_keys(rows, cols, n_labels), np.sort(_core.entry_keys(pos_rows, pos_cols, n_labels))
    )
    order = np.lexsort((-vals.astype(np.float64), cols))
    cols, vals, is_pos = cols[order], vals[order], is_pos[order]
    if cols.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return LabelRuns(cols, vals, empty, empty, empty, support)
    col_start = np.searchsorted(cols, np.arange(n_labels), side="left")
    predicted = np.arange(cols.size) - col_start[cols] + 1
    cum_pos = np.cumsum(is_pos)
    tp = cum_pos - (cum_pos[col_start[cols]] - is_pos[col_start[cols]])
    last = np.ones(cols.size, dtype=bool)  # last entry of a run of equal (label, score)
    last[:-1] = (cols[1:] != cols[:-1]) | (vals[1:] != vals[:-1])
    return LabelRuns(cols, vals, tp, predicted, np.flatnonzero(last), support)


def cut_thresholds(s: np.ndarray, runs: LabelRuns, at: np.ndarray) -> np.ndarray:
    """Thresholds that cut each label's run after the entries ``at`` (indices into ``runs``): between
    the entry's score and the label's next lower score (looked up in ``s`` below the candidates)."""
    cols, vals = runs.cols, runs.vals
    labels = cols[at]
    upper = vals[at].astype(np.float64)
    nxt = np.minimum(at + 1, max(cols.size - 1, 0))
    has_next = (at + 1 < cols.size) & (cols[nxt] == labels)
    lower = np.where(has_next, vals[nxt].astype(np.float64), -np.inf)
    # a cut at the label's lowest candidate: the next lower score lies outside the candidates
    outside = np.flatnonzero(~has_next)
    lower[outside] = _max_below_per_column(s, labels[outside], upper[outside])
    return _core.thresholds_between(upper, lower, s.dtype)


def _max_below_per_column(s: np.ndarray, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each ``columns[j]``, the largest score strictly below ``values[j]`` (−inf if none)."""
    out = np.full(columns.size, -np.inf)
    if columns.size == 0:
        return out
    limit = values.astype(s.dtype)
    for a, b in _core.row_chunks(s.shape[0], columns.size):
        block = s[a:b, columns]
        block[block >= limit] = -np.inf
        out = np.maximum(out, block.max(axis=0))
    return out


def _top_k_indices(s: np.ndarray, k: int) -> np.ndarray:
    """``(n_docs, min(k, C))`` column indices of the ``k`` highest scores per row, best first.

    Equal scores are ordered by column index (lower first), also at the cut. Candidates are the scores
    above a global cut estimated from a fixed sample (about ``4k`` per row); a row with fewer than
    ``k`` of them finds its own cut, its ``k``-th largest score, with ``np.partition``. Exact either way.
    """
    n_docs, n_labels = s.shape
    k = min(int(k), n_labels)
    out = np.empty((n_docs, k), dtype=np.int64)
    if n_docs == 0 or k == 0:
        return out
    flat = s.reshape(-1) if s.flags.c_contiguous else np.ascontiguousarray(s).reshape(-1)
    sample = flat[np.random.default_rng(0).integers(0, flat.size, size=min(flat.size, 200_000))]
    cut = s.dtype.type(np.quantile(sample, max(0.0, 1.0 - 4.0 * k / n_labels), method="lower"))
    for a, b in _core.row_chunks(n_docs, n_labels):
        chunk = s[a:b]
        rows, cols = _core.nonzero_2d(chunk >= cut)
        short = np.flatnonzero(np.bincount(rows, minlength=b - a) < k)
        if short.size:
            block = chunk[short]
            kth = np.partition(block, n_labels - k, axis=1)[:, n_labels - k]
            r2, c2 = _core.nonzero_2d(block >= kth[:, None])
            keep = ~np.isin(rows, short)
            rows = np.concatenate([rows[keep], short[r2]])
            cols = np.concatenate([cols[keep], c2])
        vals = chunk[rows, cols]
        order = np.lexsort((cols, -vals, rows))
        rows, cols = rows[order], cols[order]
        first = np.searchsorted(rows, np.arange(b - a), side="left")
        rank = np.arange(rows.size) - first[rows]
        out[a:b] = cols[rank < k].reshape(b - a, k)
    return out


def _top_k_csr(s: np.ndarray, k: int) -> sp.csr_matrix:
    n_docs, n_labels = s.shape
    top = np.sort(_top_k_indices(s, k), axis=1)
    kk = top.shape[1]
    return sp.csr_matrix(
        (np.ones(n_docs * kk, dtype=np.float32), top.ravel().astype(np.int32), np.arange(n_docs + 1) * kk),
        shape=(n_docs, n_labels),
    )


def check_top_k(k: int | None, n_labels: int) -> None:
    """``k`` labels per document must exist: at most ``n_labels``.

    Raises:
        ConfigError: ``k`` is over the number of labels.
    """
    if k is not None and not isinstance(k, bool) and isinstance(k, (int, np.integer)) and k > n_labels:
        raise ConfigError(f"top-k: `k` ({k} labels per document) is more than the {n_labels} labels")


def _tune_top_k(s: np.ndarray, y: sp.csr_matrix, max_k: int | None, score_kind: str) -> Thresholds:
    n_docs, n_labels = s.shape
    if max_k is None:
        max_k = max(1, math.ceil(3 * y.nnz / n_docs))
    elif isinstance(max_k, bool) or not isinstance(max_k, (int, np.integer)) or max_k < 1:
        raise ConfigError(f"`max_k` must be an integer >= 1, got {max_k!r}")
    max_k = min(int(max_k), n_labels)
    top = _top_k_indices(s, max_k)
    rows = np.repeat(np.arange(n_docs, dtype=np.int64), max_k)
    pos_keys = np.sort(_core.entry_keys(_core.row_of_entries(y), y.indices, n_labels))
    hit = _core.is_member(_core.entry_keys(rows, top.ravel(), n_labels), pos_keys).reshape(n_docs, max_k)
    tp = np.cumsum(hit.sum(axis=0))
    ks = np.arange(1, max_k + 1)
    f1 = 2.0 * tp / (n_docs * ks + y.nnz)
    best = int(np.argmax(f1))
    return Thresholds("top-k", k=int(ks[best]), score_kind=score_kind, validation_micro_f1=float(f1[best]))  # type: ignore[arg-type]


def _csr_from_row_counts(
    cols: list[np.ndarray], counts: list[np.ndarray], shape: tuple[int, int]
) -> sp.csr_matrix:
    indices = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int32)
    per_row = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(per_row, out=indptr[1:])
    return sp.csr_matrix((np.ones(indices.size, dtype=np.float32), indices, indptr), shape=shape)
