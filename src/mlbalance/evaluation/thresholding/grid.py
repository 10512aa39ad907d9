"""``"grid"`` — the paper's: the global threshold of a grid that maximises validation micro-F1.

Default grids (:data:`~mlbalance.evaluation.thresholds.PAPER_GRIDS`): probabilities 0.40–0.60 step
0.01; SVM decision values −1.0–1.0 step 0.1 ("hyper-plane shifting"). Ties go to the lowest grid
value, as in the authors' loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import ConfigError
from mlbalance.evaluation import _core
from mlbalance.evaluation.thresholding.base import OutOfFold, Scored, Thresholder
from mlbalance.evaluation.thresholds import PAPER_GRIDS, ScoreKind, Thresholds


@dataclass(frozen=True)
class Grid(Thresholder):
    """The grid value with the best validation micro-F1; ``grid=None`` is the paper's grid."""

    name: ClassVar[str] = "grid"
    grid: Any = None

    def _tune(self, val: Scored, oof: OutOfFold | None, score_kind: ScoreKind) -> Thresholds:
        val.require_positives()
        value, f1 = tune_grid(val.scores, val.labels, check_grid(self.grid, score_kind))
        return Thresholds("grid", value=value, score_kind=score_kind, validation_micro_f1=f1)


def check_grid(grid: Any, score_kind: str) -> np.ndarray:
    try:
        arr = np.asarray(PAPER_GRIDS[score_kind] if grid is None else grid, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        arr = np.array([np.nan])
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ConfigError(f"`grid` must be a non-empty sequence of finite numbers, got {grid!r}")
    return np.unique(arr)


def tune_grid(s: np.ndarray, y: sp.csr_matrix, grid: np.ndarray) -> tuple[float, float]:
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
