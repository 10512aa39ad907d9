"""The balancing loss family of Huang et al. (EMNLP 2021) for PyTorch.

>>> from mlbalance.losses import get_loss
>>> loss = get_loss("db", [120, 30, 4], n_train=150, dataset="reuters")

* :mod:`~mlbalance.losses.functional` — pure functions: focal term, class-balanced weights,
  rebalancing weight, NTR bias, and the fused :func:`balanced_loss` that composes them.
* :class:`BalancedLoss` / :class:`LossConfig` — one module and its frozen settings.
* :func:`get_loss` and :data:`LOSS_NAMES` — the paper's eight presets; :data:`ALL_LOSS_NAMES` adds
  the losses that came after it (:mod:`~mlbalance.losses.long_tail`: ``"asl"``, ``"zlpr"``,
  ``"logit-adjusted"``).
* :func:`~mlbalance.losses.hf.hf_compute_loss` — an adapter for ``transformers.Trainer``.
"""

from mlbalance.losses.balanced import BalancedLoss, LossConfig
from mlbalance.losses.functional import (
    balanced_loss,
    class_balanced_weights,
    focal_loss,
    inverse_frequency,
    ntr_bias,
    rebalance_mu,
    rebalance_weights,
)
from mlbalance.losses.hf import hf_compute_loss
from mlbalance.losses.long_tail import (
    LongTailLoss,
    asymmetric_loss,
    logit_adjusted_loss,
    zlpr_loss,
)
from mlbalance.losses.presets import ALL_LOSS_NAMES, DATASET_SETTINGS, LOSS_NAMES, get_loss, loss_config

__all__ = [
    "ALL_LOSS_NAMES",
    "DATASET_SETTINGS",
    "LOSS_NAMES",
    "BalancedLoss",
    "LongTailLoss",
    "LossConfig",
    "asymmetric_loss",
    "balanced_loss",
    "class_balanced_weights",
    "focal_loss",
    "get_loss",
    "hf_compute_loss",
    "inverse_frequency",
    "logit_adjusted_loss",
    "loss_config",
    "ntr_bias",
    "rebalance_mu",
    "rebalance_weights",
    "zlpr_loss",
]
