"""Thresholding methods, one module each, registered by name in
:data:`~mlbalance.evaluation.thresholds.METHOD_TABLE`.

>>> from mlbalance.evaluation.thresholding import get_thresholder, Scored
>>> thresholds = get_thresholder("global-optimal").tune(Scored.checked(s_val, y_val))  # doctest: +SKIP

A method is a :class:`Thresholder`: its options are its fields, ``needs_oof`` says whether it tunes on
out-of-fold training scores, and :meth:`Thresholder.tune` returns the
:class:`~mlbalance.evaluation.thresholds.Thresholds` a run stores. :func:`tune_thresholds`,
:func:`tune_thresholds_cv` and :func:`tune_thresholds_micromacro` are the same methods as plain
functions of arrays.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import ConfigError, DataError
from mlbalance.evaluation.thresholding.base import OutOfFold, Scored, Thresholder
from mlbalance.evaluation.thresholds import METHOD_TABLE, METHODS, ScoreKind, ThresholdMethod, Thresholds

__all__ = [
    "PAPER_CORPORA",
    "OutOfFold",
    "Scored",
    "Thresholder",
    "default_method",
    "get_thresholder",
    "option_names",
    "thresholder_class",
    "tune_thresholds",
    "tune_thresholds_cv",
    "tune_thresholds_micromacro",
]


#: Corpora whose default thresholding is the paper's grid: the paper's two and the synthetic stand-ins
#: (names beginning ``synthetic:``).
PAPER_CORPORA: tuple[str, ...] = ("reuters21578", "bioasq")


def default_method(corpus_name: str | None) -> str:
    """What thresholding ``"auto"`` means for corpus ``corpus_name``: ``"grid"`` (the paper's 0.40–0.60)
    on the paper's corpora and the synthetic ones, where it was set; ``"global-optimal"`` (the best
    global threshold on validation) on any other, whose best threshold can lie far outside the grid.
    Without a corpus (checking settings before one is loaded): ``"grid"``."""
    if corpus_name is None or corpus_name in PAPER_CORPORA or corpus_name.startswith("synthetic:"):
        return "grid"
    return "global-optimal"


def thresholder_class(method: str) -> type[Thresholder]:
    """The class of thresholding ``method`` (one of :data:`~mlbalance.evaluation.thresholds.METHODS`).

    Raises:
        ConfigError: an unknown method.
    """
    if method not in METHOD_TABLE:
        raise ConfigError(f"`method` must be one of {METHODS}, got {method!r}")
    module, class_name, _ = METHOD_TABLE[method]
    return getattr(importlib.import_module(f"{__name__}.{module}"), class_name)


def option_names(method: str) -> tuple[str, ...]:
    """The options (dataclass fields) thresholding ``method`` takes."""
    return tuple(f.name for f in dataclasses.fields(thresholder_class(method)))


def get_thresholder(method: str, **options: Any) -> Thresholder:
    """A :class:`Thresholder` of ``method`` with ``options`` (checked here, before any scores exist).

    Raises:
        ConfigError: an unknown method, an option it does not take, or a bad option value.
    """
    cls = thresholder_class(method)
    unknown = sorted(set(options) - set(option_names(method)))
    if unknown:
        raise ConfigError(
            f"threshold {method!r} takes no option {', '.join(map(repr, unknown))}; "
            f"its options are: {', '.join(option_names(method))}"
        )
    return cls(**options)


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
        method: ``"grid"``, ``"global-optimal"``, ``"per-label"``, ``"top-k"`` or ``"fixed"`` (the
            methods' modules).
        score_kind: ``"probability"`` or ``"decision"``; picks the default grid.
        grid: candidate thresholds for ``"grid"`` (and for ``fallback="grid"``); default the paper's.
        k: labels per document for ``"top-k"``; None tunes it in ``1..max_k``.
        min_positives: per-label: labels with fewer validation positives use the fallback threshold.
        fallback: per-label: how the global fallback threshold is found.
        max_k: top-k with ``k=None``: largest ``k`` tried; default ``ceil(3 × mean labels per
            document)``, at least 1, at most ``C``.
        at_least_one: give a document with no label above threshold its top-scoring label (the
            thresholds are tuned without this rule; ``validation_micro_f1`` is measured with it).
        value: ``"fixed"``: the threshold (None: ``FIXED_DEFAULTS`` of ``score_kind``).

    Returns:
        The tuned :class:`Thresholds` (with the validation micro-F1 they reach).

    Raises:
        ConfigError: on an unknown method, score kind or a bad option value; ``"per-label-cv"`` and
            ``"micromacro-cv"``, which need out-of-fold training scores (:func:`tune_thresholds_cv`,
            :func:`tune_thresholds_micromacro`).
        DataError: on malformed scores/labels, or validation labels with no positive at all
            (nothing to tune on) for the threshold methods.
    """
    cls = thresholder_class(method)
    if cls.needs_oof:
        function = "tune_thresholds_cv" if method == "per-label-cv" else "tune_thresholds_micromacro"
        raise ConfigError(
            f"method {method!r} tunes on out-of-fold training scores: use {function}(), "
            f"or mlbalance.train(..., threshold={method!r}) which computes them"
        )
    if value is not None and method != "fixed":
        raise ConfigError(f"`value` applies only to method 'fixed', got method {method!r}")
    given = {"grid": grid, "k": k, "min_positives": min_positives, "fallback": fallback, "max_k": max_k,
             "value": value, "at_least_one": at_least_one}  # fmt: skip
    thresholder = cls(**{name: given[name] for name in option_names(method) if name in given})
    return thresholder.tune(Scored.checked(scores_val, y_val), None, score_kind)


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
    """``"per-label-cv"`` thresholds (:class:`~.per_label_cv.PerLabelCV`) from arrays.

    Args:
        scores_oof: ``(n_train, C)`` out-of-fold scores of the training documents
            (:func:`mlbalance.out_of_fold.out_of_fold_scores`).
        y_train: the training labels, same shape.
        scores_val: ``(n_val, C)`` validation scores of the final model.
        y_val: the validation labels, same shape.
        score_kind: ``"probability"`` or ``"decision"``; picks the default grid.
        fbr: the F1 below which a label takes the fallback, in [0, 1]; None picks it on validation.
        fallback: ``"highest"``, ``"highest-oof"`` or ``"grid"``.
        grid: candidate global thresholds for ``fallback="grid"`` (default the paper's grid).
        at_least_one: as for :func:`tune_thresholds`.

    Returns:
        :class:`Thresholds` with method ``"per-label-cv"``, the chosen ``fbr`` and the validation
        micro-F1 (``value`` holds the global grid threshold with ``fallback="grid"``, else None).

    Raises:
        ConfigError: a bad option value.
        DataError: malformed scores/labels, or validation labels with no positive.
    """
    thresholder = get_thresholder(
        "per-label-cv", fbr=fbr, fallback=fallback, grid=grid, at_least_one=at_least_one
    )
    val, oof = _checked_cv_inputs(scores_oof, y_train, scores_val, y_val, score_kind)
    return thresholder.tune(val, oof, score_kind)


