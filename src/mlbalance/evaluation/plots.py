"""A bar plot of F1 by label group for several runs side by side.

Uses :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI backend); never shows
anything. Save with ``fig.savefig("f1.png")``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlbalance.errors import DataError
from mlbalance.evaluation.metrics import LABEL_GROUPS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_METRICS = {"micro_f1": "micro-F1", "macro_f1": "macro-F1", "macro_f1_present": "macro-F1 (present labels)"}


def plot_f1_by_group(
    rows: Iterable[Mapping[str, Any]],
    ax: Axes | None = None,
    metric: str = "micro_f1",
    groups: Sequence[str] = LABEL_GROUPS,
    split: str | None = None,
) -> Figure:
    """Grouped bars: one cluster per label group, one bar per run (``model/loss``), F1 in percent.

    Rows with ``<metric>_std`` (means over seeds, :mod:`mlbalance.evaluation.seeds`) get error bars
    of one standard deviation.

    Args:
        rows: result rows with ``model`` and ``loss`` (as for the report tables).
        ax: draw into these axes; default a new figure.
        metric: ``"micro_f1"``, ``"macro_f1"`` or ``"macro_f1_present"``.
        groups: the groups to show, in order (document groups work too).
        split: only rows of this split.

    Returns:
        The figure holding the axes.
    """
    if metric not in _METRICS:
        raise DataError(f"`metric` must be one of {tuple(_METRICS)}, got {metric!r}")
    runs: dict[str, dict[str, Any]] = {}
    stds: dict[str, dict[str, Any]] = {}
    for row in rows:
        if split is not None and row.get("split") != split:
            continue
        label = "/".join(str(row[k]) for k in ("model", "loss") if row.get(k)) or "run"
        runs.setdefault(label, {})[str(row.get("group"))] = row.get(metric)
        stds.setdefault(label, {})[str(row.get("group"))] = row.get(f"{metric}_std")
    if not runs:
        raise DataError("no result rows to plot")
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(min(12.0, max(6.0, 0.3 * len(groups) * len(runs))), 4.5), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure  # type: ignore[assignment]
    x = np.arange(len(groups))
    width = 0.8 / len(runs)
    for i, (label, values) in enumerate(runs.items()):
        heights = [100.0 * values[g] if values.get(g) is not None else np.nan for g in groups]
        errors = [100.0 * stds[label][g] if stds[label].get(g) is not None else np.nan for g in groups]
        has_errors = not all(np.isnan(errors))
        ax.bar(
            x - 0.4 + width * (i + 0.5),
            heights,
            width,
            label=label,
            yerr=errors if has_errors else None,
            capsize=2 if has_errors else 0,
        )
    ax.set_xticks(x, list(groups))
    ax.set_ylabel(f"{_METRICS[metric]} (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize="small", ncols=min(5, len(runs)), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    ax.set_title(f"{_METRICS[metric]} by group")
    return fig  # type: ignore[return-value]
