"""The balancing loss family as pure functions on ``(logits, targets, ...)``.

Notation (PAPER.md): logits ``z`` of shape ``(B, C)``, targets ``y ∈ {0,1}^{B×C}``, class
frequencies ``n_i`` (training documents carrying label ``i``), ``N`` training documents, ``p = σ(z)``.

Every loss of the family is one elementwise term, optionally reweighted, reduced over all ``B×C``
elements and multiplied by ``loss_weight``::

    positives:  w · (1 − q)^γ · (−log q)            q = σ(z − v_i)
    negatives:  w · g · q^γ · (−log(1 − q))          q = σ(λ (z − v_i)),  g = 1/λ

with the focal exponent ``γ`` (:func:`focal_loss`), the weight ``w`` either the class-balanced
``r_CB`` (:func:`class_balanced_weights`) or the smoothed rebalancing weight ``r̂_DB``
(:func:`rebalance_weights`), and the negative-tolerant bias ``v_i`` and scale ``λ``
(:func:`ntr_bias`, :func:`negative_tolerant_logits`, :func:`negative_scale`).
:func:`balanced_loss` composes them in one fused, memory-lean kernel with a hand-written backward.

Log-terms are always computed from logits (softplus), never as ``log(σ(z))``: logits of ±100 give
finite losses and gradients. Edge cases and how they are defined:

* ``n_i = 0`` (a label never seen in training): inverse frequencies and ``r_CB`` use ``max(n_i, 1)``
  (the label counts as seen once); the NTR prior uses ``p_i = clip(n_i, ½, N − ½) / N``, which also
  covers ``n_i = N`` (a label on every document). ``b̂_i`` is therefore always finite.
* a document with no positive label: ``P^I_k = 0`` makes ``r_DB = +∞``; the smoothed weight takes
  its limit ``r̂ = α + 1`` (what the authors' arithmetic also yields through ``σ(+∞) = 1``).
* an empty batch: ``reduction="mean"`` and ``"sum"`` give ``0`` (not NaN), ``"none"`` an empty tensor.
* half precision and bfloat16 logits: the loss is computed in float32 (float64 logits stay float64);
  the gradient flows back in the logits' dtype.

One module of about 650 lines by intent: the terms of one loss family and the fused kernel that
composes all of them; every function is short and tested against a float64 re-derivation.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

Reduction = Literal["none", "mean", "sum"]
REDUCTIONS: tuple[str, ...] = ("none", "mean", "sum")

#: Elements per block of the fused kernels: blocks of rows of about 256 Ki elements (1 MiB of float32
#: per temporary), so the dozen passes over a block find it in cache (BENCHMARKS.md, *Losses*: DB at
#: (256, 18211) went from 2.2× plain BCE with one block per batch to 1.4×).
_BLOCK_ELEMENTS = 1 << 18

__all__ = [
    "REDUCTIONS",
    "balanced_loss",
    "class_balanced_weights",
    "focal_loss",
    "inverse_frequency",
    "label_prior",
    "negative_scale",
    "negative_tolerant_logits",
    "ntr_bias",
    "rebalance_mu",
    "rebalance_weights",
    "reduce_loss",
]


# ----------------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------------
def _check_number(
    name: str,
    value: float,
    *,
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
    high_open: bool = False,
) -> float:
    """Return ``value`` as float, or raise ``ValueError`` naming the argument, value and allowed range."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a real number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"`{name}` must be finite, got {value!r}")
    if low is not None and (x <= low if low_open else x < low):
        raise ValueError(f"`{name}` must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (x >= high if high_open else x > high):
        raise ValueError(f"`{name}` must be {'<' if high_open else '<='} {high}, got {value!r}")
    return x


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"`reduction` must be one of {REDUCTIONS}, got {reduction!r}")


def _compute_dtype(logits: Tensor) -> torch.dtype:
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


def _as_class_freq(class_freq: Tensor | np.ndarray | list[float], name: str = "class_freq") -> Tensor:
    """``class_freq`` as a float64 CPU-or-device tensor of shape ``(C,)``, validated."""
    if isinstance(class_freq, Tensor):
        freq = class_freq.detach().to(torch.float64)
    else:
        freq = torch.as_tensor(np.asarray(class_freq, dtype=np.float64))
    if freq.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D (one count per label), got shape {tuple(freq.shape)}")
    if freq.numel() and not bool(torch.isfinite(freq).all()):
        raise ValueError(f"`{name}` must be finite, got non-finite counts")
    if freq.numel() and bool((freq < 0).any()):
        bad = int(torch.nonzero(freq < 0)[0, 0])
        raise ValueError(f"`{name}` must be >= 0, got {freq[bad].item()} for label {bad}")
    return freq


