"""Long-tail losses that came after the paper: ASL, ZLPR and logit-adjusted BCE.

Each is a pure function on ``(logits, targets, ...)`` plus one :class:`LongTailLoss` module that holds
its settings (a frozen :class:`LongTailConfig`) and the class frequencies as a buffer, with the same
call signature, dtype and reduction rules as :class:`~mlbalance.losses.BalancedLoss`: half and
bfloat16 logits are computed in float32, float64 stays float64, the caller's tensors are never
modified, log-terms come from logits (softplus), so logits of ±100 give finite values and gradients.

* ``"asl"`` — asymmetric loss (Ridnik et al., *Asymmetric Loss For Multi-Label Classification*, ICCV
  2021), with ``p = σ(z)`` and the shifted probability ``p_m = max(p − m, 0)``::

      ℓ = −y (1 − p)^γ₊ log p − (1 − y) p_m^γ₋ log(1 − p_m)

  Relations: ``γ₊ = γ₋ = γ, m = 0`` is focal loss; ``γ₊ = γ₋ = 0, m = 0`` is BCE.
* ``"zlpr"`` — zero-bounded log-sum-exp & pairwise rank loss (Su et al., 2022), per document::

      ℓ_k = log(1 + Σ_{i ∉ y_k} e^{z_i}) + log(1 + Σ_{i ∈ y_k} e^{−z_i})

  It pushes every positive logit above 0 and every negative below 0 (and positives above negatives),
  so its decision threshold is the logit 0 — probability ``σ(0) = 0.5``. With one label it is BCE.
* ``"logit-adjusted"`` — BCE on ``z + τ · log(π_i / (1 − π_i))`` with the training prior
  ``π_i = n_i / N`` (clipped to ``[½, N − ½] / N``), during training only (Menon et al., *Long-tail
  learning via logit adjustment*, ICLR 2021, per label). Scores stay ``σ(z)``: a rare label, whose
  logit was lowered in training, ends with its scores raised relative to plain BCE.
  Relation: NTR's bias is ``v_i = −κ · log(π_i / (1 − π_i))`` and NTR's positives use
  ``σ(z − v_i)``, so logit adjustment with ``τ = κ`` is NTR's bias shift with ``λ = 1`` and no
  reweighting (``get_loss("ntr-focal", ..., gamma=0, ntr_lambda=1)``), checked in the tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mlbalance.losses import functional as LF

LONG_TAIL_LOSS_NAMES: tuple[str, ...] = ("asl", "zlpr", "logit-adjusted")

#: The options of each loss and their defaults.
LONG_TAIL_DEFAULTS: dict[str, dict[str, float]] = {
    "asl": {"gamma_pos": 0.0, "gamma_neg": 4.0, "clip": 0.05},
    "zlpr": {},
    "logit-adjusted": {"tau": 1.0},
}


def _prepare(logits: Tensor, targets: Tensor, *, two_d: bool = False) -> tuple[Tensor, Tensor]:
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise ValueError(
            f"`logits` must be a floating-point tensor, got {getattr(logits, 'dtype', logits)!r}"
        )
    if not isinstance(targets, Tensor) or targets.shape != logits.shape:
        shape = tuple(targets.shape) if isinstance(targets, Tensor) else type(targets).__name__
        raise ValueError(
            f"`targets` must be a tensor of the logits' shape {tuple(logits.shape)}, got {shape}"
        )
    if two_d and logits.ndim != 2:
        raise ValueError(f"`logits` must be 2-D (documents, labels), got shape {tuple(logits.shape)}")
    dtype = LF._compute_dtype(logits)
    return logits.to(dtype), targets.to(device=logits.device, dtype=dtype)


def _safe_pow(x: Tensor, gamma: float) -> Tensor:
    """``x ** gamma`` for ``x >= 0`` whose gradient is finite at ``x = 0`` for any ``gamma > 0``."""
    tiny = torch.finfo(x.dtype).tiny
    return torch.where(x > 0, x.clamp(min=tiny).pow(gamma), torch.zeros((), dtype=x.dtype, device=x.device))


# ----------------------------------------------------------------------------------------------------
# fused kernels: loss and gradient in one forward, in blocks of rows (functional.row_blocks), every
# element treated as a negative in dense passes and the few positives corrected by index (as
# functional's balanced kernel). Used for a reduced loss of logits that need a gradient; the composed
# versions below them are the reference and serve every other call.
# ----------------------------------------------------------------------------------------------------


class _SavedGradient(torch.autograd.Function):
    """Base of the fused kernels: ``forward`` returns the loss and saves its gradient."""

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        factor = grad_out.item()
        return (grad if factor == 1.0 else grad * factor), *([None] * ctx.n_inputs)


def _asl_negative(p_m: Tensor, gamma: float) -> Tensor:
    """``−p_m^γ log(1 − p_m)`` elementwise (the negatives' term)."""
    return -p_m.pow(gamma) * torch.log1p(-p_m)


class _AsymmetricLossFunction(_SavedGradient):
    """ASL with ``clip > 0`` and ``gamma_neg >= 1``; ``scale`` is 1 (sum) or 1/numel (mean).

    Negatives, with ``p_m = max(σ(z) − m, 0)`` and ``q = 1 − p_m >= m``: ``ℓ = −p_m^γ log q`` and
    ``∂ℓ/∂z = p_m^{γ−1} (p_m / q − γ log q) · σ(z)(1 − σ(z))`` where ``p_m > 0`` — and the same
    expression is 0 where ``p_m = 0`` for ``γ >= 1``, so no mask is needed. Positives:
    ``ℓ = (1 − p)^γ₊ softplus(−z)``, ``∂ℓ/∂z = −(1 − p)^γ₊ (γ₊ p softplus(−z) + 1 − p)``.
    """

    @staticmethod
    def forward(ctx, z, pos, gamma_pos, gamma_neg, clip, scale):  # type: ignore[override]
        n_rows, n_cols = z.shape
        grad = torch.empty_like(z)
        total = z.new_zeros(())
        zero = z.new_zeros(())
        pos_cols = pos % n_cols if n_cols else pos
        for start, stop, pl, _ in LF.row_blocks(pos, pos_cols, n_rows, n_cols):
            zb = z[start:stop]
            work = torch.sigmoid(zb)  # p
            p_m = torch.sub(work, clip).clamp_(min=0.0)
            work.addcmul_(work, work, value=-1.0)  # σ(z)(1 − σ(z))
            q = torch.rsub(p_m, 1.0)
            log_q = torch.log(q)
            power = torch.pow(p_m, gamma_neg - 1.0)
            ratio = torch.addcdiv(log_q, p_m, q, value=-1.0 / gamma_neg, out=q)  # log q − p_m/(γ q)
            total -= torch.dot(torch.mul(power, p_m, out=p_m).view(-1), log_q.view(-1))  # Σ p_m^γ log q
            gb = grad[start:stop]
            torch.addcmul(zero, ratio.mul_(power), work, value=-gamma_neg * scale, out=gb)
            if pl.numel():  # the positives: their own term instead of the negatives'
                zp = zb.reshape(-1)[pl]
                one_minus = torch.sigmoid(-zp)
                soft = F.softplus(-zp)
                focus = one_minus.pow(gamma_pos) if gamma_pos else torch.ones_like(zp)
                neg_p = (torch.sigmoid(zp) - clip).clamp_(min=0.0)
                total += (focus * soft).sum() - _asl_negative(neg_p, gamma_neg).sum()
                g_pos = -focus * (gamma_pos * (1.0 - one_minus) * soft + one_minus)
                gb.view(-1)[pl] = g_pos * scale
        ctx.n_inputs = 5
        ctx.save_for_backward(grad)
        return total * scale


class _ZlprFunction(_SavedGradient):
    """ZLPR; ``scale`` is 1 (sum) or 1/rows (mean).

    With ``N_k`` the negatives and ``P_k`` the positives of document ``k``:
    ``ℓ_k = log(1 + Σ_{N_k} e^{z}) + log(1 + Σ_{P_k} e^{−z})``; ``∂ℓ_k/∂z_i = e^{z_i} / (1 + Σ_{N_k}
    e^{z})`` on a negative and ``−e^{−z_i} / (1 + Σ_{P_k} e^{−z})`` on a positive, each log-sum-exp
    taken with its maximum (at least 0) factored out.
    """

    @staticmethod
    def forward(ctx, z, pos, scale):  # type: ignore[override]
        n_rows, n_cols = z.shape
        grad = torch.empty_like(z)
        total = z.new_zeros(())
        pos_rows = torch.div(pos, n_cols, rounding_mode="floor")
        pos_cols = pos - pos_rows * n_cols
        for start, stop, pl, _ in LF.row_blocks(pos, pos_cols, n_rows, n_cols):
            zb = z[start:stop]
            work = zb.clone()
            work.view(-1)[pl] = -torch.inf  # positives leave the negatives' sum
            top = work.amax(dim=1).clamp_(min=0.0)
            work.sub_(top[:, None]).exp_()
            sums = work.sum(dim=1).add_(torch.exp(-top))
            total += (top + torch.log(sums)).sum()
            torch.mul(work, (scale / sums)[:, None], out=grad[start:stop])
            if pl.numel():
                rows = torch.div(pl, n_cols, rounding_mode="floor")
                neg_z = -zb.reshape(-1)[pl]
                top_p = torch.zeros(stop - start, dtype=z.dtype, device=z.device).scatter_reduce_(
                    0, rows, neg_z, reduce="amax", include_self=True
                )
                terms = torch.exp(neg_z - top_p[rows])
                sums_p = torch.exp(-top_p).index_add_(0, rows, terms)
                has = torch.zeros(stop - start, dtype=torch.bool, device=z.device).index_fill_(0, rows, True)
                total += (top_p + torch.log(sums_p))[has].sum()
                grad[start:stop].view(-1)[pl] = -terms / sums_p[rows] * scale
        ctx.n_inputs = 2
        ctx.save_for_backward(grad)
        return total * scale


def _fused(logits: Tensor, reduction: str) -> bool:
    """Whether a call can use a fused kernel: a reduced loss of 2-D logits that need a gradient."""
    return reduction != "none" and logits.ndim == 2 and logits.requires_grad and torch.is_grad_enabled()


def asymmetric_loss(
    logits: Tensor,
    targets: Tensor,
    gamma_pos: float = 0.0,
    gamma_neg: float = 4.0,
    clip: float = 0.05,
    reduction: LF.Reduction = "none",
) -> Tensor:
    """ASL elementwise (module docstring), shape of ``logits`` with ``reduction="none"``.

    Args:
        logits: ``z``, any shape, floating point.
        targets: 0/1 of the same shape.
        gamma_pos, gamma_neg: focusing exponents of positives and negatives (``>= 0``).
        clip: the probability margin ``m ∈ [0, 1)`` subtracted on negatives.
        reduction: ``"none"``, ``"mean"`` (over all elements) or ``"sum"``.
    """
    gamma_pos = LF._check_number("gamma_pos", gamma_pos, low=0.0)
    gamma_neg = LF._check_number("gamma_neg", gamma_neg, low=0.0)
    clip = LF._check_number("clip", clip, low=0.0, high=1.0, high_open=True)
    z, y = _prepare(logits, targets)
    if clip > 0 and gamma_neg >= 1 and _fused(z, reduction):
        index = LF._positive_index(y, validate=False)
        scale = 1.0 / z.numel() if reduction == "mean" else 1.0
        return _AsymmetricLossFunction.apply(z, index, gamma_pos, gamma_neg, clip, scale)
    pos = F.softplus(-z)  # −log p
    if gamma_pos:
        pos = pos * _safe_pow(torch.sigmoid(-z), gamma_pos)
    if clip:
        one_minus = (torch.sigmoid(-z) + clip).clamp(max=1.0)  # 1 − p_m
        neg = -torch.log(one_minus)
        shifted = 1.0 - one_minus  # p_m
    else:
        neg = F.softplus(z)  # −log(1 − p)
        shifted = torch.sigmoid(z)
    if gamma_neg:
        neg = neg * _safe_pow(shifted, gamma_neg)
    return LF.reduce_loss(y * pos + (1.0 - y) * neg, reduction)


def zlpr_loss(logits: Tensor, targets: Tensor, reduction: LF.Reduction = "none") -> Tensor:
    """ZLPR per document (module docstring): shape ``(B,)`` with ``reduction="none"``.

    ``"mean"`` averages over documents. A document with no positive label has only the negative
    term; one with no negative only the positive term.

    Args:
        logits: ``z`` of shape ``(B, C)``.
        targets: 0/1 of the same shape.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
    """
    LF._check_reduction(reduction)
    z, y = _prepare(logits, targets, two_d=True)
    if _fused(z, reduction) and z.shape[0]:
        scale = 1.0 / z.shape[0] if reduction == "mean" else 1.0
        return _ZlprFunction.apply(z, LF._positive_index(y, validate=False), scale)
    zero = torch.zeros((z.shape[0], 1), dtype=z.dtype, device=z.device)
    lowest = torch.finfo(z.dtype).min
    neg = torch.logsumexp(torch.cat([zero, torch.where(y > 0, lowest, z)], dim=1), dim=1)
    pos = torch.logsumexp(torch.cat([zero, torch.where(y > 0, -z, lowest)], dim=1), dim=1)
    return LF.reduce_loss(neg + pos, reduction)


def logit_adjusted_loss(
    logits: Tensor,
    targets: Tensor,
    class_freq: Tensor | np.ndarray | list[float],
    n_train: int,
    tau: float = 1.0,
    reduction: LF.Reduction = "none",
) -> Tensor:
    """Logit-adjusted BCE (module docstring), elementwise with ``reduction="none"``.

    Args:
        logits: ``z`` of shape ``(B, C)``.
        targets: 0/1 of the same shape.
        class_freq: ``n_i`` per label, shape ``(C,)``.
        n_train: ``N``.
        tau: ``τ >= 0`` (0 is plain BCE).
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
    """
    tau = LF._check_number("tau", tau, low=0.0)
    z, y = _prepare(logits, targets)
    prior = LF.label_prior(class_freq, n_train).to(device=z.device, dtype=z.dtype)
    shift = tau * (torch.log(prior) - torch.log1p(-prior))
    if _fused(z, reduction):  # NTR's bias term with λ = 1, no focal term, no weight: the fused kernel
        return LF.balanced_loss(z, y, bias=-shift, reduction=reduction, validate_args=False)
    return LF.reduce_loss(F.binary_cross_entropy_with_logits(z + shift, y, reduction="none"), reduction)


@dataclass(frozen=True)
class LongTailConfig:
    """Settings of a :class:`LongTailLoss`.

    Attributes:
        name: one of :data:`LONG_TAIL_LOSS_NAMES`.
        options: the loss's own options (:data:`LONG_TAIL_DEFAULTS` filled in).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    name: str
    options: tuple[tuple[str, float], ...] = ()
    reduction: LF.Reduction = "mean"

    def __post_init__(self) -> None:
        if self.name not in LONG_TAIL_LOSS_NAMES:
            raise ValueError(f"unknown loss {self.name!r}; valid names are {', '.join(LONG_TAIL_LOSS_NAMES)}")
        LF._check_reduction(self.reduction)


class LongTailLoss(nn.Module):
    """One of :data:`LONG_TAIL_LOSS_NAMES` as a module: ``loss(logits, targets, reduction=None)``.

    Built by :func:`mlbalance.losses.get_loss` (``get_loss("asl", stats, clip=0.1)``). Class
    frequencies are a non-persistent buffer (they follow ``.to(device)``).
    """

    def __init__(
        self, class_freq: Tensor | np.ndarray | list[float], n_train: int | None, config: LongTailConfig
    ) -> None:
        super().__init__()
        freq = LF._as_class_freq(class_freq)
        if config.name == "logit-adjusted":
            if n_train is None:
                raise ValueError("loss 'logit-adjusted' needs `n_train` (or a LabelStats)")
            LF.label_prior(freq, n_train)  # validates the counts against n_train
        self.register_buffer("class_freq", freq, persistent=False)
        self.n_train = n_train
        self.config = config
        self.options = dict(config.options)
        if config.name == "asl":  # checked now, not at the first batch
            for key, high in (("gamma_pos", None), ("gamma_neg", None), ("clip", 1.0)):
                LF._check_number(key, self.options[key], low=0.0, high=high, high_open=True)
        if config.name == "logit-adjusted":
            LF._check_number("tau", self.options["tau"], low=0.0)

    @property
    def per_document(self) -> bool:
        """True when the loss has one term per document (ZLPR), not one per (document, label)."""
        return self.config.name == "zlpr"

    @property
    def n_labels(self) -> int:
        return int(self.class_freq.shape[0])

    def forward(self, logits: Tensor, targets: Tensor, reduction: LF.Reduction | None = None) -> Tensor:
        """The loss of ``logits`` ``(B, C)`` against 0/1 ``targets`` of the same shape."""
        reduction = self.config.reduction if reduction is None else reduction
        LF._check_reduction(reduction)
        if logits.ndim == 2 and logits.shape[-1] != self.n_labels:
            raise ValueError(f"`logits` have {logits.shape[-1]} labels but the loss has {self.n_labels}")
        name = self.config.name
        if name == "asl":
            return asymmetric_loss(logits, targets, reduction=reduction, **self.options)
        if name == "zlpr":
            return zlpr_loss(logits, targets, reduction=reduction)
        return logit_adjusted_loss(
            logits,
            targets,
            self.class_freq,
            self.n_train,
            reduction=reduction,
            **self.options,  # type: ignore[arg-type]
        )

    def get_config_dict(self) -> dict[str, Any]:
        """Settings for logs."""
        return {**asdict(self.config), "options": self.options}

    def extra_repr(self) -> str:
        opts = ", ".join(f"{k}={v:g}" for k, v in self.options.items())
        return f"{self.config.name}{', ' if opts else ''}{opts}, labels={self.n_labels}"


def long_tail_loss(
    name: str, class_freq: Any, n_train: int | None, *, reduction: LF.Reduction = "mean", **options: Any
) -> LongTailLoss:
    """A :class:`LongTailLoss` with :data:`LONG_TAIL_DEFAULTS` overridden by ``options``.

    Raises:
        ValueError: an unknown name or option (the message lists the valid ones), a bad value.
    """
    if name not in LONG_TAIL_DEFAULTS:
        raise ValueError(f"unknown loss {name!r}; valid names are {', '.join(LONG_TAIL_LOSS_NAMES)}")
    defaults = LONG_TAIL_DEFAULTS[name]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        valid = ", ".join(defaults) if defaults else "none (besides `reduction`)"
        raise ValueError(
            f"unknown option(s) {', '.join(map(repr, unknown))} of loss {name!r}; valid options are {valid}"
        )
    values = {key: LF._check_number(key, options.get(key, default)) for key, default in defaults.items()}
    config = LongTailConfig(name=name, options=tuple(values.items()), reduction=reduction)
    return LongTailLoss(class_freq, n_train, config)
