"""Error analysis: which true label is missed while which wrong label is predicted in its place.

The paper's example: Reuters documents about *platinum* predicted as *gold*. For every document the
missed labels (true, not predicted) are paired with the wrongly predicted ones (predicted, not true);
the pair counts over all documents are one sparse product ``missed.T @ wrong``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import DataError
from mlbalance.evaluation import _core


def confused_pairs(
    y_true: sp.spmatrix | np.ndarray,
    y_pred: sp.spmatrix | np.ndarray,
    names: Sequence[str],
    top: int | None = 20,
) -> list[dict[str, Any]]:
    """The most frequent (true label missed, wrong label predicted) pairs within the same document.

    Args:
        y_true: binary labels ``(n_docs, C)``, sparse or dense.
        y_pred: binary predictions of the same shape.
        names: the ``C`` label names.
        top: how many pairs to return (None: all), most frequent first; ties in label (column) order.

    Returns:
        Dicts ``{"true_label", "predicted_label", "count", "true_support", "predicted_support"}``;
        ``count`` is the number of documents where ``true_label`` was missed and ``predicted_label``
        wrongly predicted; the supports are the labels' numbers of true documents.
    """
    y = _core.as_binary_csr(y_true, "y_true")
    p = _core.as_binary_csr(y_pred, "y_pred", shape=y.shape)
    if len(names) != y.shape[1]:
        raise DataError(f"{len(names)} label names were given for {y.shape[1]} labels")
    if top is not None and (isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1):
        raise DataError(f"`top` must be an integer >= 1 or None, got {top!r}")
    both = y.multiply(p).tocsr()
    missed = (y - both).tocsr()
    wrong = (p - both).tocsr()
    missed.eliminate_zeros()
    wrong.eliminate_zeros()
    pairs = (missed.T.tocsr() @ wrong).tocoo()
    counts = pairs.data.astype(np.int64)
    keep = counts > 0
    true_idx, pred_idx, counts = pairs.row[keep], pairs.col[keep], counts[keep]
    if top is not None and counts.size > top:  # keep the top counts (and ties) before sorting
        floor = np.partition(counts, counts.size - top)[counts.size - top]
        keep = counts >= floor
        true_idx, pred_idx, counts = true_idx[keep], pred_idx[keep], counts[keep]
    order = np.lexsort((pred_idx, true_idx, -counts))
    if top is not None:
        order = order[:top]
    support = np.bincount(y.indices, minlength=y.shape[1])
    return [
        {
            "true_label": str(names[true_idx[i]]),
            "predicted_label": str(names[pred_idx[i]]),
            "count": int(counts[i]),
            "true_support": int(support[true_idx[i]]),
            "predicted_support": int(support[pred_idx[i]]),
        }
        for i in np.asarray(order, dtype=np.int64).tolist()
    ]