# ----------------------------------------------------------------------------------------------------
# class statistics → weights and biases
# ----------------------------------------------------------------------------------------------------
def inverse_frequency(class_freq: Tensor | np.ndarray) -> Tensor:
    """``1 / n_i`` with ``n_i = 0`` counted as ``1`` (float64, shape ``(C,)``).

    Args:
        class_freq: ``n_i`` per label, shape ``(C,)``.
    """
    freq = _as_class_freq(class_freq)
    return 1.0 / freq.clamp_min(1.0)


def class_balanced_weights(class_freq: Tensor | np.ndarray, beta: float) -> Tensor:
    """Class-balanced weights ``r_CB,i = (1 − β) / (1 − β^{n_i})`` (Cui et al. 2019).

    ``n_i = 0`` is counted as ``n_i = 1`` (weight ``1``, the largest). ``β = 0`` gives all ones;
    as ``β → 1`` the weight tends to ``1 / n_i``.

    Args:
        class_freq: ``n_i`` per label, shape ``(C,)``.
        beta: ``β ∈ [0, 1)``.

    Returns:
        float64 tensor of shape ``(C,)``.
    """
    beta = _check_number("beta", beta, low=0.0, high=1.0, high_open=True)
    freq = _as_class_freq(class_freq).clamp_min(1.0)
    # 1 − β^n computed as −expm1(n · log β), accurate for β close to 1.
    if beta == 0.0:
        return torch.ones_like(freq)
    return (1.0 - beta) / -torch.expm1(freq * math.log(beta))


def label_prior(class_freq: Tensor | np.ndarray, n_train: int) -> Tensor:
    """Class prior ``p_i = n_i / N`` kept inside ``(0, 1)``: ``p_i = clip(n_i, ½, N − ½) / N``.

    Args:
        class_freq: ``n_i`` per label, shape ``(C,)``.
        n_train: ``N``, number of training documents (``>= 1``; every ``n_i <= N``).
    """
    freq = _as_class_freq(class_freq)
    n = _check_number("n_train", n_train, low=1.0)
    if freq.numel() and bool((freq > n).any()):
        bad = int(torch.nonzero(freq > n)[0, 0])
        raise ValueError(f"`class_freq` must be <= n_train={int(n)}, got {freq[bad].item()} for label {bad}")
    return freq.clamp(0.5, n - 0.5) / n


def ntr_bias(class_freq: Tensor | np.ndarray, n_train: int, kappa: float) -> Tensor:
    """Negative-tolerant bias ``v_i = −κ b̂_i`` with ``b̂_i = −log(1/p_i − 1)`` (Wu et al. 2020).

    The prior ``p_i`` comes from :func:`label_prior`, so ``b̂_i`` is finite even for ``n_i = 0`` or
    ``n_i = N``.

    Args:
        class_freq: ``n_i`` per label, shape ``(C,)``.
        n_train: ``N``.
        kappa: ``κ >= 0``; ``κ = 0`` gives no bias.

    Returns:
        float64 tensor of shape ``(C,)``.
    """
    kappa = _check_number("kappa", kappa, low=0.0)
    p = label_prior(class_freq, n_train)
    b_hat = torch.log(p) - torch.log1p(-p)  # = −log(1/p − 1)
    return -kappa * b_hat


