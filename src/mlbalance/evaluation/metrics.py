"""Micro/macro precision, recall and F1 by label group and by document group, with ranking metrics.

Counts are taken per label once (tp, fp, fn) and reduced over any label subset, so the paper's
head/medium/tail columns are just subsets of one count vector. Conventions:

- ``macro_*`` averages over **all** labels of the group with scikit-learn's ``zero_division=0``: a
  label with no true and no predicted positive counts as 0 — the paper's convention;
- ``macro_f1_present`` averages F1 over the labels of the group that occur at least once among the true labels
  in the evaluated documents;
- a group with no labels (or, for document groups, no documents) gets None for every metric;
- :func:`evaluate` adds the ranking metrics of the scores (:mod:`mlbalance.evaluation.ranking`:
  ``p@k``, ``ndcg@k``, ``psp@k``) to every row; a label group ranks only its own labels.

Labels may be ``scipy.sparse`` or dense: the numbers are identical.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from mlbalance.errors import DataError
from mlbalance.evaluation import _core, ranking
from mlbalance.evaluation.thresholds import Thresholds

if TYPE_CHECKING:
    from mlbalance.data.stats import LabelStats

LABEL_GROUPS: tuple[str, ...] = ("total", "head", "medium", "tail")

ROW_KEYS: tuple[str, ...] = (
    "split",
    "group",
    *_core.METRIC_KEYS,
    "threshold",
    "threshold_method",
    "n_docs",
    "n_labels",
    *ranking.RANKING_KEYS,
)


def evaluate(
    scores: np.ndarray,
    y_true: sp.spmatrix | np.ndarray,
    stats: LabelStats,
    thresholds: Thresholds,
    split: str = "test",
    doc_bins: Sequence[tuple[str, int, int | None]] | None = None,
    *,
    propensity_a: float = ranking.PROPENSITY_A,
    propensity_b: float = ranking.PROPENSITY_B,
) -> list[dict[str, Any]]:
    """The rows of the paper's Tables 2 and 3 for one score matrix, with ranking metrics.

    Args:
        scores: dense ``(n_docs, C)`` scores of the evaluated split.
        y_true: its binary labels, sparse or dense.
        stats: the **training** split's label statistics (groups by train frequency, document bins).
        thresholds: tuned on validation (:func:`~mlbalance.evaluation.tune_thresholds`).
        split: the name written in each row.
        doc_bins: Table 3 bins ``(name, low, high|None)`` of documents by number of true labels,
            instead of ``stats.doc_bins``.
        propensity_a, propensity_b: ``A`` and ``B`` of the PSP@k propensities
            (:func:`~mlbalance.evaluation.ranking.propensities` of the training counts).

    Returns:
        One dict per group: ``"total"``, ``"head"``, ``"medium"``, ``"tail"`` (label subsets), then
        the document groups of ``stats.doc_bins`` (all labels, documents by their number of true
        labels). Keys: :data:`ROW_KEYS`. The caller adds ``model`` and ``loss``.
    """
    s = _core.as_scores(scores)
    y = _core.as_binary_csr(y_true, "y_true", shape=s.shape)
    rows = evaluate_predictions(
        y, thresholds._predict(s), stats, split=split, thresholds=thresholds, doc_bins=doc_bins
    )
    inverse = 1.0 / ranking.propensities(stats.class_freq, stats.n_train, propensity_a, propensity_b)
    doc_masks = (stats if doc_bins is None else _with_bins(stats, doc_bins)).doc_group_masks(y)
    by_group = ranking.group_metrics(s, y, inverse, stats.group_indices(), doc_masks)
    for row in rows:
        row.update(by_group[row["group"]])
    return rows


def _with_bins(stats: LabelStats, doc_bins: Sequence[tuple[str, int, int | None]]) -> LabelStats:
    return dataclasses.replace(stats, doc_bins=tuple(tuple(b) for b in doc_bins))  # type: ignore[misc]


def evaluate_predictions(
    y_true: sp.spmatrix | np.ndarray,
    y_pred: sp.spmatrix | np.ndarray,
    stats: LabelStats,
    split: str = "test",
    thresholds: Thresholds | None = None,
    doc_bins: Sequence[tuple[str, int, int | None]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`evaluate` for 0/1 predictions already made (same rows and keys)."""
    y = _core.as_binary_csr(y_true, "y_true")
    p = _core.as_binary_csr(y_pred, "y_pred", shape=y.shape)
    n_docs, n_labels = y.shape
    if stats.n_labels != n_labels:
        raise DataError(
            f"the label statistics have {stats.n_labels} labels but y_true has {n_labels} columns"
        )
    common = {
        # the one global threshold; None for per-label ones (per-label-cv's ``value`` is only a fallback)
        "threshold": None if thresholds is None or thresholds.per_label is not None else thresholds.value,
        "threshold_method": None if thresholds is None else thresholds.method,
    }
    if doc_bins is not None:
        stats = _with_bins(stats, doc_bins)
    counts = _core.label_counts(y, p)
    rows = []
    groups = {"total": np.arange(n_labels), **stats.group_indices()}
    for name in LABEL_GROUPS:
        idx = groups[name]
        values = _core.reduce_counts(counts.tp[idx], counts.fp[idx], counts.fn[idx])
        rows.append(_row(split, name, values, common, n_docs, idx.size))
    for name, mask in stats.doc_group_masks(y).items():
        n_in = int(mask.sum())
        if n_in == 0:
            values = dict.fromkeys(_core.METRIC_KEYS)
        else:
            sub = _core.label_counts(y, p, rows=mask)
            values = _core.reduce_counts(sub.tp, sub.fp, sub.fn)
        rows.append(_row(split, name, values, common, n_in, n_labels))
    return rows


