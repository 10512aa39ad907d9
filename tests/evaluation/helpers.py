"""Random multi-label data for the evaluation tests: empty labels, empty documents, tied scores."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mlbalance.data.stats import LabelStats


def make_data(seed: int, n: int = 120, c: int = 25, ties: bool = False, kind: str = "probability"):
    """``(scores float32 (n, c), y dense int8)`` with labels of no positive and documents of no label.

    With ``ties`` the scores are rounded to a coarse grid so many are equal.
    """
    rng = np.random.default_rng(seed)
    rate = rng.uniform(0.01, 0.3, size=c)
    y = (rng.random((n, c)) < rate).astype(np.int8)
    y[:, :3] = 0  # labels with no positive
    y[: n // 10] = 0  # documents with no label
    s = np.clip(0.35 * y + rng.normal(0.4, 0.15, size=(n, c)), 0, 1)
    if kind == "decision":
        s = 4 * s - 2
    if ties:
        s = np.round(s * 20) / 20
    return s.astype(np.float32), y


def make_stats(y_train: np.ndarray, head_min: int = 12, tail_max: int = 4, **kw) -> LabelStats:
    return LabelStats.from_labels(
        sp.csr_matrix(y_train),
        [f"L{i}" for i in range(y_train.shape[1])],
        head_min=head_min,
        tail_max=tail_max,
        **kw,
    )
