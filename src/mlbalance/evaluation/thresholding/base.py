"""What every thresholding method is: a small frozen object that tunes :class:`Thresholds` on scores.

A method declares, as class data, its registry ``name`` and whether it needs out-of-fold training
scores (``needs_oof``: the pipeline then cross-fits the model first) and, with them, each fold model's
median validation scores (``needs_fold_medians``). Its options are dataclass fields, checked once in
``__post_init__``; :meth:`Thresholder.tune` is the one entry point.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import ConfigError, DataError
from mlbalance.evaluation import _core
from mlbalance.evaluation.thresholds import SCORE_KINDS, ScoreKind, Thresholds, micro_f1_of


@dataclass(frozen=True, eq=False)
class Scored:
    """Scores of one split with its labels, checked: ``scores`` ``(n, C)`` float, ``labels`` binary CSR."""

    scores: np.ndarray
    labels: sp.csr_matrix

    @classmethod
    def checked(
        cls,
        scores: np.ndarray,
        labels: sp.spmatrix | np.ndarray,
        name: str = "scores_val",
        labels_name: str = "y_val",
    ) -> Scored:
        """Validate raw scores and labels (:class:`DataError` naming the argument on a mismatch)."""
        s = _core.as_scores(scores, name)
        return cls(s, _core.as_binary_csr(labels, labels_name, shape=s.shape))

    def require_positives(self, name: str = "y_val") -> None:
        """Raise :class:`DataError` when the labels hold no positive: nothing to tune a threshold on."""
        if self.labels.nnz == 0:
            raise DataError(f"`{name}` has no positive label: a threshold cannot be tuned on it")

    def with_micro_f1(self, thresholds: Thresholds) -> Thresholds:
        """``thresholds`` with the micro-F1 they reach on these scores (as ``validation_micro_f1``)."""
        return dataclasses.replace(
            thresholds, validation_micro_f1=micro_f1_of(thresholds, self.scores, self.labels)
        )


@dataclass(frozen=True, eq=False)
class OutOfFold:
    """Out-of-fold training scores: each training document scored by a model fitted without it.

    Attributes:
        scores: ``(n_train, C)`` scores; ``labels`` the training labels (binary CSR).
        folds: ``(n_train,)`` the fold of each training document.
        validation_medians: ``(folds, C)`` each fold model's median validation score per label, or None.
    """

    scores: np.ndarray
    labels: sp.csr_matrix
    folds: np.ndarray | None = None
    validation_medians: np.ndarray | None = None


@dataclass(frozen=True)
class Thresholder(ABC):
    """Base of the thresholding methods (one subclass per method, registered by ``name``).

    Attributes:
        at_least_one: a document with no score above its threshold gets its top-scoring label
            (thresholds are tuned without the rule; the validation micro-F1 is measured with it).
    """

    name: ClassVar[str]
    needs_oof: ClassVar[bool] = False
    needs_fold_medians: ClassVar[bool] = False

    at_least_one: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.at_least_one, (bool, np.bool_)):
            raise ConfigError(f"`at_least_one` must be true or false, got {self.at_least_one!r}")
        object.__setattr__(self, "at_least_one", bool(self.at_least_one))

    def tune(
        self, val: Scored, oof: OutOfFold | None = None, score_kind: ScoreKind = "probability"
    ) -> Thresholds:
        """The thresholds this method chooses for validation scores ``val`` (and ``oof`` if it needs them).

        Raises:
            ConfigError: an unknown score kind, or no out-of-fold scores for a method that needs them.
            DataError: scores that cannot be tuned on (no documents; no positive label where one is needed).
        """
        if score_kind not in SCORE_KINDS:
            raise ConfigError(f"`score_kind` must be one of {SCORE_KINDS}, got {score_kind!r}")
        if self.needs_oof and oof is None:
            raise ConfigError(f"method {self.name!r} tunes on out-of-fold training scores; none were given")
        if val.scores.shape[0] == 0:
            raise DataError("`scores_val` has no documents: thresholds cannot be tuned")
        out = self._tune(val, oof, score_kind)
        if not self.at_least_one or out.at_least_one or out.k is not None:
            return out
        with_top = dataclasses.replace(out, at_least_one=True)
        return dataclasses.replace(
            with_top, validation_micro_f1=micro_f1_of(with_top, val.scores, val.labels)
        )

    @abstractmethod
    def _tune(self, val: Scored, oof: OutOfFold | None, score_kind: ScoreKind) -> Thresholds:
        """:meth:`tune` on checked inputs, without the ``at_least_one`` rule (or with it, if the
        method's choice depends on it)."""