def _row(split: str, group: str, values: dict, common: dict, n_docs: int, n_labels: int) -> dict[str, Any]:
    return {
        "split": split,
        "group": group,
        **values,
        **common,
        "n_docs": int(n_docs),
        "n_labels": int(n_labels),
        **dict.fromkeys(ranking.RANKING_KEYS),  # from the scores: filled in by evaluate()
    }


def label_subset_f1(
    y_true: sp.spmatrix | np.ndarray, y_pred: sp.spmatrix | np.ndarray, labels: Sequence[int] | np.ndarray
) -> dict[str, float | None]:
    """Micro/macro precision, recall, F1 restricted to the columns ``labels`` (any subset)."""
    y = _core.as_binary_csr(y_true, "y_true")
    p = _core.as_binary_csr(y_pred, "y_pred", shape=y.shape)
    idx = np.asarray(labels, dtype=np.int64)
    counts = _core.label_counts(y, p)
    return _core.reduce_counts(counts.tp[idx], counts.fp[idx], counts.fn[idx])


def threshold_sweep(
    scores: np.ndarray,
    y_true: sp.spmatrix | np.ndarray,
    thresholds: Sequence[float] | np.ndarray,
    label_groups: dict[str, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """Micro/macro F1 of every label group at every global threshold, in one pass over the scores.

    Args:
        scores: dense ``(n_docs, C)`` scores.
        y_true: binary labels, sparse or dense.
        thresholds: global thresholds to try (``score >= t`` in the scores' dtype).
        label_groups: ``{name: column indices}``; default ``{"total": all}``. Pass
            ``{"total": ..., **stats.group_indices()}`` for the paper's four groups.

    Returns:
        One row per (threshold, group), ascending thresholds: ``threshold, group`` and the metric keys
        of :func:`evaluate`.
    """
    s = _core.as_scores(scores)
    y = _core.as_binary_csr(y_true, "y_true", shape=s.shape)
    grid = np.unique(np.asarray(thresholds, dtype=np.float64).ravel())
    if grid.size == 0 or not np.isfinite(grid).all():
        raise DataError(f"`thresholds` must be a non-empty sequence of finite numbers, got {thresholds!r}")
    predicted, tp, support = _core.grid_counts(s, y, grid)
    fp = predicted - tp
    fn = support[None, :] - tp
    groups = label_groups if label_groups is not None else {"total": np.arange(s.shape[1])}
    per_group = {
        name: _core.reduce_counts(tp[:, idx], fp[:, idx], fn[:, idx])
        for name, idx in ((n, np.asarray(i, dtype=np.int64)) for n, i in groups.items())
    }
    rows = []
    for g, t in enumerate(grid.tolist()):
        for name, values in per_group.items():
            row: dict[str, Any] = {"threshold": t, "group": name}
            for key in _core.METRIC_KEYS:
                v = values[key]
                v = None if v is None else float(v[g])
                row[key] = None if v is None or np.isnan(v) else v
            rows.append(row)
    return rows


def per_label_table(
    y_true: sp.spmatrix | np.ndarray,
    y_pred: sp.spmatrix | np.ndarray,
    stats: LabelStats | None = None,
    names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per label: ``label, group, train_freq, support, tp, fp, fn, precision, recall, f1``.

    ``support`` counts the documents carrying the label in ``y_true``; ``train_freq`` and ``group`` come from
    ``stats`` (None without it). Precision/recall/F1 use ``zero_division=0``.
    """
    y = _core.as_binary_csr(y_true, "y_true")
    p = _core.as_binary_csr(y_pred, "y_pred", shape=y.shape)
    n_labels = y.shape[1]
    if names is None:
        names = stats.names if stats is not None else tuple(str(i) for i in range(n_labels))
    if len(names) != n_labels:
        raise DataError(f"{len(names)} label names were given for {n_labels} labels")
    if stats is not None and stats.n_labels != n_labels:
        raise DataError(
            f"the label statistics have {stats.n_labels} labels but y_true has {n_labels} columns"
        )
    c = _core.label_counts(y, p)
    prec = _core._ratio(c.tp, c.tp + c.fp)
    rec = _core._ratio(c.tp, c.tp + c.fn)
    f1 = _core._ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn)
    group = np.full(n_labels, None, dtype=object)
    freq: list[int | None] = [None] * n_labels
    if stats is not None:
        for gname, mask in stats.group_masks().items():
            group[mask] = gname
        freq = stats.class_freq.tolist()
    return [
        {
            "label": names[i],
            "group": group[i],
            "train_freq": freq[i],
            "support": int(c.tp[i] + c.fn[i]),
            "tp": int(c.tp[i]),
            "fp": int(c.fp[i]),
            "fn": int(c.fn[i]),
            "precision": float(prec[i]),
            "recall": float(rec[i]),
            "f1": float(f1[i]),
        }
        for i in range(n_labels)
    ]
