"""Ranking metrics of scores: P@k, nDCG@k and propensity-scored precision PSP@k.

All three look at the ``k`` highest-scoring labels of each document (equal scores rank by column
index) and average over documents; a document with no true label scores 0.

* ``p@k`` = (true labels among the top ``k``) / ``k``.
* ``ndcg@k`` — binary gains, ``DCG = Σ_r rel_r / log2(r + 1)`` over the top ``k``, divided by the
  ideal DCG of ``min(k, n_true)`` labels (``sklearn.metrics.ndcg_score``'s definition).
* ``psp@k`` — Jain et al., *Extreme Multi-label Loss Functions for Recommendation, Tagging, Ranking
  & Other Missing Label Applications* (KDD 2016): each hit counts ``1 / p_l`` with the propensity
  ``p_l = 1 / (1 + C · e^{−A · log(n_l + B)})``, ``C = (log N − 1)(B + 1)^A`` (``n_l``: training
  documents of label ``l``, ``N``: training documents), so a hit on a rare label counts more. It is
  normalised by the best achievable: ``Σ_docs Σ_{top k} y/p  /  Σ_docs (the k largest 1/p of the
  document's true labels)`` — 1 for a perfect ranking, equal to P@k's normalised form when all
  propensities are equal.

Rows of a label group (head/medium/tail) rank only that group's labels; rows of a document group
rank all labels of its documents. Everything is computed in row chunks: memory stays
``O(chunk × labels)`` whatever the number of documents.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import DataError
from mlbalance.evaluation import _core
from mlbalance.evaluation.thresholds import _top_k_indices

#: ``k`` of each ranking metric in the result rows.
P_KS: tuple[int, ...] = (1, 3, 5)
NDCG_KS: tuple[int, ...] = (3, 5)
PSP_KS: tuple[int, ...] = (1, 3, 5)
#: The keys the result rows carry, in order.
RANKING_KEYS: tuple[str, ...] = (
    *(f"p@{k}" for k in P_KS),
    *(f"ndcg@{k}" for k in NDCG_KS),
    *(f"psp@{k}" for k in PSP_KS),
)
#: Jain et al.'s defaults of ``A`` and ``B`` (their values for Wikipedia-LSHTC and most corpora).
PROPENSITY_A = 0.55
PROPENSITY_B = 1.5


def propensities(
    class_freq: np.ndarray | Sequence[float], n_train: int, a: float = PROPENSITY_A, b: float = PROPENSITY_B
) -> np.ndarray:
    """``p_l = 1 / (1 + C e^{−A log(n_l + B)})``, ``C = (log N − 1)(B + 1)^A`` (float64, in (0, 1]).

    Raises:
        DataError: negative counts, ``n_train < 1``, or ``a``/``b`` not positive finite numbers.
    """
    freq = np.asarray(class_freq, dtype=np.float64)
    if freq.ndim != 1 or (freq < 0).any() or not np.isfinite(freq).all():
        raise DataError("`class_freq` must be a 1-D array of counts >= 0")
    if isinstance(n_train, bool) or not isinstance(n_train, (int, np.integer)) or n_train < 1:
        raise DataError(f"`n_train` must be an integer >= 1, got {n_train!r}")
    for name, value in (("a", a), ("b", b)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
            raise DataError(f"propensity `{name}` must be a positive number, got {value!r}")
    c = (np.log(n_train) - 1.0) * (b + 1.0) ** a
    return 1.0 / (1.0 + c * np.exp(-a * np.log(freq + b)))


def ranking_metrics(
    scores: np.ndarray,
    y_true: sp.spmatrix | np.ndarray,
    ks: Sequence[int] = P_KS,
    inverse_propensity: np.ndarray | None = None,
    *,
    columns: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> dict[str, float | None]:
    """``p@k`` and ``ndcg@k`` for each ``k`` in ``ks`` (and ``psp@k`` with ``inverse_propensity``).

    Args:
        scores: dense ``(n_docs, C)`` scores.
        y_true: binary labels, sparse or dense, same shape.
        ks: the ``k`` of the metrics.
        inverse_propensity: ``1 / p_l`` per label (``1 / propensities(...)``); None: no ``psp@k``.
        columns: rank only these labels (a label group); None: all.
        rows: a boolean mask or indices of the documents to evaluate; None: all.

    Returns:
        The metrics (module docstring), fractions in [0, 1]; None for a metric with nothing to rank
        (no documents, no labels, or for ``psp@k`` no true label at all).
    """
    psp_ks = () if inverse_propensity is None else ks
    return _ranking(scores, y_true, inverse_propensity, ks, ks, psp_ks, columns, rows)


def group_metrics(
    scores: np.ndarray,
    y_true: sp.csr_matrix,
    inverse_propensity: np.ndarray,
    label_groups: dict[str, np.ndarray],
    doc_groups: dict[str, np.ndarray],
) -> dict[str, dict[str, float | None]]:
    """:data:`RANKING_KEYS` of ``"total"``, each label group (its columns) and each document group
    (a boolean row mask): one ranking of all labels serves the total and every document group.

    ``scores`` and ``y_true`` are taken as validated (:func:`~mlbalance.evaluation.evaluate` has done
    it), so the score matrix is not read once more for that.
    """
    inv = np.asarray(inverse_propensity, dtype=np.float64)
    whole = _per_document(scores, y_true, inv, P_KS, NDCG_KS, PSP_KS, None)
    out = {"total": whole.result()}
    for name, cols in label_groups.items():
        group = _per_document(scores, y_true, inv, P_KS, NDCG_KS, PSP_KS, np.asarray(cols, np.int64))
        out[name] = group.result()
    for name, mask in doc_groups.items():
        out[name] = whole.result(np.asarray(mask, dtype=bool))
    return out


def _ranking(
    scores: np.ndarray,
    y_true: sp.spmatrix | np.ndarray,
    inverse_propensity: np.ndarray | None,
    p_ks: Sequence[int],
    ndcg_ks: Sequence[int],
    psp_ks: Sequence[int],
    columns: np.ndarray | None,
    rows: np.ndarray | None,
) -> dict[str, float | None]:
    s = _core.as_scores(scores)
    y = _core.as_binary_csr(y_true, "y_true", shape=s.shape)
    ks = [*p_ks, *ndcg_ks, *psp_ks]
    if not ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in ks):
        raise DataError(f"`ks` must be integers >= 1, got {list(ks)!r}")
    inv = None
    if inverse_propensity is not None:
        inv = np.asarray(inverse_propensity, dtype=np.float64)
        if inv.shape != (s.shape[1],):
            raise DataError(f"`inverse_propensity` must have shape ({s.shape[1]},), got {inv.shape}")
    if rows is not None:
        index = np.asarray(rows)
        index = np.flatnonzero(index) if index.dtype == bool else index.astype(np.int64)
        s, y = s[index], y[index]
    cols = None if columns is None else np.asarray(columns, dtype=np.int64)
    return _per_document(s, y, inv, p_ks, ndcg_ks, psp_ks, cols).result()


def _per_document(
    s: np.ndarray,
    y: sp.csr_matrix,
    inv: np.ndarray | None,
    p_ks: Sequence[int],
    ndcg_ks: Sequence[int],
    psp_ks: Sequence[int],
    cols: np.ndarray | None,
) -> _PerDocument:
    """Each document's terms of the metrics, ranking only the labels ``cols`` (None: all)."""
    if cols is not None:
        y = y[:, cols].tocsr()
        inv = None if inv is None else inv[cols]
    n_docs, n_labels = s.shape[0], (s.shape[1] if cols is None else cols.size)
    terms = _PerDocument(p_ks, ndcg_ks, psp_ks, n_docs)
    if n_docs == 0 or n_labels == 0:
        terms.empty = True
        return terms
    max_k = max((*p_ks, *ndcg_ks, *psp_ks))
    for a, b in _core.row_chunks(n_docs, n_labels):
        block = s[a:b] if cols is None else s[a:b][:, cols]
        terms.add(a, _top_k_indices(np.ascontiguousarray(block), max_k), y[a:b], inv)
    return terms