def rebalance_weights(targets: Tensor, inv_freq: Tensor, alpha: float, beta: float, mu: float) -> Tensor:
    """Smoothed rebalancing weight ``r̂_ki = α + σ(β (r_DB,ki − μ))`` (Wu et al. 2020).

    ``r_DB,ki = P^C_i / P^I_k = (1/n_i) / Σ_{j: y_kj = 1} (1/n_j)``; the same weight multiplies
    positive and negative terms. A document with no positive label has ``P^I_k = 0``, so
    ``r_DB = +∞`` and ``r̂ = α + 1`` on its whole row.

    Args:
        targets: ``(B, C)`` binary targets.
        inv_freq: ``1/n_i``, shape ``(C,)`` (see :func:`inverse_frequency`).
        alpha, beta, mu: smoothing parameters (α, β >= 0).

    Returns:
        ``(B, C)`` tensor in ``[α, α + 1]`` of the targets' floating dtype (float32 for others).
    """
    alpha = _check_number("alpha", alpha, low=0.0)
    beta = _check_number("beta", beta, low=0.0)
    mu = _check_number("mu", mu)
    dtype = torch.float64 if targets.dtype == torch.float64 else torch.float32
    y = targets.to(dtype)
    inv = inv_freq.to(device=y.device, dtype=dtype)
    return _rebalance_block(y, inv, alpha, beta, mu)


def _rebalance_block(y: Tensor, inv: Tensor, alpha: float, beta: float, mu: float) -> Tensor:
    # β / P^I_k per row (inf for a row with no positive), then β r_DB − β μ, σ, + α.
    repeat = y @ inv
    # (B,), +inf where the row has no positive; β = 0 makes the weight constant.
    row = beta / repeat if beta != 0.0 else torch.zeros_like(repeat)
    w = torch.outer(row, inv)
    w.sub_(beta * mu).sigmoid_().add_(alpha)
    return w


def rebalance_mu(labels: Any, class_freq: np.ndarray | None = None) -> float:
    """μ the way the authors chose it: the average of the mean and the median of ``r_DB`` over all
    positive (document, label) pairs of the training labels.

    Args:
        labels: ``(N, C)`` binary training label matrix (scipy sparse, numpy or torch).
        class_freq: ``n_i``; computed from ``labels`` when None.

    Returns:
        μ as a float.

    Raises:
        ValueError: the matrix has no positive entry.
    """
    import scipy.sparse as sp

    if isinstance(labels, Tensor):
        labels = labels.detach().cpu().numpy()
    y = sp.csr_matrix(labels)
    y = (y != 0).astype(np.float64).tocsr()
    if y.nnz == 0:
        raise ValueError("`labels` must contain at least one positive entry to derive mu")
    freq = np.asarray(y.sum(axis=0)).ravel() if class_freq is None else np.asarray(class_freq, float)
    if freq.shape != (y.shape[1],):
        raise ValueError(f"`class_freq` must have shape ({y.shape[1]},), got {freq.shape}")
    inv = 1.0 / np.maximum(freq, 1.0)
    rows = np.repeat(np.arange(y.shape[0]), np.diff(y.indptr))
    pos_inv = inv[y.indices]
    doc_sum = np.bincount(rows, weights=pos_inv, minlength=y.shape[0])
    r = pos_inv / doc_sum[rows]
    return float(0.5 * (r.mean() + np.median(r)))


# ----------------------------------------------------------------------------------------------------
# composable elementwise pieces (autograd-differentiable, simple)
# ----------------------------------------------------------------------------------------------------
def reduce_loss(loss: Tensor, reduction: Reduction) -> Tensor:
    """``none``: unchanged; ``sum``; ``mean`` over all elements (``0`` for an empty tensor)."""
    _check_reduction(reduction)
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "mean":
        return total / max(loss.numel(), 1)
    return total


def negative_tolerant_logits(logits: Tensor, targets: Tensor, bias: Tensor | None, lam: float) -> Tensor:
    """NTR-adjusted logits: ``z − v_i`` for positives, ``λ (z − v_i)`` for negatives (new tensor).

    Args:
        logits, targets: ``(B, C)``.
        bias: ``v_i`` of shape ``(C,)`` (:func:`ntr_bias`) or None for no bias.
        lam: ``λ > 0``.
    """
    lam = _check_number("lam", lam, low=0.0, low_open=True)
    s = logits if bias is None else logits - bias.to(device=logits.device, dtype=logits.dtype)
    return torch.where(targets.bool(), s, s * lam)


def negative_scale(targets: Tensor, lam: float) -> Tensor:
    """The NTR factor: ``1`` on positives and ``1/λ`` on negatives (shape of ``targets``)."""
    lam = _check_number("lam", lam, low=0.0, low_open=True)
    y = targets.to(torch.float64 if targets.dtype == torch.float64 else torch.float32)
    return y + (1.0 - y) / lam


