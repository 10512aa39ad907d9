"""The validation metrics models watch while they train: micro-F1 at the best global threshold, and
macro-F1 at one threshold, in one pass over the score matrix (for early stopping and epoch tables).

The thresholds a run stores are tuned afterwards by :mod:`mlbalance.evaluation.thresholding`; these
are the cheap per-epoch signals.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: The paper's probability grid 0.40..0.60 step 0.01 (``PAPER_GRIDS["probability"]`` as an array).
PAPER_PROBABILITY_GRID = np.round(np.arange(0.40, 0.6001, 0.01), 2)


def best_global_micro_f1(
    scores: np.ndarray,
    y_true: sp.spmatrix | np.ndarray,
    grid: np.ndarray | None = None,
    max_candidates: int = 4096,
) -> tuple[float, float]:
    """Micro-F1 at the best single threshold (``score >= t`` is positive), and that threshold.

    Without ``grid`` the optimum is searched over the scores of the true positives (where the exact
    optimum lies), thinned to ``max_candidates`` quantiles when there are more; with ``grid`` over
    its values (e.g. :data:`PAPER_PROBABILITY_GRID`). One pass over the score matrix, no loop over
    documents or labels.

    Args:
        scores: ``(n, C)`` scores.
        y_true: ``(n, C)`` 0/1 labels, sparse or dense.
        grid: candidate thresholds, or None for the data-driven search.
        max_candidates: cap on the number of data-driven candidates.

    Returns:
        ``(micro_f1, threshold)``; ``(0.0, inf)`` when there is no true positive at all.
    """
    scores = np.asarray(scores)
    y = sp.csr_matrix(y_true)
    if y.shape != scores.shape:
        raise ValueError(f"scores have shape {scores.shape} but labels have shape {y.shape}")
    y = (y != 0).tocsr()
    y.sort_indices()
    rows = np.repeat(np.arange(y.shape[0]), np.diff(y.indptr))
    pos = scores[rows, y.indices]
    n_pos = pos.shape[0]
    if grid is None:
        if n_pos == 0:
            return 0.0, float("inf")
        candidates = np.unique(pos)
        if candidates.shape[0] > max_candidates:
            candidates = np.unique(np.quantile(pos, np.linspace(0.0, 1.0, max_candidates)))
    else:
        candidates = np.unique(np.asarray(grid, dtype=np.float64))
    reported = candidates
    candidates = candidates.astype(scores.dtype if scores.dtype.kind == "f" else np.float64)
    # k-th candidate counts a score s as positive iff s >= candidates[k] iff searchsorted(.., "right") > k.
    k = candidates.shape[0]
    # In row chunks of ~4M scores: the int64 bin indices of a whole (docs × labels) matrix would be
    # 8 bytes per score (728 MB for 5,000 × 18,211).
    at_all = np.zeros(k + 1, dtype=np.int64)
    step = max(1, (1 << 22) // max(1, scores.shape[1]))
    for start in range(0, scores.shape[0], step):
        chunk = scores[start : start + step].ravel()
        at_all += np.bincount(np.searchsorted(candidates, chunk, side="right"), minlength=k + 1)
    at_pos = np.bincount(np.searchsorted(candidates, pos, side="right"), minlength=k + 1)
    predicted = np.cumsum(at_all[::-1])[::-1][1:]
    true_pos = np.cumsum(at_pos[::-1])[::-1][1:]
    denom = predicted + n_pos
    f1 = np.divide(2.0 * true_pos, denom, out=np.zeros(k, dtype=np.float64), where=denom > 0)
    best = int(np.argmax(f1))
    return float(f1[best]), float(reported[best])


def macro_f1_at(scores: np.ndarray, y_true: sp.spmatrix | np.ndarray, threshold: float) -> float:
    """Macro-F1 over all labels (a label with no true and no predicted positive counts 0) at one
    global threshold (``score >= threshold`` is positive), in row chunks of the score matrix."""
    scores = np.asarray(scores)
    y = (sp.csr_matrix(y_true) != 0).tocsr()
    if y.shape != scores.shape:
        raise ValueError(f"scores have shape {scores.shape} but labels have shape {y.shape}")
    n_labels = scores.shape[1]
    if n_labels == 0:
        return 0.0
    rows = np.repeat(np.arange(y.shape[0]), np.diff(y.indptr))
    t = np.asarray(threshold, dtype=scores.dtype if scores.dtype.kind == "f" else np.float64)
    tp = np.bincount(y.indices[scores[rows, y.indices] >= t], minlength=n_labels)
    predicted = np.zeros(n_labels, dtype=np.int64)
    step = max(1, (1 << 22) // n_labels)
    for start in range(0, scores.shape[0], step):
        predicted += (scores[start : start + step] >= t).sum(axis=0)
    denom = predicted + np.bincount(y.indices, minlength=n_labels)
    return float(np.divide(2.0 * tp, denom, out=np.zeros(n_labels), where=denom > 0).mean())
