"""An adapter for Hugging Face ``transformers.Trainer(compute_loss_func=...)``.

``Trainer`` calls ``compute_loss_func(outputs, labels, num_items_in_batch=None)`` with the model's
outputs (the labels were taken out of the inputs first). The adapter feeds ``outputs.logits`` and the
multi-hot ``labels`` to a :class:`~mlbalance.losses.BalancedLoss`.

Gradient accumulation: when ``Trainer`` passes ``num_items_in_batch`` (the number of label entries
over all accumulated micro-batches), the adapter returns ``sum / num_items_in_batch`` so the
accumulated gradient equals the gradient of the configured per-element mean over the whole batch
(``Trainer`` does not divide a custom loss by the accumulation steps itself). Without it, the
configured reduction is used.

No ``transformers`` import is needed here; the adapter only reads ``outputs["logits"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from mlbalance.losses.balanced import BalancedLoss
from mlbalance.losses.long_tail import LongTailLoss


class HFComputeLoss:
    """Callable ``(outputs, labels, num_items_in_batch=None) -> loss`` wrapping a ``BalancedLoss``.

    Args:
        loss: the loss; its statistics buffers are moved to the logits' device on first use.
    """

    def __init__(self, loss: BalancedLoss | LongTailLoss) -> None:
        if not isinstance(loss, (BalancedLoss, LongTailLoss)):
            raise ValueError(f"`loss` must be a BalancedLoss or LongTailLoss, got {type(loss).__name__}")
        self.loss = loss

    def __call__(self, outputs: Any, labels: Tensor, num_items_in_batch: Any = None) -> Tensor:
        logits = outputs["logits"] if isinstance(outputs, dict) or hasattr(outputs, "keys") else outputs[0]
        if self.loss.class_freq.device != logits.device:
            self.loss.to(logits.device)
        labels = labels.to(logits.device)
        reduction = self.loss.config.reduction
        if num_items_in_batch is None or reduction != "mean":
            return self.loss(logits, labels)
        count = num_items_in_batch.item() if torch.is_tensor(num_items_in_batch) else num_items_in_batch
        total = self.loss(logits, labels, reduction="sum")
        if getattr(self.loss, "per_document", False):  # ZLPR: one term per document, not per label
            count = count / max(logits.shape[-1], 1)
        return total / max(float(count), 1.0)

    def __repr__(self) -> str:
        return f"HFComputeLoss({self.loss.extra_repr()})"


def hf_compute_loss(loss: BalancedLoss | LongTailLoss) -> Callable[..., Tensor]:
    """Wrap ``loss`` for ``transformers.Trainer(compute_loss_func=hf_compute_loss(loss))``.

    Example:
        >>> from mlbalance.losses import get_loss, hf_compute_loss
        >>> compute_loss_func = hf_compute_loss(get_loss("db", [50, 7, 1], n_train=60))
    """
    return HFComputeLoss(loss)