def focal_loss(logits: Tensor, targets: Tensor, gamma: float = 2.0, reduction: Reduction = "none") -> Tensor:
    """Focal loss (Lin et al. 2017): positives ``−(1 − p)^γ log p``, negatives ``−p^γ log(1 − p)``.

    ``p = σ(logits)``; log-terms from logits (``softplus``), so ±100 stays finite. With ``γ = 0`` this
    is binary cross-entropy, in value and gradient. Differentiable by autograd (no weights, no α).

    Args:
        logits: any shape; targets: binary, same shape.
        gamma: ``γ >= 0``.
        reduction: ``"none" | "mean" | "sum"``.
    """
    gamma = _check_number("gamma", gamma, low=0.0)
    _check_reduction(reduction)
    dtype = _compute_dtype(logits)
    z = logits.to(dtype)
    sign = targets.to(dtype).mul(2).sub(1)
    nt = -z * sign  # −t: ℓ = σ(−t)^γ softplus(−t)
    loss = F.softplus(nt)
    if gamma != 0.0:
        loss = loss * torch.sigmoid(nt).pow(gamma)
    return reduce_loss(loss, reduction)


# ----------------------------------------------------------------------------------------------------
# the fused kernel
# ----------------------------------------------------------------------------------------------------
# Targets are sparse in practice (≈1–12 positives among up to 18,211 labels), so the kernel treats every
# element as a negative in dense passes and then corrects the few positive positions by index. With
# ``nt = −t`` the signed, NTR-adjusted logit (``λ(z − v)`` on negatives, ``−(z − v)`` on positives),
# ``u = σ(nt)`` and ``sp = softplus(nt) = −log σ(t)``, the unweighted term is ``ℓ = u^γ sp`` and
# ``∂ℓ/∂nt = u^γ (u + γ (1 − u) sp) = u (h − γ m) + γ m`` with ``h = u^γ``, ``m = h sp``.
# ``∂nt/∂z`` is ``λ`` on negatives and ``−1`` on positives; the negatives' factor ``g = 1/λ`` cancels
# ``λ`` when ``neg_scale`` is on.


