"""``BalancedLoss``: one ``nn.Module`` covering the whole balancing loss family.

Hyper-parameters live in a frozen :class:`LossConfig`; class statistics become buffers (they follow
``.to(device)`` and are not saved in ``state_dict``: they are derived from the training labels, which
travel with a model separately). The presets of the paper are settings of this one class; see
:func:`mlbalance.losses.get_loss`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from mlbalance.losses import functional as LF

Reweight = Literal["none", "cb", "rebalance"]
Compat = Literal["equations", "released-scripts"]
REWEIGHTS: tuple[str, ...] = ("none", "cb", "rebalance")
COMPATS: tuple[str, ...] = ("equations", "released-scripts")


@dataclass(frozen=True)
class LossConfig:
    """Hyper-parameters of a :class:`BalancedLoss` (validated on construction).

    Attributes:
        name: the preset name (for logs), or ``"custom"``.
        gamma: focal exponent ``γ >= 0`` (``0``: no focal modulation).
        reweight: ``"none"``, ``"cb"`` (class-balanced ``r_CB``) or ``"rebalance"`` (smoothed ``r̂_DB``).
        cb_beta: CB ``β ∈ [0, 1)``.
        rebalance_alpha, rebalance_beta, mu: smoothing ``r̂ = α + σ(β (r_DB − μ))``; ``α, β >= 0``.
        ntr: use negative-tolerant regularisation (bias ``v_i`` and negative scale ``λ``).
        ntr_kappa: ``κ >= 0``, bias ``v_i = −κ b̂_i``.
        ntr_lambda: ``λ > 0``.
        ntr_neg_scale: multiply negative terms by ``1/λ`` (the equations: True).
        alpha_t: constant factor of the focal terms (equations: 1; the authors' scripts: 0.5).
        loss_weight: constant factor of the loss (equations: 1).
        reduction: ``"mean"`` over all ``B×C`` elements, ``"sum"`` or ``"none"``.
        compat: ``"equations"`` or ``"released-scripts"`` (recorded; the values above carry it).
        validate_args: check targets and shapes on every call.
    """

    name: str = "custom"
    gamma: float = 0.0
    reweight: Reweight = "none"
    cb_beta: float = 0.9
    rebalance_alpha: float = 0.1
    rebalance_beta: float = 10.0
    mu: float = 0.9
    ntr: bool = False
    ntr_kappa: float = 0.05
    ntr_lambda: float = 2.0
    ntr_neg_scale: bool = True
    alpha_t: float = 1.0
    loss_weight: float = 1.0
    reduction: LF.Reduction = "mean"
    compat: Compat = "equations"
    validate_args: bool = True

    def __post_init__(self) -> None:
        def check(field: str, **bounds: Any) -> None:
            object.__setattr__(self, field, LF._check_number(field, getattr(self, field), **bounds))

        check("gamma", low=0.0)
        check("cb_beta", low=0.0, high=1.0, high_open=True)
        check("rebalance_alpha", low=0.0)
        check("rebalance_beta", low=0.0)
        check("mu")
        check("ntr_kappa", low=0.0)
        check("ntr_lambda", low=0.0, low_open=True)
        check("alpha_t", low=0.0, low_open=True)
        check("loss_weight", low=0.0)
        if self.reweight not in REWEIGHTS:
            raise ValueError(f"`reweight` must be one of {REWEIGHTS}, got {self.reweight!r}")
        if self.compat not in COMPATS:
            raise ValueError(f"`compat` must be one of {COMPATS}, got {self.compat!r}")
        LF._check_reduction(self.reduction)
        for flag in ("ntr", "ntr_neg_scale", "validate_args"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"`{flag}` must be True or False, got {getattr(self, flag)!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of the settings."""
        return asdict(self)


class BalancedLoss(nn.Module):
    """The balancing loss family of Huang et al. (EMNLP 2021) as one module.

    For logits ``z`` and binary targets ``y`` of shape ``(B, C)``::

        positives:  loss_weight · α_t · w_ki ·       (1 − q)^γ · (−log q),          q = σ(z − v_i)
        negatives:  loss_weight · α_t · w_ki · g ·   q^γ       · (−log(1 − q)),     q = σ(λ (z − v_i))

    reduced by the mean over all ``B×C`` elements (by default). ``w`` is 1, ``r_CB,i`` or
    ``r̂_DB,ki``; ``v_i = −κ b̂_i`` and ``λ`` only with NTR (otherwise ``v = 0``, ``λ = 1``);
    ``g = 1/λ`` on negatives (the equations).

    Relations: γ = 0 with nothing else is BCE; NTR with κ = 0, λ = 1 is focal; DB with γ = 0 is
    DB-0FL; CB with β → 0 has equal weights; R-FL with equal frequencies has a constant weight.

    Edge cases (see :mod:`mlbalance.losses.functional`): ``n_i = 0`` counts as seen once and the NTR
    prior is clipped to ``[½, N − ½] / N``, so ``n_i = 0`` and ``n_i = N`` give finite biases; a
    document with no positive label gets ``r̂ = α + 1``; an empty batch gives ``0``; float16 and
    bfloat16 logits are computed in float32. Never NaN or inf for finite logits.

    Args:
        class_freq: ``n_i`` per label, shape ``(C,)`` (array, list or tensor).
        n_train: ``N``; required when ``config.ntr`` is set.
        config: the hyper-parameters.

    Example:
        >>> import torch
        >>> from mlbalance.losses import BalancedLoss, LossConfig
        >>> loss = BalancedLoss([10, 3, 0], n_train=20, config=LossConfig(gamma=2.0, ntr=True))
        >>> value = loss(torch.zeros(4, 3), torch.tensor([[1, 0, 0]] * 4))
    """

    cb_weight: Tensor
    inv_freq: Tensor
    bias: Tensor

    def __init__(
        self,
        class_freq: Tensor | np.ndarray | list[float],
        n_train: int | None = None,
        config: LossConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config if config is not None else LossConfig()
        cfg = self.config
        freq = LF._as_class_freq(class_freq)
        if cfg.ntr and n_train is None:
            raise ValueError(f"`n_train` is required for a loss with NTR ({cfg.name!r}), got None")
        self.n_train = None if n_train is None else int(LF._check_number("n_train", n_train, low=1.0))
        self.register_buffer("class_freq", freq, persistent=False)
        self.register_buffer("cb_weight", LF.class_balanced_weights(freq, cfg.cb_beta), persistent=False)
        self.register_buffer("inv_freq", LF.inverse_frequency(freq), persistent=False)
        bias = LF.ntr_bias(freq, self.n_train, cfg.ntr_kappa) if cfg.ntr else torch.zeros_like(freq)
        if self.n_train is not None and not cfg.ntr:
            LF.label_prior(freq, self.n_train)  # validates n_i <= N
        self.register_buffer("bias", bias, persistent=False)

    @property
    def n_labels(self) -> int:
        return int(self.class_freq.shape[0])

    def forward(self, logits: Tensor, targets: Tensor, reduction: LF.Reduction | None = None) -> Tensor:
        """The loss of ``logits`` against ``targets`` (both ``(B, C)``; targets binary, any dtype).

        Args:
            logits: raw scores, any floating dtype; never modified.
            targets: 0/1 targets of the logits' shape.
            reduction: overrides the configured reduction for this call.
        """
        cfg = self.config
        if cfg.validate_args:
            if logits.ndim not in (1, 2) or logits.shape[-1] != self.n_labels:
                raise ValueError(
                    f"`logits` must have shape (B, {self.n_labels}) (one column per label), "
                    f"got {tuple(logits.shape)}"
                )
            if not logits.is_floating_point():
                raise ValueError(f"`logits` must be a floating-point tensor, got {logits.dtype}")
            if targets.shape != logits.shape:
                raise ValueError(
                    f"`targets` must have the logits' shape {tuple(logits.shape)}, got {tuple(targets.shape)}"
                )
        reduction = cfg.reduction if reduction is None else reduction
        if reduction not in LF.REDUCTIONS:
            raise ValueError(f"`reduction` must be one of {LF.REDUCTIONS}, got {reduction!r}")
        return LF._balanced_loss(
            logits,
            targets,
            cfg.gamma,
            self.cb_weight if cfg.reweight == "cb" else None,
            (
                (self.inv_freq, cfg.rebalance_alpha, cfg.rebalance_beta, cfg.mu)
                if cfg.reweight == "rebalance"
                else None
            ),
            self.bias if cfg.ntr and cfg.ntr_kappa != 0.0 else None,
            cfg.ntr_lambda if cfg.ntr else 1.0,
            cfg.ntr_neg_scale,
            cfg.alpha_t if cfg.gamma > 0.0 else 1.0,
            cfg.loss_weight,
            reduction,
            cfg.validate_args,
        )

    def get_config_dict(self) -> dict[str, Any]:
        """Settings and statistics summary, for logs and run records."""
        return {**self.config.to_dict(), "n_labels": self.n_labels, "n_train": self.n_train}

    def extra_repr(self) -> str:
        cfg = self.config
        parts = [f"name={cfg.name!r}", f"n_labels={self.n_labels}", f"gamma={cfg.gamma}"]
        if cfg.reweight == "cb":
            parts.append(f"cb_beta={cfg.cb_beta}")
        elif cfg.reweight == "rebalance":
            parts.append(f"alpha={cfg.rebalance_alpha}, beta={cfg.rebalance_beta}, mu={cfg.mu:.4g}")
        if cfg.ntr:
            parts.append(f"kappa={cfg.ntr_kappa}, lambda={cfg.ntr_lambda}")
        if not math.isclose(cfg.loss_weight, 1.0):
            parts.append(f"loss_weight={cfg.loss_weight}")
        if cfg.compat != "equations":
            parts.append(f"compat={cfg.compat!r}")
        return ", ".join(parts)
