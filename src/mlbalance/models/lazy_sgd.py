"""Lazy momentum SGD for row-sparse gradients: the TF-IDF head's optimiser (exactly dense SGD's result)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class LazySGD:
    """SGD with (Nesterov) momentum that touches only the rows a batch uses — same result as dense SGD.

    The first layer's gradient is row-sparse (a batch only uses the rows of its terms), but momentum
    moves every row at every step, so dense SGD costs ``O(n_features × width)`` per step. For a row
    left untouched for ``k`` steps, momentum's effect has a closed form: the buffer decays by ``μ^k``
    and the weights move by ``−lr · μ(1−μ^k)/(1−μ) · buf`` (Nesterov: ``μ²(1−μ^k)/(1−μ)``). Rows are
    brought up to date by :meth:`prepare` before a batch uses them, and all at once by
    :meth:`finalize` (before validation, scoring or a checkpoint), after which weights and buffers
    equal those of ``torch.optim.SGD`` up to rounding. Without weight decay only (L2 makes every
    gradient dense).

    Args:
        sparse_params: parameters whose gradients are sparse COO row gradients (``EmbeddingBag``
            with ``sparse=True``).
        dense_params: the other parameters, updated by ``torch.optim.SGD`` with the same settings.
        lr, momentum, nesterov: as ``torch.optim.SGD``.
    """

    def __init__(
        self,
        sparse_params: Sequence[nn.Parameter],
        dense_params: Sequence[nn.Parameter],
        lr: float,
        momentum: float = 0.9,
        nesterov: bool = True,
    ) -> None:
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov) and momentum > 0
        self.sparse_params = list(sparse_params)
        self.dense = (
            torch.optim.SGD(list(dense_params), lr=lr, momentum=momentum, nesterov=self.nesterov)
            if dense_params
            else None
        )
        self.buffers = [
            torch.zeros_like(p, memory_format=torch.contiguous_format) for p in self.sparse_params
        ]
        self.last = [torch.zeros(p.shape[0], dtype=torch.int64) for p in self.sparse_params]
        self.steps = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.sparse_params:
            p.grad = None
        if self.dense is not None:
            self.dense.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        mu, lr = self.momentum, self.lr
        for p, buf, last in zip(self.sparse_params, self.buffers, self.last):
            if p.grad is None:
                continue
            grad = p.grad.coalesce()
            rows, values = grad.indices()[0], grad.values()
            self._catch_up(p, buf, last, rows, self.steps - 1)
            new_buf = buf[rows].mul_(mu).add_(values)
            buf[rows] = new_buf
            update = values.add(new_buf, alpha=mu) if self.nesterov else new_buf
            p.index_add_(0, rows, update, alpha=-lr)
            last[rows] = self.steps
        if self.dense is not None:
            self.dense.step()

    @torch.no_grad()
    def prepare(self, rows: torch.Tensor) -> None:
        """Bring ``rows`` (of every sparse parameter) up to date; call it before the forward pass."""
        for p, buf, last in zip(self.sparse_params, self.buffers, self.last):
            self._catch_up(p, buf, last, torch.unique(rows), self.steps)

    @torch.no_grad()
    def finalize(self) -> None:
        """Apply the pending momentum of every row: weights and buffers as after dense SGD."""
        for p, buf, last in zip(self.sparse_params, self.buffers, self.last):
            self._catch_up(p, buf, last, torch.arange(p.shape[0]), self.steps)

    def _catch_up(
        self, p: torch.Tensor, buf: torch.Tensor, last: torch.Tensor, rows: torch.Tensor, now: int
    ) -> None:
        mu = self.momentum
        skipped = now - last[rows]
        rows = rows[skipped > 0]
        if rows.numel() == 0 or mu == 0.0:
            last[rows] = now
            return
        k = skipped[skipped > 0].to(torch.float64)
        decay = torch.pow(torch.tensor(mu, dtype=torch.float64), k)
        first = mu * mu if self.nesterov else mu
        moved = (first * (1.0 - decay) / (1.0 - mu)).to(p.dtype).unsqueeze(1)
        b = buf[rows]
        p.index_add_(0, rows, b * moved, alpha=-self.lr)
        buf[rows] = b * decay.to(p.dtype).unsqueeze(1)
        last[rows] = now

    def state_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "buffers": self.buffers,
            "last": self.last,
            "dense": self.dense.state_dict() if self.dense is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.buffers = [b.clone() for b in state["buffers"]]
        self.last = [t.clone() for t in state["last"]]
        if self.dense is not None:
            self.dense.load_state_dict(state["dense"])
