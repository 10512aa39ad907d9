"""What a run and a comparison write for people: the Markdown report and the figures, from metric rows.

The tables themselves (Table 2, Table 3, ranking) come from :mod:`mlbalance.evaluation.report`;
figures need the ``plots`` extra and are left out without it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus

log = logging.getLogger(__name__)


def run_report(
    rows: Sequence[Mapping[str, Any]], title: str, timing: Mapping[str, float] | None = None
) -> str:
    """Markdown: Table 2, Table 3 and the ranking metrics of the test split, then each run's thresholds
    (and times)."""
    from mlbalance.evaluation.report import ranking_markdown, table2_markdown, table3_markdown

    test = [dict(r) for r in rows if r["split"] == "test"]
    val = [dict(r) for r in rows if r["split"] == "validation"]
    parts = [f"# {title}\n"]
    if test:
        parts += ["## Table 2 — test, micro-F1 / macro-F1 (%) by label group\n", table2_markdown(test)]
        parts += [
            "## Table 3 — test, micro-F1 / macro-F1 (%) by labels per document\n",
            table3_markdown(test),
        ]
        parts += ["## Ranking — test, P@k / nDCG@k / PSP@k (%)\n", ranking_markdown(test)]
    if val:
        parts += ["## Validation (thresholds tuned here)\n", table2_markdown(val)]
    parts += ["## Thresholds\n", thresholds_markdown(rows, timing)]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)


def thresholds_markdown(rows: Sequence[Mapping[str, Any]], timing: Mapping[str, float] | None = None) -> str:
    """One line per run: thresholding method, global threshold, validation micro-F1 (and seconds)."""
    head = ["model", "loss", "thresholding", "threshold", "validation micro-F1"]
    if timing is not None:
        head.append("seconds")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in rows:
        if row["split"] != "validation" or row["group"] != "total":
            continue
        value = row.get("threshold")
        cells = [
            str(row["model"]),
            str(row["loss"] or "-"),
            str(row.get("threshold_method") or "-"),
            "per label" if value is None else f"{value:.4g}",
            f"{100 * row['micro_f1']:.2f}" if row.get("micro_f1") is not None else "n/a",
        ]
        if timing is not None:
            seconds = _cell_seconds(row, timing)
            cells.append("reused" if seconds == 0.0 else ("-" if seconds is None else f"{seconds:.1f}"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell_seconds(row: Mapping[str, Any], timing: Mapping[str, float]) -> float | None:
    """The seconds of the row's cell (summed over its seeds for a row of several seeds)."""
    name = row["model"] if row["loss"] is None else f"{row['model']}-{row['loss']}"
    if not row.get("seeds"):
        return timing.get(name)
    times = [timing.get(f"{name}-seed{seed}") for seed in str(row["seeds"]).split(",")]
    return None if None in times else sum(times)  # type: ignore[arg-type]


def run_title(model: str, loss: str | None, corpus_name: str) -> str:
    return f"{model} on {corpus_name}" if loss is None else f"{model} · {loss} on {corpus_name}"


def run_figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A run's figures by file stem; none without the plots extra (the run then has no ``plots/``)."""
    from mlbalance._extras import has_extra

    if not has_extra("plots"):
        log.info("no figures: matplotlib is not installed (pip install 'mlbalance[plots]')")
        return {}
    return {"f1_by_group": _f1_figure(rows)}


def _f1_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Test micro-F1 and macro-F1 by label group, one bar per run, in two panels."""
    from matplotlib.figure import Figure

    from mlbalance.evaluation.plots import plot_f1_by_group

    test = [dict(r) for r in rows if r["split"] == "test"] or [dict(r) for r in rows]
    n_runs = len({(r["model"], r["loss"]) for r in test})
    fig = Figure(figsize=(min(10.0, max(6.5, 0.3 * 4 * n_runs)), 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    plot_f1_by_group(test, ax=top, metric="micro_f1")
    plot_f1_by_group(test, ax=bottom, metric="macro_f1")
    bottom.get_legend().remove()
    return fig


def dataset_figure(corpus: Corpus) -> Any:
    from mlbalance.plots import plot_dataset

    return plot_dataset(corpus)