def tune_thresholds_micromacro(
    scores_oof: np.ndarray,
    y_train: sp.spmatrix | np.ndarray,
    folds: np.ndarray,
    scores_val: np.ndarray,
    y_val: sp.spmatrix | np.ndarray,
    score_kind: ScoreKind = "probability",
    *,
    at_least_one: bool = False,
    fold_validation_medians: np.ndarray | None = None,
) -> Thresholds:
    """``"micromacro-cv"`` thresholds (:class:`~.micromacro_cv.MicroMacroCV`) from arrays.

    Args:
        scores_oof: ``(n_train, C)`` out-of-fold scores (:func:`mlbalance.out_of_fold.out_of_fold_scores`).
        y_train: the training labels, same shape.
        folds: ``(n_train,)`` the fold of each training document, as used for ``scores_oof``
            (:func:`mlbalance.out_of_fold.fold_assignment`).
        scores_val: ``(n_val, C)`` validation scores of the final model.
        y_val: the validation labels, same shape.
        score_kind: ``"probability"`` or ``"decision"`` (stored with the thresholds).
        at_least_one: a document with no label above threshold gets its top label.
        fold_validation_medians: ``(n_folds, C)``, each fold model's per-label median score on the
            validation documents, folds in the order of their ids
            (:attr:`mlbalance.out_of_fold.CrossFit.validation_medians`); None averages the cuts as
            they are, as LibMultiLabel does.

    Returns:
        :class:`~mlbalance.evaluation.Thresholds` with method ``"micromacro-cv"``.

    Raises:
        ConfigError: a bad option value.
        DataError: malformed scores, labels or folds.
    """
    thresholder = get_thresholder("micromacro-cv", at_least_one=at_least_one)
    val, oof = _checked_cv_inputs(scores_oof, y_train, scores_val, y_val, score_kind)
    oof = dataclasses.replace(oof, folds=folds, validation_medians=fold_validation_medians)
    return thresholder.tune(val, oof, score_kind)


def _checked_cv_inputs(
    scores_oof: np.ndarray,
    y_train: sp.spmatrix | np.ndarray,
    scores_val: np.ndarray,
    y_val: sp.spmatrix | np.ndarray,
    score_kind: str,
) -> tuple[Scored, OutOfFold]:
    """The checked inputs of the out-of-fold methods (same label count on both sides)."""
    train = Scored.checked(scores_oof, y_train, "scores_oof", "y_train")
    val = Scored.checked(scores_val, y_val)
    if train.scores.shape[1] != val.scores.shape[1]:
        raise DataError(
            f"the out-of-fold scores have {train.scores.shape[1]} labels but the validation scores "
            f"{val.scores.shape[1]}"
        )
    return val, OutOfFold(train.scores, train.labels)
