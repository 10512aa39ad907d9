"""Dataset figures: the paper's Figure 2/3 — sorted label frequencies over a co-occurrence heatmap.

Every function takes an optional matplotlib ``ax`` (or builds its own figure), returns the
:class:`~matplotlib.figure.Figure`, and never calls ``show()``. Figures are built without pyplot, so
nothing here touches a GUI backend. :func:`save_figure` writes PNG, PDF or SVG atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

from mlbalance._atomic import atomic_save
from mlbalance.data.stats import LabelStats, cooccurrence
from mlbalance.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mlbalance.data.corpus import Corpus

GROUP_COLOURS = {"head": "#1f77b4", "medium": "#ff7f0e", "tail": "#2ca02c"}
FORMATS = (".png", ".pdf", ".svg")


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def frequency_order(stats: LabelStats) -> np.ndarray:
    """Label columns sorted by decreasing training frequency (ties by name), as in the paper's plots."""
    names = np.asarray(stats.names)
    return np.lexsort((names, -stats.class_freq))


def plot_label_frequencies(stats: LabelStats, ax: Axes | None = None, log: bool | None = None) -> Figure:
    """Training frequency of each label, sorted, coloured by head/medium/tail group.

    Args:
        stats: the training split's statistics.
        ax: axes to draw on; None creates a figure.
        log: log-scaled y axis; None chooses it when the largest frequency is over 50 times the
            smallest non-zero one (a long tail).
    """
    fig, ax = _axes(ax, (7.0, 3.0))
    order = frequency_order(stats)
    freq = stats.class_freq[order]
    ranks = np.arange(1, freq.shape[0] + 1)
    masks = stats.group_masks()
    many = freq.shape[0] > 300
    for group, colour in GROUP_COLOURS.items():
        sel = masks[group][order]
        if not sel.any():
            continue
        label = f"{group} ({int(sel.sum())})"
        if many:
            ax.fill_between(ranks[sel], freq[sel], step="mid", color=colour, alpha=0.8, label=label, lw=0)
        else:
            ax.bar(ranks[sel], freq[sel], width=1.0, color=colour, label=label)
    positive = freq[freq > 0]
    if log is None:
        log = positive.size > 0 and positive.max() > 50 * positive.min()
    if log:
        ax.set_yscale("log")
    for cut, style in ((stats.head_min, "--"), (stats.tail_max, ":")):
        ax.axhline(cut, color="0.3", lw=0.8, ls=style)
    ax.set_xlim(0.5, freq.shape[0] + 0.5)
    ax.set_xlabel("labels, by training frequency")
    ax.set_ylabel("training documents")
    ax.legend(frameon=False, fontsize="small", title=f"head ≥ {stats.head_min}, tail ≤ {stats.tail_max}")
    return fig


def binned_cooccurrence(
    y: sp.spmatrix | np.ndarray, order: np.ndarray, max_labels: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """``p(i|j)`` in the given label order, averaged over blocks when there are more than
    ``max_labels`` labels.

    Returns:
        ``(matrix, edges)``: a dense ``(B, B)`` array and the ``B + 1`` rank boundaries of the blocks
        (``B = C`` when no binning was needed).
    """
    n_labels = order.shape[0]
    cond = cooccurrence(y, dense_max_labels=0)[order][:, order].tocsr()
    if n_labels <= max_labels:
        return cond.toarray(), np.arange(n_labels + 1)
    edges = np.unique(np.linspace(0, n_labels, max_labels + 1).round().astype(np.int64))
    block = np.repeat(np.arange(edges.shape[0] - 1), np.diff(edges))
    assign = sp.csr_matrix(
        (np.ones(n_labels, dtype=np.float64), (np.arange(n_labels), block)),
        shape=(n_labels, edges.shape[0] - 1),
    )
    sums = (assign.T @ cond.astype(np.float64) @ assign).toarray()
    size = np.diff(edges).astype(np.float64)
    return sums / np.outer(size, size), edges


def plot_cooccurrence(
    y: sp.spmatrix | np.ndarray,
    stats: LabelStats,
    ax: Axes | None = None,
    max_labels: int = 200,
    gamma: float = 0.25,
    colorbar: Literal["right", "bottom"] = "right",
) -> Figure:
    """Heatmap of ``p(row label | column label)``, labels ordered by decreasing training frequency.

    The colour scale is a power law with exponent ``gamma`` (0.25: the quad-root scale the paper used
    for PubMed), so rare co-occurrences stay visible. With more than ``max_labels`` labels the matrix
    is averaged over blocks of consecutive frequency ranks.
    """
    from matplotlib.colors import PowerNorm

    if not 0 < gamma <= 1:
        raise ConfigError(f"`gamma` must be in (0, 1], got {gamma}")
    fig, ax = _axes(ax, (6.0, 5.0))
    matrix, edges = binned_cooccurrence(y, frequency_order(stats), max_labels)
    extent = (0.5, edges[-1] + 0.5, edges[-1] + 0.5, 0.5)
    image = ax.imshow(
        matrix,
        cmap="viridis",
        norm=PowerNorm(gamma=gamma, vmin=0.0, vmax=1.0),
        interpolation="nearest",
        aspect="auto",
        extent=extent,
    )
    fig.colorbar(
        image,
        ax=ax,
        label=f"p(label i | label j), colour ∝ p^{gamma:g}",
        location=colorbar,
        shrink=0.8 if colorbar == "bottom" else 1.0,
    )
    binned = (
        f" (mean over blocks of ~{edges[-1] / (edges.shape[0] - 1):.0f})"
        if matrix.shape[0] < edges[-1]
        else ""
    )
    ax.set_xlabel("conditioning label j, by frequency rank" + binned)
    ax.set_ylabel("label i, by frequency rank")
    return fig


def plot_dataset(corpus: Corpus, max_labels: int = 200, title: str | None = None) -> Figure:
    """The paper's Figure 2/3 for a corpus: frequency curve on top of the co-occurrence heatmap.

    Both panels use the training split and share the frequency order of the labels.
    """
    from matplotlib.figure import Figure

    stats = corpus.stats()
    fig = Figure(figsize=(6.5, 9.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=(1, 2.4))
    plot_label_frequencies(stats, ax=top)
    plot_cooccurrence(corpus.labels("train"), stats, ax=bottom, max_labels=max_labels, colorbar="bottom")
    fig.suptitle(
        title
        or f"{corpus.name}\n{stats.n_labels:,} labels, {stats.n_train:,} training documents, "
        f"{stats.label_cardinality:.2f} labels per document",
        fontsize="medium",
    )
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Save ``fig`` as PNG, PDF or SVG (by the suffix of ``path``), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"figure file must end in one of {FORMATS}, got {path.name!r}")
    atomic_save(path, lambda tmp: fig.savefig(tmp, format=suffix[1:], dpi=dpi))
    return path