class _BalancedLossFunction(torch.autograd.Function):
    """Fused forward computing the loss and, when needed, its gradient; backward rescales it."""

    @staticmethod
    def forward(ctx, z, pos, weight, rebalance, bias, lam, neg_scale, gamma, scale, reduction, want_grad):
        # weight: None, a (1, C) row or a (B, C) contiguous matrix (balanced_loss normalises it).
        n_rows, n_cols = z.shape
        g_neg = 1.0 / lam if neg_scale else 1.0  # loss factor on negatives
        chain_neg = lam * g_neg  # g · ∂nt/∂z on negatives (positives: −1)
        pos_rows = torch.div(pos, n_cols, rounding_mode="floor")
        pos_cols = pos - pos_rows * n_cols
        zero = z.new_zeros(())
        row_beta = inv = None
        if rebalance is not None:
            inv, r_alpha, r_beta, r_mu = rebalance
            repeat = z.new_zeros(n_rows).index_add_(0, pos_rows, inv[pos_cols])
            # β / P^I_k: +inf for a document with no positive (then r̂ = α + 1); β = 0: constant weight
            row_beta = r_beta / repeat if r_beta != 0.0 else torch.zeros_like(repeat)
            shift = r_beta * r_mu
        full_weight = weight is not None and weight.shape[0] == n_rows and n_rows != 1
        row_weight = weight if weight is not None and not full_weight else None  # (1, C)
        neg_bias = None if bias is None else (bias * -lam).unsqueeze(0)

        tiny = torch.finfo(z.dtype).tiny
        total = z.new_zeros(())
        elem = torch.empty_like(z) if reduction == "none" else None
        grad = torch.empty_like(z) if want_grad else None
        for start, stop, pl, cl in row_blocks(pos, pos_cols, n_rows, n_cols):
            zb = z[start:stop]
            # nt: λ(z − v) everywhere, −(z − v) at the positives
            if neg_bias is not None:
                nt = torch.add(neg_bias, zb, alpha=lam)
            else:
                nt = zb * lam if lam != 1.0 else zb.clone()
            ntf, zf = nt.view(-1), zb.reshape(-1)
            if pl.numel():
                z_pos = zf[pl]
                ntf[pl] = (bias[cl] - z_pos) if bias is not None else -z_pos
            u = torch.sigmoid(nt)
            m = F.softplus(nt)  # ℓ with γ = 0
            h = None
            if gamma != 0.0:
                h = u * u if gamma == 2.0 else (u.pow(gamma) if gamma != 1.0 else u.clone())
                m.mul_(h)  # ℓ = u^γ sp
            # ∂ℓ/∂nt = γ · dl with dl = m + u (h − γ m)/γ, in h's buffer   (γ = 0: ∂ℓ/∂nt = u)
            dl, dl_factor = None, 1.0
            if grad is not None:
                if h is None:
                    dl = u
                else:
                    dl = torch.addcmul(m, u, h.sub_(m, alpha=gamma), value=1.0 / gamma, out=h)
                    dl_factor = gamma
            # weight of the block, (rows, C) or (1, C); the rebalancing weight reuses nt's buffer
            w = row_weight
            if rebalance is not None:
                w = torch.mul(row_beta[start:stop, None], inv, out=nt).sub_(shift).sigmoid_().add_(r_alpha)
                if weight is not None:
                    w.mul_(weight[start:stop] if full_weight else weight)
            elif full_weight:
                w = weight[start:stop]
            # loss: Σ w·m over the block, the positives without the negatives' factor g
            mf = m.view(-1)
            if w is None:
                s_all, s_pos = m.sum(), mf[pl].sum()
            elif w.shape[0] == 1:
                s_all = torch.dot(m.sum(0), w[0])
                s_pos = torch.dot(mf[pl], w[0, cl])
            else:
                wf = w.view(-1)
                s_all = torch.dot(mf, wf)
                s_pos = torch.dot(mf[pl], wf[pl])
            total += (s_all * g_neg + s_pos * (1.0 - g_neg)) * scale
            if elem is not None:
                eb = elem[start:stop]
                if w is None:
                    torch.mul(m, g_neg * scale, out=eb)
                else:
                    torch.addcmul(zero, m, w, value=g_neg * scale, out=eb)
                if pl.numel():
                    ebf = eb.view(-1)
                    ebf[pl] = ebf[pl] / g_neg
            if dl is not None:
                gb = grad[start:stop]
                factor = dl_factor * chain_neg * scale
                if w is None:
                    torch.mul(dl, factor, out=gb)
                else:
                    torch.addcmul(zero, dl, w, value=factor, out=gb)
                if pl.numel():
                    gbf = gb.view(-1)
                    gbf[pl] = gbf[pl] * (-1.0 / chain_neg)
                # Entries below the smallest normal number are subnormal, and arithmetic on them (here
                # and in the layers that take this gradient) is several times slower: DB's negatives
                # reach them once scores sit near their priors. Flushed to zero (below float precision).
                gb.copy_(F.hardshrink(gb, tiny))  # one kernel: |g| <= tiny → 0
        ctx.save_for_backward(grad)
        return elem if elem is not None else total

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        (grad,) = ctx.saved_tensors
        if grad_out.ndim:
            g = grad * grad_out
        else:
            factor = grad_out.item()
            # ``loss.backward()``: hand the saved gradient over as is. Autograd copies a gradient that is
            # still referenced elsewhere before accumulating into it, so the saved tensor stays intact.
            g = grad if factor == 1.0 else grad * factor
        return g, None, None, None, None, None, None, None, None, None, None


