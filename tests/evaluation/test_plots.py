"""The F1-by-group bar plot."""

from __future__ import annotations

import io

import pytest

from mlbalance.errors import DataError
from mlbalance.evaluation.plots import plot_f1_by_group


def rows():
    out = []
    for loss, base in (("bce", 0.5), ("db", 0.6)):
        for i, g in enumerate(("total", "head", "medium", "tail")):
            row = {"model": "tfidf", "loss": loss, "split": "test", "group": g}
            out.append({**row, "micro_f1": base - 0.1 * i, "macro_f1": base / 2})
    out[-1]["micro_f1"] = None  # a missing value is drawn as no bar
    return out


def test_plot_has_one_bar_per_run_and_group_and_saves_png():
    fig = plot_f1_by_group(rows())
    ax = fig.axes[0]
    assert len(ax.patches) == 8
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["tfidf/bce", "tfidf/db"]
    assert ax.patches[0].get_height() == pytest.approx(50.0)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_into_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert plot_f1_by_group(rows(), ax=ax, metric="macro_f1") is fig
    with pytest.raises(DataError, match="`metric` must be one of"):
        plot_f1_by_group(rows(), metric="accuracy")
    with pytest.raises(DataError, match="no result rows"):
        plot_f1_by_group(rows(), split="validation")
