"""``"top-k"`` — the ``k`` highest-scoring labels of each document.

With ``k=None`` the ``k`` in ``1..max_k`` that maximises validation micro-F1 (default ``max_k``:
``ceil(3 × mean labels per document)``, at least 1, at most the number of labels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from mlbalance._checks import check_int
from mlbalance.evaluation import _core
from mlbalance.evaluation.thresholding.base import OutOfFold, Scored, Thresholder
from mlbalance.evaluation.thresholds import ScoreKind, Thresholds, _top_k_indices, check_top_k


@dataclass(frozen=True)
class TopK(Thresholder):
    """``k`` labels per document (None: tuned in ``1..max_k``); ``at_least_one`` does not apply."""

    name: ClassVar[str] = "top-k"
    k: int | None = None
    max_k: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("k", "max_k"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)

    def _tune(self, val: Scored, oof: OutOfFold | None, score_kind: ScoreKind) -> Thresholds:
        check_top_k(self.k, val.scores.shape[1])
        if self.k is not None:
            return val.with_micro_f1(Thresholds("top-k", k=self.k, score_kind=score_kind))
        return _tune_top_k(val.scores, val.labels, self.max_k, score_kind)


def _tune_top_k(s: np.ndarray, y: sp.csr_matrix, max_k: int | None, score_kind: str) -> Thresholds:
    n_docs, n_labels = s.shape
    if max_k is None:
        max_k = max(1, math.ceil(3 * y.nnz / n_docs))
    else:
        check_int("max_k", max_k, 1)
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
