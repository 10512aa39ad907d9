"""Shared internals of evaluation: input validation, chunked passes over scores, counting.

The shape follows torchmetrics: validate → format (binary CSR labels) → count tp/fp/fn per label once →
reduce over any label subset. Scores may be large dense matrices (5,000 × 18,211 float32 is 364 MB),
so every pass over them is done in row chunks that bound the temporaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import DataError

#: Elements per row chunk in passes over a dense score matrix (~16 MB of float32, 4 MB of bool).
CHUNK_ELEMENTS = 1 << 22


def as_scores(scores: np.ndarray, name: str = "scores") -> np.ndarray:
    """Validate a dense 2-D score matrix; floats are kept as they are, other numbers become float32.

    Raises:
        DataError: if ``scores`` is sparse, not 2-D, or holds NaN or infinite values.
    """
    if sp.issparse(scores):
        raise DataError(f"`{name}` must be a dense array of shape (n_docs, n_labels), got a sparse matrix")
    arr = np.asarray(scores)
    if arr.ndim != 2:
        raise DataError(f"`{name}` must be 2-D (n_docs, n_labels), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise DataError(f"`{name}` must hold numbers, got dtype {arr.dtype}")
        arr = arr.astype(np.float32)
    # one cheap pass: the sum is finite unless a value is NaN/inf (or the sum overflows: then look closer)
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum(dtype=arr.dtype) if arr.size else 0.0
    if not np.isfinite(total):
        for start, stop in row_chunks(*arr.shape):
            bad = np.argwhere(~np.isfinite(arr[start:stop]))
            if bad.size:
                r, c = bad[0]
                raise DataError(
                    f"`{name}` must be finite, got {arr[start + r, c]} at document {start + r}, label {c}"
                )
    return arr


def take_at_least(chunk: np.ndarray, value: Any) -> np.ndarray:
    """The entries of ``chunk >= value`` in row-major order (faster than boolean indexing)."""
    flat = chunk.reshape(-1)
    return flat[np.flatnonzero(flat >= value)]


def as_binary_csr(
    y: sp.spmatrix | np.ndarray, name: str = "y_true", shape: tuple[int, int] | None = None
) -> sp.csr_matrix:
    """A canonical binary CSR matrix (float32 ones, sorted indices, no duplicates or explicit zeros).

    Dense and sparse inputs give the same matrix. Values must be 0 or 1 (booleans are accepted).

    Raises:
        DataError: on a wrong shape or a value other than 0/1, naming the document and label.
    """
    if sp.issparse(y):
        csr = sp.csr_matrix(y, copy=True)
        if csr.ndim != 2:
            raise DataError(f"`{name}` must be 2-D, got shape {csr.shape}")
        csr.sum_duplicates()
        csr.eliminate_zeros()
        bad = np.flatnonzero(csr.data != 1)
        if bad.size:
            i = bad[0]
            row = int(np.searchsorted(csr.indptr, i, side="right") - 1)
            raise DataError(
                f"`{name}` must be binary (0/1), got {csr.data[i]} at document {row}, label {csr.indices[i]}"
            )
    else:
        arr = np.asarray(y)
        if arr.ndim != 2:
            raise DataError(f"`{name}` must be 2-D (n_docs, n_labels), got shape {arr.shape}")
        if arr.dtype != np.bool_:
            nonzero = arr != 0
            bad = nonzero & (arr != 1)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise DataError(f"`{name}` must be binary (0/1), got {arr[r, c]} at document {r}, label {c}")
            arr = nonzero
        csr = sp.csr_matrix(arr)
    csr = sp.csr_matrix(
        (np.ones(csr.nnz, dtype=np.float32), csr.indices.astype(np.int32), csr.indptr.astype(np.int64)),
        shape=csr.shape,
    )
    csr.has_sorted_indices = False
    csr.sort_indices()
    if shape is not None and csr.shape != tuple(shape):
        raise DataError(f"`{name}` has shape {csr.shape} but the scores have shape {tuple(shape)}")
    return csr


def row_chunks(n_rows: int, n_cols: int, budget: int | None = None) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` row ranges of about ``budget`` (default :data:`CHUNK_ELEMENTS`) elements each."""
    step = max(1, (CHUNK_ELEMENTS if budget is None else budget) // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield start, min(n_rows, start + step)


def nonzero_2d(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a C-ordered 2-D boolean array (row-major order, int64), several times faster."""
    rows, cols = np.divmod(np.flatnonzero(mask), mask.shape[1])
    return rows, cols


def row_of_entries(csr: sp.csr_matrix) -> np.ndarray:
    """The row index of each stored entry of a CSR matrix."""
    return np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))


def positive_scores(scores: np.ndarray, y: sp.csr_matrix) -> np.ndarray:
    """The scores of the true (document, label) pairs, in CSR order."""
    return scores[row_of_entries(y), y.indices]


def entry_keys(rows: np.ndarray, cols: np.ndarray, n_cols: int) -> np.ndarray:
    """Linear keys ``row * n_cols + col`` (int64) to look (document, label) pairs up by sorting."""
    return rows.astype(np.int64) * n_cols + cols.astype(np.int64)


def is_member(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Whether each key is in ``sorted_keys`` (a sorted int64 array)."""
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    pos[pos == sorted_keys.size] = 0
    return sorted_keys[pos] == keys


def threshold_between(upper: float, lower: float | None, dtype: np.dtype) -> float:
    """A threshold ``t`` with ``lower < t <= upper`` in ``dtype``: the midpoint where representable.

    ``predict`` compares ``score >= t`` in the scores' dtype, so ``t`` is returned as a value exactly
    representable in ``dtype``: scores equal to ``upper`` are predicted, scores equal to ``lower`` not.
    """
    kind = np.dtype(dtype).type
    if lower is None or not np.isfinite(lower):
        return float(kind(upper))
    mid = kind((float(upper) + float(lower)) / 2.0)
    if not (mid > kind(lower)) or mid > kind(upper):
        mid = kind(upper)
    return float(mid)


def thresholds_between(upper: np.ndarray, lower: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """:func:`threshold_between` for arrays (``lower`` may hold −inf: then ``upper``), as float64."""
    kind = np.dtype(dtype).type
    up = np.asarray(upper, dtype=np.float64).astype(kind)
    low = np.asarray(lower, dtype=np.float64)
    finite = np.isfinite(low)
    mid = ((up.astype(np.float64) + np.where(finite, low, 0.0)) / 2.0).astype(kind)
    low_t = np.where(finite, low, -np.inf).astype(kind)
    ok = finite & (mid > low_t) & (mid <= up)
    return np.where(ok, mid, up).astype(np.float64)


@dataclass(frozen=True)
class Counts:
    """Per-label counts of one evaluated set of documents (int64 arrays of shape ``(C,)``)."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    @property
    def support(self) -> np.ndarray:
        return self.tp + self.fn


def label_counts(y_true: sp.csr_matrix, y_pred: sp.csr_matrix, rows: np.ndarray | None = None) -> Counts:
    """Count tp/fp/fn per label of two canonical binary CSR matrices, optionally on a row subset."""
    if rows is not None:
        y_true = y_true[rows]
        y_pred = y_pred[rows]
    n_labels = y_true.shape[1]
    both = y_true.multiply(y_pred).tocsr()
    both.eliminate_zeros()
    tp = np.bincount(both.indices, minlength=n_labels).astype(np.int64)
    support = np.bincount(y_true.indices, minlength=n_labels).astype(np.int64)
    predicted = np.bincount(y_pred.indices, minlength=n_labels).astype(np.int64)
    return Counts(tp=tp, fp=predicted - tp, fn=support - tp)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


METRIC_KEYS = (
    "micro_f1",
    "macro_f1",
    "macro_f1_present",
    "micro_precision",
    "micro_recall",
    "macro_precision",
    "macro_recall",
)


def reduce_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, float | None]:
    """Micro and macro precision, recall and F1 of per-label counts (any label subset).

    Counts may be 1-D ``(L,)`` or 2-D ``(T, L)`` (then every value is an array over ``T``).
    Macro averages run over all ``L`` labels with ``zero_division=0`` (scikit-learn's, the paper's
    convention); ``macro_f1_present`` runs over labels that occur at least once among the true labels of the
    evaluated documents (``tp + fn > 0``). With no labels every value is None; with no present label
    ``macro_f1_present`` is None.
    """
    tp, fp, fn = (np.asarray(a, dtype=np.int64) for a in (tp, fp, fn))
    if tp.shape[-1] == 0:
        return dict.fromkeys(METRIC_KEYS)
    stp, sfp, sfn = tp.sum(-1), fp.sum(-1), fn.sum(-1)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    present = (tp + fn) > 0
    n_present = present.sum(-1)
    f1_present_sum = np.where(present, f1, 0.0).sum(-1)
    out: dict[str, object] = {
        "micro_f1": _ratio(2 * stp, 2 * stp + sfp + sfn),
        "macro_f1": f1.mean(-1),
        "macro_f1_present": np.where(n_present > 0, f1_present_sum / np.maximum(n_present, 1), np.nan),
        "micro_precision": _ratio(stp, stp + sfp),
        "micro_recall": _ratio(stp, stp + sfn),
        "macro_precision": _ratio(tp, tp + fp).mean(-1),
        "macro_recall": _ratio(tp, tp + fn).mean(-1),
    }
    if tp.ndim == 1:
        return {k: (None if np.isnan(v) else float(v)) for k, v in out.items()}
    return out  # type: ignore[return-value]


def grid_counts(
    scores: np.ndarray, y: sp.csr_matrix, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-label predicted and true-positive counts at each threshold of an ascending ``grid``.

    Returns ``(predicted, tp, support)`` with ``predicted`` and ``tp`` of shape ``(G, C)``: the number of
    scores ``>= grid[g]`` in column ``c`` (compared in the scores' dtype) and how many of those are true.
    One pass over the scores; only entries ``>= grid[0]`` are looked at further.
    """
    n_docs, n_labels = scores.shape
    g = grid.size
    grid = grid.astype(scores.dtype)
    hist = np.zeros(n_labels * (g + 1), dtype=np.int64)
    for start, stop in row_chunks(n_docs, n_labels):
        chunk = scores[start:stop]
        r, c = nonzero_2d(chunk >= grid[0])
        if c.size:
            b = np.searchsorted(grid, chunk[r, c], side="right")
            hist += np.bincount(c.astype(np.int64) * (g + 1) + b, minlength=hist.size)
    predicted = _at_least(hist.reshape(n_labels, g + 1))
    pos_cols = y.indices.astype(np.int64)
    pos_bins = np.searchsorted(grid, positive_scores(scores, y), side="right")
    pos_hist = np.bincount(pos_cols * (g + 1) + pos_bins, minlength=hist.size)
    tp = _at_least(pos_hist.reshape(n_labels, g + 1))
    support = np.bincount(pos_cols, minlength=n_labels).astype(np.int64)
    return predicted, tp, support


def _at_least(hist: np.ndarray) -> np.ndarray:
    """From ``hist[c, b]`` (entries with exactly ``b`` grid values <= score) to counts ``>= grid[g]``."""
    # entries with bin b are >= grid[g] for every g < b: reverse cumulative sum over bins 1..G
    rev = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]  # rev[c, b] = number of entries with bin >= b
    return np.ascontiguousarray(rev[:, 1:].T)