def row_blocks(
    pos: Tensor, pos_cols: Tensor, n_rows: int, n_cols: int
) -> list[tuple[int, int, Tensor, Tensor]]:
    """Blocks of rows of about :data:`_BLOCK_ELEMENTS` elements: ``(start, stop, positives, columns)``
    with the block's positives as flat indices within the block and their columns (``pos``: sorted
    flat indices of the positives of the whole ``(n_rows, n_cols)`` matrix)."""
    step = max(1, _BLOCK_ELEMENTS // max(n_cols, 1))
    starts = list(range(0, n_rows, step))
    if len(starts) == 1:
        cuts = [0, pos.numel()]
    else:
        edges = torch.tensor([s * n_cols for s in [*starts, n_rows]], device=pos.device)
        cuts = torch.searchsorted(pos, edges).tolist()
    return [
        (
            start,
            min(n_rows, start + step),
            pos[cuts[k] : cuts[k + 1]] - start * n_cols,
            pos_cols[cuts[k] : cuts[k + 1]],
        )
        for k, start in enumerate(starts)
    ]


_CHUNK = 64
_SMALL = 1 << 14  # below this, one nonzero is fastest


def _positive_index(targets: Tensor, validate: bool) -> Tensor:
    """Flat indices of the non-zero targets (sorted); with ``validate``, raise on values other than 0, 1.

    Targets are sparse, and ``torch.nonzero`` over millions of elements is slow, so the search runs in
    two levels: sums over chunks of 64 elements (one fast reduction), then ``nonzero`` inside the few
    chunks that are not all zero. A negative value could cancel in a chunk sum, so negative (and NaN)
    targets are detected first.
    """
    flat = targets.reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.view(torch.uint8)
    if flat.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=flat.device)
    if flat.numel() <= _SMALL:
        pos = torch.nonzero(flat).squeeze(1)
    elif not bool((low := flat.min()) >= 0):  # also catches NaN
        if validate:
            raise ValueError(f"`targets` must be binary (0 or 1), got the value {low.item()}")
        pos = torch.nonzero(flat).squeeze(1)
    else:
        n_main = flat.numel() // _CHUNK * _CHUNK
        chunks = flat[:n_main].view(-1, _CHUNK)
        hit = torch.nonzero(chunks.sum(1)).squeeze(1)
        local = torch.nonzero(chunks[hit])
        pos = hit[local[:, 0]] * _CHUNK + local[:, 1]
        if n_main < flat.numel():
            pos = torch.cat([pos, torch.nonzero(flat[n_main:]).squeeze(1) + n_main])
    if validate and pos.numel():
        values = flat[pos]
        bad = values != 1
        if bool(bad.any()):
            value = values[torch.nonzero(bad)[0, 0]].item()
            raise ValueError(f"`targets` must be binary (0 or 1), got the value {value}")
    return pos


