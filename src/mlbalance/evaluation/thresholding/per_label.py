"""``"per-label"`` — for each label the threshold maximising its own validation F1.

Exact, placed at the midpoint between the chosen score and the label's next lower score. A label with
fewer than ``min_positives`` validation positives (default 5, and always a label with none) takes the
global threshold of ``fallback`` (default ``"global-optimal"``) instead. The candidate cuts
(:func:`label_runs`, :func:`cut_thresholds`) are shared with the out-of-fold methods.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import ConfigError
from mlbalance.evaluation import _core
from mlbalance.evaluation.thresholding.base import OutOfFold, Scored, Thresholder
from mlbalance.evaluation.thresholding.global_optimal import global_optimal_threshold
from mlbalance.evaluation.thresholding.grid import check_grid, tune_grid
from mlbalance.evaluation.thresholds import ScoreKind, Thresholds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PerLabel(Thresholder):
    """Each label's F1-optimal validation threshold; labels with few positives take a global one."""

    name: ClassVar[str] = "per-label"
    min_positives: int = 5
    fallback: Literal["global-optimal", "grid"] = "global-optimal"
    grid: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.fallback not in ("global-optimal", "grid"):
            raise ConfigError(f"`fallback` must be one of ('global-optimal', 'grid'), got {self.fallback!r}")
        if (
            isinstance(self.min_positives, bool)
            or not isinstance(self.min_positives, (int, np.integer))
            or self.min_positives < 1
        ):
            raise ConfigError(f"`min_positives` must be an integer >= 1, got {self.min_positives!r}")

    def _tune(self, val: Scored, oof: OutOfFold | None, score_kind: ScoreKind) -> Thresholds:
        s, y = val.scores, val.labels
        val.require_positives()
        if self.fallback == "grid":
            global_value, _ = tune_grid(s, y, check_grid(self.grid, score_kind))
        else:
            global_value, _ = global_optimal_threshold(s, y)
        per_label, n_fallback = per_label_optimal(s, y, int(self.min_positives), global_value)
        logger.info(
            "per-label thresholds: %d of %d labels have < %d validation positives, take the %s threshold %g",
            n_fallback,
            s.shape[1],
            self.min_positives,
            self.fallback,
            global_value,
        )
        return val.with_micro_f1(Thresholds("per-label", per_label=per_label, score_kind=score_kind))