class _PerDocument:
    """Each document's hits, nDCG, and achieved and best PSP gains, filled in row chunks."""

    def __init__(
        self, p_ks: Sequence[int], ndcg_ks: Sequence[int], psp_ks: Sequence[int], n_docs: int
    ) -> None:
        self.p_ks = [int(k) for k in p_ks]
        self.ndcg_ks = [int(k) for k in ndcg_ks]
        self.psp_ks = [int(k) for k in psp_ks]
        self.empty = False
        self.n_docs = n_docs
        max_k = max((*self.p_ks, *self.ndcg_ks, *self.psp_ks))
        self.discount = 1.0 / np.log2(np.arange(2, max_k + 2))
        self.ideal = np.concatenate([[0.0], np.cumsum(self.discount)])
        self.hits = {k: np.zeros(n_docs) for k in self.p_ks}
        self.ndcg = {k: np.zeros(n_docs) for k in self.ndcg_ks}
        self.psp = {k: (np.zeros(n_docs), np.zeros(n_docs)) for k in self.psp_ks}  # achieved, best

    def add(self, start: int, top: np.ndarray, y: sp.csr_matrix, inv: np.ndarray | None) -> None:
        n_docs, width = top.shape
        rows = slice(start, start + n_docs)
        n_labels = y.shape[1]
        doc = np.repeat(np.arange(n_docs, dtype=np.int64), width)
        positives = np.sort(_core.entry_keys(_core.row_of_entries(y), y.indices, n_labels))
        hit = _core.is_member(_core.entry_keys(doc, top.ravel(), n_labels), positives).reshape(n_docs, width)
        for k in self.p_ks:
            self.hits[k][rows] = hit[:, :k].sum(axis=1)
        n_true = np.diff(y.indptr)
        for k in self.ndcg_ks:
            dcg = hit[:, :k] @ self.discount[: min(k, width)]
            idcg = self.ideal[np.minimum(n_true, k)]
            np.divide(dcg, idcg, out=self.ndcg[k][rows], where=idcg > 0)
        if self.psp_ks:
            gain = np.where(hit, inv[top], 0.0)  # type: ignore[index]
            best = _best_gains(y, inv, max(self.psp_ks))  # type: ignore[arg-type]
            for k in self.psp_ks:
                self.psp[k][0][rows] = gain[:, :k].sum(axis=1)
                self.psp[k][1][rows] = best[:, :k].sum(axis=1)

    def result(self, mask: np.ndarray | None = None) -> dict[str, float | None]:
        """The metrics over all documents, or over those of a boolean ``mask``."""
        keys = [f"p@{k}" for k in self.p_ks] + [f"ndcg@{k}" for k in self.ndcg_ks]
        keys += [f"psp@{k}" for k in self.psp_ks]
        pick = slice(None) if mask is None else mask
        n_docs = self.n_docs if mask is None else int(np.count_nonzero(mask))
        if self.empty or n_docs == 0:
            return dict.fromkeys(keys)
        out: dict[str, float | None] = {
            f"p@{k}": float(v[pick].sum()) / (n_docs * k) for k, v in self.hits.items()
        }
        out |= {f"ndcg@{k}": float(v[pick].sum()) / n_docs for k, v in self.ndcg.items()}
        for k, (got, best) in self.psp.items():
            total = float(best[pick].sum())
            out[f"psp@{k}"] = float(got[pick].sum()) / total if total > 0 else None
        return out