def balanced_loss(
    logits: Tensor,
    targets: Tensor,
    *,
    gamma: float = 0.0,
    weight: Tensor | None = None,
    rebalance: tuple[Tensor, float, float, float] | None = None,
    bias: Tensor | None = None,
    lam: float = 1.0,
    neg_scale: bool = True,
    alpha_t: float = 1.0,
    loss_weight: float = 1.0,
    reduction: Reduction = "mean",
    validate_args: bool = True,
) -> Tensor:
    """The generic balancing loss; every preset of the family is a setting of it.

    Elementwise, with ``q = σ(z − v_i)`` on positives and ``q = σ(λ(z − v_i))`` on negatives::

        positives:  loss_weight · α_t · w_ki ·       (1 − q)^γ · (−log q)
        negatives:  loss_weight · α_t · w_ki · g ·   q^γ       · (−log(1 − q)),   g = 1/λ if neg_scale

    then reduced (``mean`` over all elements, ``sum`` or ``none``). ``w`` is ``weight`` (broadcast)
    times, when ``rebalance`` is given, the smoothed rebalancing weight of :func:`rebalance_weights`.

    Relations: ``γ = 0``, no weight, no bias, ``λ = 1`` is binary cross-entropy; no bias and
    ``λ = 1`` is the focal loss; ``weight = r_CB`` is CB; ``rebalance`` is R-FL; bias + λ is NTR-FL;
    both is DB.

    Computed in float32 for float16/bfloat16/float32 logits and in float64 for float64 logits, in
    blocks of rows (one block up to 2^23 elements), with the gradient formed in the forward pass
    (first-order gradients only; nothing is computed for it under ``torch.no_grad()``). The caller's
    tensors are never modified. An empty batch gives ``0`` for ``mean`` and ``sum``.

    Args:
        logits: ``(B, C)`` (or ``(C,)``) raw scores.
        targets: binary, the logits' shape, any dtype (bool, integer or floating).
        gamma: focal exponent ``γ >= 0``.
        weight: non-negative weight broadcastable to ``(B, C)``, e.g. ``r_CB`` of shape ``(C,)``.
        rebalance: ``(inv_freq, α, β, μ)``: multiply by ``r̂_DB`` computed from ``targets``.
        bias: NTR bias ``v_i``, shape ``(C,)``.
        lam: NTR negative scale ``λ > 0``.
        neg_scale: multiply negative terms by ``1/λ`` (the equations); False reproduces the authors'
            scripts for NTR-FL.
        alpha_t: constant factor of the focal terms (the scripts use 0.5).
        loss_weight: constant factor ``>= 0``.
        reduction: ``"none" | "mean" | "sum"``.
        validate_args: check shapes, binary targets and parameters.

    Returns:
        scalar (``mean``/``sum``) or the logits' shape (``none``), float32 or float64.

    Raises:
        ValueError: an argument is out of range or shapes disagree (the message names it).
    """
    if validate_args:
        gamma = _check_number("gamma", gamma, low=0.0)
        lam = _check_number("lam", lam, low=0.0, low_open=True)
        alpha_t = _check_number("alpha_t", alpha_t, low=0.0)
        loss_weight = _check_number("loss_weight", loss_weight, low=0.0)
        _check_reduction(reduction)
        if logits.ndim not in (1, 2):
            raise ValueError(f"`logits` must have shape (B, C) or (C,), got {tuple(logits.shape)}")
        if not logits.is_floating_point():
            raise ValueError(f"`logits` must be a floating-point tensor, got {logits.dtype}")
        if targets.shape != logits.shape:
            raise ValueError(
                f"`targets` must have the logits' shape {tuple(logits.shape)}, got {tuple(targets.shape)}"
            )
        n_labels = logits.shape[-1]
        rb_vec = None if rebalance is None else rebalance[0]
        for name, vec in (("bias", bias), ("rebalance inv_freq", rb_vec)):
            if vec is not None and tuple(vec.shape) != (n_labels,):
                raise ValueError(f"`{name}` must have shape ({n_labels},), got {tuple(vec.shape)}")
        if weight is not None:
            try:
                torch.broadcast_shapes(weight.shape, logits.shape)
            except RuntimeError:
                raise ValueError(
                    f"`weight` must broadcast to the logits' shape {tuple(logits.shape)}, "
                    f"got {tuple(weight.shape)}"
                ) from None
        if rebalance is not None:
            inv = rebalance[0]
            if inv.numel() and not bool(((inv > 0) & torch.isfinite(inv)).all()):
                raise ValueError("`rebalance` inverse frequencies must be finite and > 0")
            _check_number("alpha", rebalance[1], low=0.0)
            _check_number("beta", rebalance[2], low=0.0)
            _check_number("mu", rebalance[3])
    return _balanced_loss(
        logits, targets, gamma, weight, rebalance, bias, lam, neg_scale, alpha_t, loss_weight, reduction,
        validate_args,
    )  # fmt: skip


def _balanced_loss(
    logits: Tensor,
    targets: Tensor,
    gamma: float,
    weight: Tensor | None,
    rebalance: tuple[Tensor, float, float, float] | None,
    bias: Tensor | None,
    lam: float,
    neg_scale: bool,
    alpha_t: float,
    loss_weight: float,
    reduction: str,
    validate_targets: bool,
) -> Tensor:
    """:func:`balanced_loss` after argument checks (shapes must agree; targets checked if asked)."""
    dtype = _compute_dtype(logits)
    z = logits.to(dtype)
    if z.ndim == 1:
        z = z.unsqueeze(0)
    z = z.contiguous()
    dev = z.device
    pos = _positive_index(targets.to(device=dev), validate_targets)

    def _vec(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.detach().to(device=dev, dtype=dtype)

    w = _vec(weight)
    if w is not None:
        # a (1, C) row, or a (B, C) contiguous matrix for anything that varies along the batch
        while w.ndim < 2:
            w = w.unsqueeze(0)
        if w.shape[0] == 1 or z.shape[0] == 1:
            w = w[:1].expand(1, z.shape[1]).contiguous()
        else:
            w = w.expand(z.shape).contiguous()
    rb = None
    if rebalance is not None:
        rb = (_vec(rebalance[0]), float(rebalance[1]), float(rebalance[2]), float(rebalance[3]))
    scale = float(loss_weight) * float(alpha_t)
    if reduction == "mean":
        scale /= max(z.numel(), 1)
    out = _BalancedLossFunction.apply(
        z,
        pos,
        w,
        rb,
        _vec(bias),
        float(lam),
        bool(neg_scale),
        float(gamma),
        scale,
        reduction,
        torch.is_grad_enabled() and z.requires_grad,
    )
    if reduction == "none":
        out = out.reshape(logits.shape)
    return out