def per_label_optimal(
    s: np.ndarray | sp.csr_matrix,
    y: sp.csr_matrix,
    min_positives: int,
    fallback_value: float,
    unstored_max: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Per-label F1-optimal thresholds (exact), fallback for labels with few positives.

    ``s`` may hold only some scores (sparse, with ``unstored_max``: :func:`label_runs` says how they
    count).

    Labels are handled in blocks of about :data:`_core.CHUNK_ELEMENTS` scores, which bounds the memory
    of the candidate arrays even when most scores are candidates.
    """
    if sp.issparse(s):  # the stored entries are already few: one block
        return _per_label_block(s, y, min_positives, fallback_value, unstored_max)
    n_docs, n_labels = s.shape
    thresholds = np.empty(n_labels, dtype=np.float64)
    n_fallback = 0
    for a, b in _core.row_chunks(n_labels, n_docs):  # blocks of columns
        thresholds[a:b], n = _per_label_block(s[:, a:b], y[:, a:b].tocsr(), min_positives, fallback_value)
        n_fallback += n
    return thresholds, n_fallback


def _per_label_block(
    s: np.ndarray | sp.csr_matrix,
    y: sp.csr_matrix,
    min_positives: int,
    fallback_value: float,
    unstored_max: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """:func:`per_label_optimal` on a block of labels (``s`` may be a column slice).

    A label's F1 is maximal at a threshold equal to one of its positive scores, so only entries at or
    above the label's lowest positive score are candidates; they are sorted by (label, score desc) once.
    """
    y = _core.as_binary_csr(y, "y_val")
    n_labels = s.shape[1]
    runs = label_runs(s, y, min_positives, unstored_max)
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
    score) — the cuts a threshold can make; ``support``: positives per label; ``below``: per label, its
    highest score below the entries (−inf if none), where its lowest cut ends.
    """

    cols: np.ndarray
    vals: np.ndarray
    tp: np.ndarray
    predicted: np.ndarray
    ends: np.ndarray
    support: np.ndarray
    below: np.ndarray


def label_runs(
    s: np.ndarray | sp.csr_matrix,
    y: sp.csr_matrix,
    min_positives: int = 1,
    unstored_max: np.ndarray | None = None,
) -> LabelRuns:
    """The candidate cuts of every label with at least ``min_positives`` positives (:class:`LabelRuns`).

    A label's F1 (and any score that only gains from true positives) is best at a cut equal to one of
    its positive scores, so only entries at or above the label's lowest positive score are kept.
    ``s`` may be sparse (:func:`~mlbalance.evaluation.thresholding.base.keep_top_scores`): a score not
    stored counts as never predicted, and a positive without a stored score is never predicted; each
    label's highest score not stored (``unstored_max``) is where its lowest cut ends when it lies below.
    """
    n_docs, n_labels = s.shape
    pos_rows = _core.row_of_entries(y)
    pos_cols = y.indices.astype(np.int64)
    support = np.bincount(pos_cols, minlength=n_labels)
    below = np.full(n_labels, -np.inf)
    if sp.issparse(s):
        rows, cols, vals, pos_vals = _stored_entries(s, pos_rows, pos_cols)
    else:
        pos_vals = s[pos_rows, pos_cols]
    min_pos = np.full(n_labels, np.inf, dtype=s.dtype)
    np.minimum.at(min_pos, pos_cols, pos_vals)
    min_pos[support < min_positives] = np.inf  # nothing to look at for these labels
    if sp.issparse(s):
        keep = vals >= min_pos[cols]
        np.maximum.at(below, cols[~keep], vals[~keep])
        if unstored_max is not None:
            below = np.maximum(below, np.where(unstored_max < min_pos, unstored_max, -np.inf))
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
    else:
        rows_l, cols_l, vals_l = [], [], []
        for a, b in _core.row_chunks(n_docs, n_labels):
            chunk = s[a:b]
            mask = chunk >= min_pos
            r, c = _core.nonzero_2d(mask)
            rows_l.append(r + a)
            cols_l.append(c)
            vals_l.append(chunk[r, c])
            if chunk.size:
                below = np.maximum(below, np.where(mask, -np.inf, chunk).max(axis=0))
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
        return LabelRuns(cols, vals, empty, empty, empty, support, below)
    col_start = np.searchsorted(cols, np.arange(n_labels), side="left")
    predicted = np.arange(cols.size) - col_start[cols] + 1
    cum_pos = np.cumsum(is_pos)
    tp = cum_pos - (cum_pos[col_start[cols]] - is_pos[col_start[cols]])
    last = np.ones(cols.size, dtype=bool)  # last entry of a run of equal (label, score)
    last[:-1] = (cols[1:] != cols[:-1]) | (vals[1:] != vals[:-1])
    return LabelRuns(cols, vals, tp, predicted, np.flatnonzero(last), support, below)


def _stored_entries(
    s: sp.csr_matrix, pos_rows: np.ndarray, pos_cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The stored entries of sparse scores (rows, columns, values) and the score of each positive
    (−inf where it is not stored)."""
    s = sp.csr_matrix(s)
    if not s.has_canonical_format:
        s = s.copy()
        s.sum_duplicates()
    rows = _core.row_of_entries(s)
    cols = s.indices.astype(np.int64)
    keys = _core.entry_keys(rows, cols, s.shape[1])  # sorted: canonical CSR
    at = np.searchsorted(keys, _core.entry_keys(pos_rows, pos_cols, s.shape[1]))
    found = at < keys.size
    found[found] = keys[at[found]] == _core.entry_keys(pos_rows[found], pos_cols[found], s.shape[1])
    pos_vals = np.where(found, s.data[np.minimum(at, max(keys.size - 1, 0))], -np.inf).astype(s.dtype)
    return rows, cols, s.data, pos_vals


def cut_thresholds(s: np.ndarray | sp.csr_matrix, runs: LabelRuns, at: np.ndarray) -> np.ndarray:
    """Thresholds that cut each label's run after the entries ``at`` (indices into ``runs``): between
    the entry's score and the label's next lower score (``runs.below`` past its lowest candidate)."""
    cols, vals = runs.cols, runs.vals
    labels = cols[at]
    upper = vals[at].astype(np.float64)
    nxt = np.minimum(at + 1, max(cols.size - 1, 0))
    has_next = (at + 1 < cols.size) & (cols[nxt] == labels)
    lower = np.where(has_next, vals[nxt].astype(np.float64), runs.below[labels])
    return _core.thresholds_between(upper, lower, s.dtype)
