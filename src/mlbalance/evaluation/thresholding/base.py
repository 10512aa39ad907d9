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
from mlbalance.evaluation.thresholds import SCORE_KINDS, ScoreKind, Thresholds, _top_k_indices, micro_f1_of


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
        scores: ``(n_train, C)`` scores, dense, or a CSR matrix of the scores kept by
            :func:`keep_top_scores` (each document's highest scores and the scores of its labels): a
            score not stored counts as below every threshold (the out-of-fold models predict from their
            top lists), so at many labels the scores take ``n_train × (k + labels per document)``
            entries instead of ``n_train × C``.
        labels: the training labels (binary CSR).
        folds: ``(n_train,)`` the fold of each training document.
        validation_medians: ``(folds, C)`` each fold model's median validation score per label, or None.
        unstored_max: with sparse ``scores``, ``(folds, C)``: in each fold (row ``k``: the ``k``-th of
            ``np.unique(folds)``), each label's highest score that is not stored (−inf where all are).
            It is where a label's lowest cut ends (the midpoint to the next lower score) and, with the
            stored ones, the label's highest score.
    """

    scores: np.ndarray | sp.csr_matrix
    labels: sp.csr_matrix
    folds: np.ndarray | None = None
    validation_medians: np.ndarray | None = None
    unstored_max: np.ndarray | None = None


def keep_top_scores(scores: np.ndarray, labels: sp.csr_matrix, k: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Each row's ``k`` highest scores and the scores of its positive labels, as CSR, and each label's
    highest score not kept (float64 ``(C,)``, −inf where every score of the label is kept). What
    :class:`OutOfFold` holds when dense scores would not fit in memory."""
    n_docs, n_labels = scores.shape
    if k >= n_labels:  # every score, zeros included (a CSR built from the array would drop them)
        indptr = np.arange(0, n_docs * n_labels + 1, n_labels, dtype=np.int64)
        indices = np.tile(np.arange(n_labels, dtype=np.int32), n_docs)
        kept = sp.csr_matrix((np.ascontiguousarray(scores).ravel(), indices, indptr), shape=scores.shape)
        return kept, np.full(n_labels, -np.inf)
    top = _top_k_indices(scores, k)
    rows = np.concatenate([np.repeat(np.arange(n_docs), k), _core.row_of_entries(labels)])
    cols = np.concatenate([top.ravel(), labels.indices.astype(np.int64)])
    keys = np.unique(_core.entry_keys(rows, cols, n_labels))
    rows, cols = np.divmod(keys, n_labels)
    kept = sp.csr_matrix((scores[rows, cols], (rows, cols)), shape=scores.shape)
    kept.sort_indices()
    rest = np.array(scores)  # in the scores' own dtype: a float64 copy would double the block
    rest[rows, cols] = -np.inf
    return kept, rest.max(axis=0).astype(np.float64) if n_docs else np.full(n_labels, -np.inf)


def keep_top_scores_by_fold(
    scores: np.ndarray, labels: sp.csr_matrix, folds: np.ndarray, k: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    """:func:`keep_top_scores` of dense out-of-fold scores, fold by fold: the kept scores (rows as
    given) and the ``(folds, C)`` highest scores not kept (row ``i``: the ``i``-th of
    ``np.unique(folds)``), as :class:`OutOfFold` takes them."""
    fold_ids = np.unique(folds)
    unstored = np.full((fold_ids.size, scores.shape[1]), -np.inf)
    parts = []
    for i, fold in enumerate(fold_ids):
        rows = np.flatnonzero(folds == fold)
        block, unstored[i] = keep_top_scores(scores[rows], labels[rows], k)
        parts.append((rows, block))
    order = np.argsort(np.concatenate([rows for rows, _ in parts]), kind="stable")
    kept = sp.vstack([block for _, block in parts], format="csr")[order]
    return kept, unstored


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
