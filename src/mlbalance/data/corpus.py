"""The one shape every data source becomes: a :class:`Corpus` of three :class:`Split` objects.

Labels are held per document as tuples of label names; a :class:`LabelSpace` maps names to columns
and encodes a split's labels as a ``scipy.sparse.csr_matrix`` of shape ``(n_docs, n_labels)`` (float32
ones), which is what models and evaluation consume.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import DataError

if TYPE_CHECKING:
    from mlbalance.data.stats import LabelStats

SplitName = Literal["train", "validation", "test"]
SPLIT_NAMES: tuple[SplitName, ...] = ("train", "validation", "test")


@dataclass(frozen=True)
class Split:
    """Texts, label lists and ids of one split; all three have the same length."""

    texts: list[str]
    labels: list[tuple[str, ...]]
    ids: list[str]

    def __post_init__(self) -> None:
        if not (len(self.texts) == len(self.labels) == len(self.ids)):
            raise DataError(
                f"a split needs as many texts, label lists and ids; got {len(self.texts)}, "
                f"{len(self.labels)} and {len(self.ids)}"
            )

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Iterable[int]) -> Split:
        """The documents at ``indices``, in that order."""
        idx = list(indices)
        return Split(
            texts=[self.texts[i] for i in idx],
            labels=[self.labels[i] for i in idx],
            ids=[self.ids[i] for i in idx],
        )


class LabelSpace:
    """Label names ↔ column indices; encodes label lists as CSR matrices and decodes them back."""

    def __init__(self, names: Sequence[str]) -> None:
        names = tuple(names)
        index = {name: i for i, name in enumerate(names)}
        if len(index) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise DataError(f"label names must be unique; repeated: {dupes[:10]}")
        self.names: tuple[str, ...] = names
        self.index: dict[str, int] = index

    def __len__(self) -> int:
        return len(self.names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSpace) and self.names == other.names

    def __hash__(self) -> int:
        return hash(self.names)

    def __repr__(self) -> str:
        return f"LabelSpace({len(self.names)} labels)"

    @classmethod
    def from_labels(cls, labels: Iterable[Iterable[str]]) -> LabelSpace:
        """All label names occurring in ``labels``, sorted."""
        return cls(sorted({name for doc in labels for name in doc}))

    def encode(
        self,
        labels: Sequence[Sequence[str]],
        unknown: Literal["error", "ignore"] = "error",
    ) -> sp.csr_matrix:
        """Encode label lists as a ``(n_docs, n_labels)`` float32 CSR matrix of ones.

        Args:
            labels: one sequence of label names per document (repeats count once).
            unknown: ``"error"`` raises :class:`DataError` on a name not in the space;
                ``"ignore"`` leaves it out.
        """
        if unknown not in ("error", "ignore"):
            raise DataError(f"`unknown` must be 'error' or 'ignore', got {unknown!r}")
        n_docs = len(labels)
        lengths = np.fromiter(map(len, labels), dtype=np.int64, count=n_docs)
        flat = list(chain.from_iterable(labels))
        # dict.get over the flat list runs in C: no Python loop over documents × labels.
        cols = np.fromiter(map(self.index.get, flat, repeat(-1)), dtype=np.int64, count=len(flat))
        rows = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        missing = cols < 0
        if missing.any():
            if unknown == "error":
                first = int(np.argmax(missing))
                raise DataError(
                    f"document {int(rows[first])}: label {flat[first]!r} is not in the label space "
                    f"({len(self.names)} labels)"
                )
            rows, cols = rows[~missing], cols[~missing]
        n_labels = len(self.names)
        keys = np.sort(rows * max(n_labels, 1) + cols)  # by (row, column); repeats kept once below
        if keys.shape[0] > 1:
            keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
        rows, cols = keys // max(n_labels, 1), keys % max(n_labels, 1)
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_docs), out=indptr[1:])
        data = np.ones(cols.shape[0], dtype=np.float32)
        return sp.csr_matrix((data, cols.astype(np.int32), indptr), shape=(n_docs, n_labels))

    def decode(self, matrix: sp.spmatrix | np.ndarray) -> list[list[str]]:
        """Label names of the non-zero columns of each row."""
        csr = sp.csr_matrix(matrix)
        names = self.names
        return [
            [names[j] for j in csr.indices[csr.indptr[i] : csr.indptr[i + 1]]] for i in range(csr.shape[0])
        ]


@dataclass(frozen=True)
class Corpus:
    """Three splits over one label space, plus what the dataset says about its groups.

    Attributes:
        name: e.g. ``"reuters21578"``, ``"synthetic:reuters-like"`` or a file path.
        train, validation, test: the splits; statistics come from ``train`` only.
        label_space: the label names ↔ columns.
        preset: the loss/grouping preset this corpus follows (``"reuters"``, ``"pubmed"``) or None.
        head_min, tail_max: label groups by train frequency: head ``n_i >= head_min``, tail
            ``n_i <= tail_max``, medium in between.
        doc_bins: Table 3 groups of test documents by their number of true labels, as
            ``(name, low, high)`` with ``high=None`` for no upper bound (both inclusive).
        metadata: free-form facts about the source (file, counts of skipped records, ...).
    """

    name: str
    train: Split
    validation: Split
    test: Split
    label_space: LabelSpace
    preset: str | None = None
    head_min: int = 35
    tail_max: int = 8
    doc_bins: tuple[tuple[str, int, int | None], ...] = (("single-label", 1, 1), ("multi-label", 2, None))
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def with_preset(cls, preset: str | None, **fields: Any) -> Corpus:
        """A corpus of dataset preset ``preset`` with its label and document groups
        (:data:`~mlbalance.data.stats.DATASET_GROUPING`; for None, no preset and Reuters' groups),
        unless ``fields`` set them."""
        from mlbalance.data.stats import DATASET_GROUPING

        return cls(preset=preset, **{**DATASET_GROUPING[preset or "reuters"], **fields})

    def split(self, name: SplitName) -> Split:
        if name not in SPLIT_NAMES:
            raise DataError(f"split must be one of {SPLIT_NAMES}, got {name!r}")
        return getattr(self, name)

    def labels(self, name: SplitName, unknown: Literal["error", "ignore"] = "ignore") -> sp.csr_matrix:
        """The split's labels as a CSR matrix over :attr:`label_space`."""
        return self.label_space.encode(self.split(name).labels, unknown=unknown)

    def stats(self) -> LabelStats:
        """:class:`~mlbalance.data.stats.LabelStats` of the training split."""
        from mlbalance.data.stats import LabelStats

        return LabelStats.from_labels(
            self.labels("train"),
            self.label_space.names,
            head_min=self.head_min,
            tail_max=self.tail_max,
            doc_bins=self.doc_bins,
            preset=self.preset,
        )

    def summary(self) -> dict[str, Any]:
        """The paper's Table 1 for this corpus, plus the group sizes: one JSON-ready row.

        Keys: ``dataset``, ``train``, ``validation``, ``test`` (documents), ``labels`` (C),
        ``labels_per_doc`` (train), ``docs_per_label_mean`` / ``_median``, ``max_label_freq``,
        ``min_label_freq``, ``labels_without_train_docs``, ``head`` / ``medium`` / ``tail`` (label
        counts with the cut-offs in ``head_min`` / ``tail_max``), and ``doc_groups_test`` (test
        documents per Table 3 bin).
        """
        from mlbalance.data.stats import doc_group_sizes

        stats = self.stats()
        freq = stats.class_freq
        return {
            "dataset": self.name,
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
            "labels": stats.n_labels,
            "labels_per_doc": round(stats.label_cardinality, 4),
            "docs_per_label_mean": round(float(freq.mean()), 2) if freq.size else 0.0,
            "docs_per_label_median": float(np.median(freq)) if freq.size else 0.0,
            "max_label_freq": int(freq.max()) if freq.size else 0,
            "min_label_freq": int(freq.min()) if freq.size else 0,
            "labels_without_train_docs": int((freq == 0).sum()),
            "head_min": stats.head_min,
            "tail_max": stats.tail_max,
            **stats.group_sizes(),
            "doc_groups_test": doc_group_sizes(stats, self.labels("test")),
        }
