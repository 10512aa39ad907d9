"""Thresholds: how scores become 0/1 predictions — what a run stores and the one place that applies it.

The methods that tune them live in :mod:`mlbalance.evaluation.thresholding`, one module each, and are
registered by name in :data:`METHOD_TABLE`:

- ``"fixed"`` — one given threshold (by default the scores' decision point, :data:`FIXED_DEFAULTS`);
- ``"grid"`` — the paper's: the global threshold of a grid (:data:`PAPER_GRIDS`) with the best
  validation micro-F1;
- ``"global-optimal"`` — the exact global threshold with the best validation micro-F1;
- ``"global-macro"`` — the global threshold with the best validation macro-F1;
- ``"per-label"`` — each label's F1-optimal validation threshold (a global one for rare labels);
- ``"top-k"`` — the ``k`` highest-scoring labels of each document;
- ``"per-label-cv"`` — per-label thresholds on **out-of-fold training scores** with SCutFBR.1's
  fallback (``fbr``, :data:`FBR_CANDIDATES`);
- ``"micromacro-cv"`` — LibMultiLabel's micro+macro thresholding on the same out-of-fold scores.

Any method but top-k may add ``at_least_one``: a document with no score above its threshold gets its
top-scoring label (for corpora where every document has a label; thresholds are tuned without it).

Prediction rule: ``score >= threshold``, compared in the scores' dtype (a stored threshold is a value
exactly representable in float32, so float32 and float64 scores give the same predictions).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import ConfigError, DataError
from mlbalance.evaluation import _core

logger = logging.getLogger(__name__)

#: A thresholding method's name: one of :data:`METHODS`.
ThresholdMethod = str
ScoreKind = Literal["probability", "decision"]

#: The thresholding methods, registered by name: the module of :mod:`mlbalance.evaluation.thresholding`
#: and the class that tunes them, and the form a stored :class:`Thresholds` of the method takes
#: (one global ``value``, a ``per_label`` array, or ``k`` labels per document). Adding a method is
#: one module there plus one line here.
METHOD_TABLE: dict[str, tuple[str, str, str]] = {
    "grid": ("grid", "Grid", "value"),
    "global-optimal": ("global_optimal", "GlobalOptimal", "value"),
    "global-macro": ("global_macro", "GlobalMacro", "value"),
    "per-label": ("per_label", "PerLabel", "per_label"),
    "top-k": ("top_k", "TopK", "k"),
    "per-label-cv": ("per_label_cv", "PerLabelCV", "per_label"),
    "micromacro-cv": ("micromacro_cv", "MicroMacroCV", "per_label"),
    "fixed": ("fixed", "Fixed", "value"),
}
#: Every registered method (:mod:`mlbalance.evaluation.thresholding`).
METHODS: tuple[str, ...] = tuple(METHOD_TABLE)
#: The methods that hold one global threshold ``value``.
GLOBAL_METHODS: tuple[str, ...] = tuple(m for m, (*_, form) in METHOD_TABLE.items() if form == "value")
#: ``"fixed"``'s threshold when none is given: the scores' decision point (σ(0) = 0.5; 0).
FIXED_DEFAULTS: dict[str, float] = {"probability": 0.5, "decision": 0.0}
#: The methods that hold one threshold per label.
PER_LABEL_METHODS: tuple[str, ...] = tuple(m for m, (*_, form) in METHOD_TABLE.items() if form == "per_label")
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
        if sp.issparse(s):
            return _predict_stored(s, thr, self.at_least_one)
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


def _predict_stored(s: sp.spmatrix, thr: np.ndarray, at_least_one: bool) -> sp.csr_matrix:
    """The predictions of thresholds ``thr`` (per label, or one) on sparse scores: a score not stored
    is never predicted (:class:`~mlbalance.evaluation.thresholding.base.OutOfFold`)."""
    if at_least_one:
        raise ValueError("the at-least-one rule needs every score: it is not applied to sparse scores")
    csr = sp.csr_matrix(s)
    keep = csr.data >= (thr[csr.indices] if thr.ndim else thr)
    per_row = np.bincount(_core.row_of_entries(csr)[keep], minlength=csr.shape[0])
    return _csr_from_row_counts([csr.indices[keep].astype(np.int32)], [per_row], csr.shape)


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


def _csr_from_row_counts(
    cols: list[np.ndarray], counts: list[np.ndarray], shape: tuple[int, int]
) -> sp.csr_matrix:
    indices = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int32)
    per_row = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(per_row, out=indptr[1:])
    return sp.csr_matrix((np.ones(indices.size, dtype=np.float32), indices, indptr), shape=shape)