def _best_gains(y: sp.csr_matrix, inv: np.ndarray, k: int) -> np.ndarray:
    """``(n_docs, k)``: each document's largest ``1/p`` among its true labels, descending, 0-padded."""
    n_docs = y.shape[0]
    doc = _core.row_of_entries(y)
    gain = inv[y.indices]
    order = np.lexsort((-gain, doc))  # by document, then by gain descending
    rank = np.arange(order.size) - y.indptr[doc[order]]
    keep = rank < k
    out = np.zeros((n_docs, k))
    out[doc[order][keep], rank[keep]] = gain[order][keep]
    return out


def precision_at_k(scores: np.ndarray, y_true: sp.spmatrix | np.ndarray, k: int = 1) -> float:
    """Mean over documents of (true labels among the ``k`` highest scores) / ``k``."""
    return ranking_metrics(scores, y_true, (k,))[f"p@{k}"]  # type: ignore[return-value]


def ndcg_at_k(scores: np.ndarray, y_true: sp.spmatrix | np.ndarray, k: int = 5) -> float:
    """Mean nDCG@k with binary gains (module docstring)."""
    return ranking_metrics(scores, y_true, (k,))[f"ndcg@{k}"]  # type: ignore[return-value]


def psp_at_k(
    scores: np.ndarray,
    y_true: sp.spmatrix | np.ndarray,
    class_freq: np.ndarray | Sequence[float],
    n_train: int,
    k: int = 5,
    a: float = PROPENSITY_A,
    b: float = PROPENSITY_B,
) -> float | None:
    """Normalised PSP@k with the propensities of the training counts ``class_freq`` of ``n_train``
    documents (module docstring); None when ``y_true`` has no true label."""
    inverse = 1.0 / propensities(class_freq, n_train, a, b)
    return ranking_metrics(scores, y_true, (k,), inverse)[f"psp@{k}"]
