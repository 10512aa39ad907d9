"""Lazy Adam for the TF-IDF head: the sparse first layer's moments move only on the rows a batch uses.

A batch of TF-IDF rows touches a few thousand of the first layer's rows (its terms), but dense AdamW
reads and writes every row's weights and both moments at every step: at PubMed size (100,000 terms ×
256 units) that sweep was 30 % of an epoch (docs/scale.md). ``torch.optim.SparseAdam`` updates only
the rows present in the gradient (the "lazy Adam" of TensorFlow Addons and fastText-style trainers):
a row's moments decay only when the row is used, so it is not dense Adam's result, which is why it
is an optimiser of its own (``optimizer="lazy-adam"``) and not a faster ``"adamw"``. The other
parameters (hidden-layer bias, output layer) are dense and go to ``torch.optim.AdamW``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class LazyAdam:
    """``SparseAdam`` on ``sparse_params`` (row-sparse gradients), ``AdamW`` on ``dense_groups``.

    Args:
        sparse_params: parameters whose gradients are sparse COO row gradients (``EmbeddingBag`` with
            ``sparse=True``); no weight decay (it would make every gradient dense).
        dense_groups: parameter groups of ``torch.optim.AdamW`` (each may set ``weight_decay``).
        lr: the learning rate of both.
    """

    def __init__(
        self, sparse_params: Sequence[nn.Parameter], dense_groups: Sequence[dict[str, Any]], lr: float
    ) -> None:
        self.sparse = torch.optim.SparseAdam(list(sparse_params), lr=lr)
        groups = [group for group in dense_groups if group["params"]]
        self.dense = torch.optim.AdamW(groups, lr=lr) if groups else None

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.sparse] + ([self.dense] if self.dense is not None else [])

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self._optimizers():
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for optimizer in self._optimizers():
            optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        """Both optimisers' states (what a checkpoint stores for an exact resume)."""
        return {
            "sparse": self.sparse.state_dict(),
            "dense": None if self.dense is None else self.dense.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sparse.load_state_dict(state["sparse"])
        if self.dense is not None:
            self.dense.load_state_dict(state["dense"])
