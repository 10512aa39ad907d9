"""The dataset figure: frequency curve and co-occurrence heatmap."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mlbalance.data.stats import LabelStats, cooccurrence
from mlbalance.errors import ConfigError
from mlbalance.plots import (
    binned_cooccurrence,
    frequency_order,
    plot_cooccurrence,
    plot_dataset,
    plot_label_frequencies,
    save_figure,
)


def test_plot_dataset_png_and_pdf(tmp_path, tiny):
    fig = plot_dataset(tiny)
    assert len(fig.axes) == 3  # two panels and the colour bar
    png = save_figure(fig, tmp_path / "fig.png", dpi=50)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = save_figure(fig, tmp_path / "fig.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ConfigError, match="figure file must end in one of"):
        save_figure(fig, tmp_path / "fig.gif")


def test_frequency_panel_on_given_axes(tiny):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert plot_label_frequencies(tiny.stats(), ax=ax) is fig
    heights = sorted((p.get_height() for p in ax.patches), reverse=True)
    np.testing.assert_array_equal(heights, np.sort(tiny.stats().class_freq)[::-1])
    assert ax.get_yscale() == "linear"
    assert plot_label_frequencies(tiny.stats(), log=True).axes[0].get_yscale() == "log"


def test_frequency_order():
    stats = LabelStats(names=("a", "b", "c", "d"), class_freq=np.array([2, 9, 2, 0]), n_train=10)
    assert frequency_order(stats).tolist() == [1, 0, 2, 3]


def test_binned_cooccurrence_is_block_mean():
    rng = np.random.default_rng(0)
    y = sp.csr_matrix((rng.random((300, 40)) < 0.1).astype(np.float32))
    order = rng.permutation(40)
    full, edges = binned_cooccurrence(y, order, max_labels=40)
    np.testing.assert_allclose(full, cooccurrence(y)[order][:, order], rtol=1e-6)
    assert edges.tolist() == list(range(41))
    binned, edges = binned_cooccurrence(y, order, max_labels=8)
    assert binned.shape == (8, 8)
    assert binned[2, 5] == pytest.approx(full[edges[2] : edges[3], edges[5] : edges[6]].mean(), rel=1e-5)


def test_heatmap_uses_power_scale(tiny):
    fig = plot_cooccurrence(tiny.labels("train"), tiny.stats(), max_labels=10)
    image = fig.axes[0].images[0]
    assert image.get_array().shape == (10, 10)
    assert image.norm.gamma == 0.25
    with pytest.raises(ConfigError, match="`gamma` must be in"):
        plot_cooccurrence(tiny.labels("train"), tiny.stats(), gamma=0)
