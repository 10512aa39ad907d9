"""Label statistics of a training split: what the losses, the groups and the reports need.

:class:`LabelStats` is computed from the **training split only** and travels with every saved model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import DataError

GROUP_NAMES = ("head", "medium", "tail")

#: Label-group cut-offs and Table 3 document bins per dataset preset (PAPER.md).
DATASET_GROUPING: dict[str, dict[str, Any]] = {
    "reuters": {
        "head_min": 35,
        "tail_max": 8,
        "doc_bins": (("single-label", 1, 1), ("multi-label", 2, None)),
    },
    "pubmed": {
        "head_min": 50,
        "tail_max": 15,
        "doc_bins": (("1-9", 0, 9), ("10-14", 10, 14), ("15+", 15, None)),
    },
}


@dataclass(frozen=True, eq=False)
class LabelStats:
    """Class frequencies and groups of a training split.

    Attributes:
        names: label names, in column order.
        class_freq: ``n_i``, number of training documents carrying label ``i`` (int64, shape ``(C,)``).
        n_train: ``N``, number of training documents.
        head_min, tail_max: head ``n_i >= head_min``; tail ``n_i <= tail_max``; medium in between.
        doc_bins: Table 3 bins of documents by number of true labels: ``(name, low, high|None)``.
        label_cardinality: mean number of labels per training document.
        preset: dataset preset name (``"reuters"``, ``"pubmed"``) or None.
        r_db_mean, r_db_median: mean and median of the rebalancing weight ``r_DB`` over positive
            (document, label) pairs of the training set — the authors' way of choosing μ.
    """

    names: tuple[str, ...]
    class_freq: np.ndarray
    n_train: int
    head_min: int = 35
    tail_max: int = 8
    doc_bins: tuple[tuple[str, int, int | None], ...] = (("single-label", 1, 1), ("multi-label", 2, None))
    label_cardinality: float = 0.0
    preset: str | None = None
    r_db_mean: float | None = None
    r_db_median: float | None = None

    def __post_init__(self) -> None:
        freq = np.asarray(self.class_freq, dtype=np.int64)
        object.__setattr__(self, "class_freq", freq)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "doc_bins", tuple(tuple(b) for b in self.doc_bins))
        if freq.ndim != 1 or freq.shape[0] != len(self.names):
            raise DataError(
                f"class_freq must have one entry per label ({len(self.names)}), got shape {freq.shape}"
            )
        if (freq < 0).any() or (freq > self.n_train).any():
            raise DataError(f"class frequencies must lie in [0, n_train={self.n_train}]")
        if self.tail_max >= self.head_min:
            raise DataError(
                f"tail_max must be below head_min, got tail_max={self.tail_max}, head_min={self.head_min}"
            )

    @property
    def n_labels(self) -> int:
        return len(self.names)

    @property
    def mu(self) -> float | None:
        """μ as the authors derived it: the average of the mean and the median of ``r_DB``."""
        if self.r_db_mean is None or self.r_db_median is None:
            return None
        return 0.5 * (self.r_db_mean + self.r_db_median)

    @classmethod
    def from_labels(
        cls,
        y_train: sp.spmatrix | np.ndarray,
        names: Sequence[str],
        *,
        head_min: int = 35,
        tail_max: int = 8,
        doc_bins: Sequence[tuple[str, int, int | None]] = (("single-label", 1, 1), ("multi-label", 2, None)),
        preset: str | None = None,
    ) -> LabelStats:
        """Statistics of a ``(N, C)`` binary label matrix of the training split."""
        y = sp.csr_matrix(y_train)
        n_train, n_labels = y.shape
        if n_labels != len(names):
            raise DataError(f"y_train has {n_labels} columns but {len(names)} label names were given")
        y = (y != 0).astype(np.float32).tocsr()
        class_freq = np.asarray(y.sum(axis=0)).ravel().astype(np.int64)
        per_doc = np.diff(y.indptr)
        cardinality = float(per_doc.mean()) if n_train else 0.0
        r_mean, r_median = _r_db_positive_summary(y, class_freq)
        return cls(
            names=tuple(names),
            class_freq=class_freq,
            n_train=int(n_train),
            head_min=head_min,
            tail_max=tail_max,
            doc_bins=tuple(doc_bins),
            label_cardinality=cardinality,
            preset=preset,
            r_db_mean=r_mean,
            r_db_median=r_median,
        )

    def group_masks(self) -> dict[str, np.ndarray]:
        """Boolean masks over labels: ``{"head": ..., "medium": ..., "tail": ...}``."""
        freq = self.class_freq
        head = freq >= self.head_min
        tail = freq <= self.tail_max
        return {"head": head, "medium": ~head & ~tail, "tail": tail}

    def group_indices(self) -> dict[str, np.ndarray]:
        """Column indices of each label group."""
        return {name: np.flatnonzero(mask) for name, mask in self.group_masks().items()}

    def group_sizes(self) -> dict[str, int]:
        return {name: int(mask.sum()) for name, mask in self.group_masks().items()}

    def doc_group_masks(self, y: sp.spmatrix | np.ndarray) -> dict[str, np.ndarray]:
        """Boolean masks over the rows of ``y`` by number of true labels (Table 3 groups)."""
        counts = np.asarray((sp.csr_matrix(y) != 0).sum(axis=1)).ravel()
        masks = {}
        for name, low, high in self.doc_bins:
            mask = counts >= low
            if high is not None:
                mask &= counts <= high
            masks[name] = mask
        return masks

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; :meth:`from_dict` reads it back."""
        return {
            "names": list(self.names),
            "class_freq": self.class_freq.tolist(),
            "n_train": self.n_train,
            "head_min": self.head_min,
            "tail_max": self.tail_max,
            "doc_bins": [list(b) for b in self.doc_bins],
            "label_cardinality": self.label_cardinality,
            "preset": self.preset,
            "r_db_mean": self.r_db_mean,
            "r_db_median": self.r_db_median,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelStats:
        try:
            return cls(
                names=tuple(data["names"]),
                class_freq=np.asarray(data["class_freq"], dtype=np.int64),
                n_train=int(data["n_train"]),
                head_min=int(data["head_min"]),
                tail_max=int(data["tail_max"]),
                doc_bins=tuple(tuple(b) for b in data["doc_bins"]),
                label_cardinality=float(data.get("label_cardinality", 0.0)),
                preset=data.get("preset"),
                r_db_mean=data.get("r_db_mean"),
                r_db_median=data.get("r_db_median"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"label statistics are malformed: {exc}") from exc


def _r_db_positive_summary(y: sp.csr_matrix, class_freq: np.ndarray) -> tuple[float | None, float | None]:
    """Mean and median of ``r_DB,ki = (1/n_i) / Σ_{j∈y_k} (1/n_j)`` over positive pairs (k, i)."""
    if y.nnz == 0:
        return None, None
    inv = np.zeros(class_freq.shape[0], dtype=np.float64)
    nz = class_freq > 0
    inv[nz] = 1.0 / class_freq[nz]
    rows = np.repeat(np.arange(y.shape[0]), np.diff(y.indptr))
    pos_inv = inv[y.indices]
    doc_sum = np.bincount(rows, weights=pos_inv, minlength=y.shape[0])
    r = pos_inv / doc_sum[rows]
    return float(r.mean()), float(np.median(r))


def cooccurrence(y: sp.spmatrix | np.ndarray, dense_max_labels: int = 2000) -> sp.csr_matrix | np.ndarray:
    """Conditional co-occurrence ``P[i, j] = p(i | j)``: the share of documents with label ``j`` that
    also carry label ``i`` (the paper's Figure 2/3 heatmap).

    Computed as ``YᵀY`` with columns divided by ``n_j``; a label with ``n_j = 0`` has an all-zero
    column. The diagonal is 1 for every label that occurs.

    Args:
        y: ``(n_docs, C)`` binary label matrix.
        dense_max_labels: up to this many labels the result is a dense float32 array; above it a CSR
            matrix (float32), whose size grows with the number of co-occurring pairs, not with ``C²``.
    """
    y = sp.csr_matrix(y)
    y = sp.csr_matrix((np.ones(y.nnz, dtype=np.int32), y.indices, y.indptr), shape=y.shape)
    y.sum_duplicates()
    y.data[:] = 1
    counts = (y.T.tocsr() @ y).tocsr()
    freq = counts.diagonal().astype(np.float64)
    inv = np.zeros_like(freq)
    nz = freq > 0
    inv[nz] = 1.0 / freq[nz]
    cond = sp.csr_matrix(
        ((counts.data * inv[counts.indices]).astype(np.float32), counts.indices, counts.indptr),
        shape=counts.shape,
    )
    if y.shape[1] <= dense_max_labels:
        return cond.toarray()
    return cond


def labels_per_doc_tertiles(y: sp.spmatrix | np.ndarray) -> tuple[tuple[str, int, int | None], ...]:
    """Three document bins by number of labels, cut at the tertiles of ``y``'s labels-per-document.

    The paper's PubMed bins (≤9, 10–14, ≥15) came from this rule; the result has the shape of
    :attr:`LabelStats.doc_bins`. Bins may be fewer than three when the counts have few distinct values.
    """
    counts = np.diff(sp.csr_matrix(y).indptr)
    if counts.size == 0:
        raise DataError("labels_per_doc_tertiles needs at least one document")
    q1, q2 = (int(np.ceil(v)) for v in np.quantile(counts, [1 / 3, 2 / 3]))
    edges = sorted({q1, max(q2, q1 + 1)})
    lo = int(counts.min())
    bins: list[tuple[str, int, int | None]] = []
    for cut in edges:
        if cut - 1 >= lo:
            bins.append((f"{lo}-{cut - 1}", lo, cut - 1))
            lo = cut
    bins.append((f"{lo}+", lo, None))
    return tuple(bins)


def doc_group_sizes(stats: LabelStats, y: sp.spmatrix | np.ndarray) -> dict[str, int]:
    """Number of rows of ``y`` in each of ``stats.doc_bins`` (Table 3 groups)."""
    return {name: int(mask.sum()) for name, mask in stats.doc_group_masks(y).items()}
