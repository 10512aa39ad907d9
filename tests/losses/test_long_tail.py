"""ASL, ZLPR and logit-adjusted BCE against a plain float64 re-derivation of their equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlbalance.config import ConfigError, parse_losses
from mlbalance.data.stats import LabelStats
from mlbalance.losses import (
    ALL_LOSS_NAMES,
    LOSS_NAMES,
    LongTailLoss,
    asymmetric_loss,
    get_loss,
    hf_compute_loss,
    logit_adjusted_loss,
    zlpr_loss,
)

NEW = ("asl", "zlpr", "logit-adjusted")


# --- the equations, written out element by element in float64 -------------------------------------


def asl_reference(z, y, gamma_pos, gamma_neg, clip):
    out = torch.zeros_like(z)
    for k in range(z.shape[0]):
        for i in range(z.shape[1]):
            p = 1 / (1 + torch.exp(-z[k, i]))
            if y[k, i] > 0:
                out[k, i] = -((1 - p) ** gamma_pos) * torch.log(p)
            else:
                p_m = torch.clamp(p - clip, min=0.0)
                out[k, i] = -(p_m**gamma_neg) * torch.log(1 - p_m)
    return out


def zlpr_reference(z, y):
    rows = []
    for k in range(z.shape[0]):
        neg = 1 + sum(torch.exp(z[k, i]) for i in range(z.shape[1]) if y[k, i] == 0)
        pos = 1 + sum(torch.exp(-z[k, i]) for i in range(z.shape[1]) if y[k, i] == 1)
        rows.append(
            torch.log(torch.as_tensor(neg, dtype=z.dtype)) + torch.log(torch.as_tensor(pos, dtype=z.dtype))
        )
    return torch.stack(rows)


def logit_adjusted_reference(z, y, freq, n_train, tau):
    out = torch.zeros_like(z)
    for i in range(z.shape[1]):
        n_i = min(max(float(freq[i]), 0.5), n_train - 0.5)  # the prior clipped to [½, N − ½] / N
        prior = n_i / n_train
        shifted = z[:, i] + tau * math.log(prior / (1 - prior))
        p = 1 / (1 + torch.exp(-shifted))
        out[:, i] = -(y[:, i] * torch.log(p) + (1 - y[:, i]) * torch.log(1 - p))
    return out


def _leaf(logits):
    return logits.clone().requires_grad_(True)


def _value_and_grad(fn, logits):
    z = _leaf(logits)
    value = fn(z)
    (grad,) = torch.autograd.grad(value.sum(), z)
    return value.detach(), grad


@pytest.mark.parametrize(
    ("gamma_pos", "gamma_neg", "clip"), [(0.0, 4.0, 0.05), (1.0, 2.0, 0.2), (0.5, 0.0, 0.0), (2.0, 3.0, 0.0)]
)
def test_asl_equals_its_equation_values_and_gradients(small_problem, gamma_pos, gamma_neg, clip):
    logits, targets, _, _ = small_problem
    got, got_grad = _value_and_grad(
        lambda z: asymmetric_loss(z, targets, gamma_pos=gamma_pos, gamma_neg=gamma_neg, clip=clip), logits
    )
    want, want_grad = _value_and_grad(lambda z: asl_reference(z, targets, gamma_pos, gamma_neg, clip), logits)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-8, atol=1e-12)


def test_asl_relations_to_focal_and_bce(small_problem):
    logits, targets, freq, n = small_problem
    focal = get_loss("focal", freq, n, gamma=2.0)(logits, targets, reduction="none")
    asl = asymmetric_loss(logits, targets, gamma_pos=2.0, gamma_neg=2.0, clip=0.0)
    torch.testing.assert_close(asl, focal, rtol=1e-10, atol=1e-12)
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    torch.testing.assert_close(asymmetric_loss(logits, targets, 0.0, 0.0, 0.0), bce, rtol=1e-12, atol=1e-12)


def test_asl_clip_discards_easy_negatives():
    z = torch.tensor([[-5.0, 5.0]], dtype=torch.float64)  # p ≈ 0.0067 < m: the negative is discarded
    y = torch.zeros_like(z)
    loss = _leaf(z)
    value = asymmetric_loss(loss, y, gamma_neg=4.0, clip=0.05)
    (grad,) = torch.autograd.grad(value.sum(), loss)
    assert value[0, 0].item() == 0.0 and grad[0, 0].item() == 0.0
    assert value[0, 1].item() > 0 and grad[0, 1].item() > 0


def test_zlpr_equals_its_equation_values_and_gradients(small_problem):
    logits, targets, _, _ = small_problem
    targets = targets.clone()
    targets[2] = 1  # a document with no negative label as well as one with no positive (row 0)
    got, got_grad = _value_and_grad(lambda z: zlpr_loss(z, targets), logits)
    want, want_grad = _value_and_grad(lambda z: zlpr_reference(z, targets), logits)
    assert got.shape == (logits.shape[0],)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-8, atol=1e-12)
    assert zlpr_loss(logits, targets, "mean").item() == pytest.approx(want.mean().item(), rel=1e-12)
    assert zlpr_loss(logits, targets, "sum").item() == pytest.approx(want.sum().item(), rel=1e-12)


def test_zlpr_with_one_label_is_bce():
    gen = torch.Generator().manual_seed(5)
    z = torch.randn(20, 1, generator=gen, dtype=torch.float64) * 4
    y = (torch.rand(20, 1, generator=gen) < 0.5).double()
    bce = F.binary_cross_entropy_with_logits(z, y, reduction="none")[:, 0]
    torch.testing.assert_close(zlpr_loss(z, y), bce, rtol=1e-12, atol=1e-12)


def test_zlpr_needs_two_dimensions():
    with pytest.raises(ValueError, match="2-D"):
        zlpr_loss(torch.zeros(4), torch.zeros(4))


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 2.0])
def test_logit_adjusted_equals_its_equation_values_and_gradients(small_problem, tau):
    logits, targets, freq, n = small_problem
    got, got_grad = _value_and_grad(lambda z: logit_adjusted_loss(z, targets, freq, n, tau=tau), logits)
    want, want_grad = _value_and_grad(lambda z: logit_adjusted_reference(z, targets, freq, n, tau), logits)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("tau", [0.05, 1.0])
def test_logit_adjusted_is_the_ntr_bias_shift_without_reweighting(small_problem, tau):
    logits, targets, freq, n = small_problem
    adjusted = get_loss("logit-adjusted", freq, n, tau=tau)
    ntr = get_loss("ntr-focal", freq, n, gamma=0.0, ntr_lambda=1.0, ntr_kappa=tau)
    for reduction in ("none", "mean", "sum"):
        torch.testing.assert_close(
            adjusted(logits, targets, reduction=reduction), ntr(logits, targets, reduction=reduction)
        )


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_at_extreme_logits_and_label_less_documents(small_problem, name, dtype):
    _, targets, freq, n = small_problem
    loss = get_loss(name, freq, n)
    z = torch.full(targets.shape, 60.0, dtype=dtype)
    z[::2] = -60.0
    z[:, 1] *= -1
    for y in (targets.to(dtype), torch.zeros_like(z), torch.ones_like(z)):
        leaf = z.clone().requires_grad_(True)
        value = loss(leaf, y)
        (grad,) = torch.autograd.grad(value, leaf)
        assert torch.isfinite(value) and torch.isfinite(grad).all(), (name, dtype)
        assert value.dtype == dtype


@pytest.mark.parametrize("name", NEW)
def test_low_precision_logits_are_computed_in_float32(small_problem, name):
    logits, targets, freq, n = small_problem
    loss = get_loss(name, freq, n)
    low = loss(logits.to(torch.bfloat16), targets.to(torch.bfloat16))
    assert low.dtype == torch.float32
    full = loss(logits.to(torch.bfloat16).double(), targets)
    assert low.item() == pytest.approx(full.item(), rel=1e-5)
    before = logits.clone()
    loss(logits, targets)
    assert torch.equal(logits, before)  # the caller's tensor is not modified


def test_get_loss_builds_them_with_defaults_and_overrides():
    stats = LabelStats(names=("a", "b", "c"), class_freq=np.array([1, 5, 20]), n_train=30)
    freq, n = [1, 5, 20], 30
    asl = get_loss("asl", freq, n)
    assert isinstance(asl, LongTailLoss) and asl.options == {"gamma_pos": 0.0, "gamma_neg": 4.0, "clip": 0.05}
    assert get_loss("asl", freq, n, clip=0.1, gamma_neg=2).options["clip"] == 0.1
    assert get_loss("logit-adjusted", freq, n, tau=0.5).options == {"tau": 0.5}
    assert get_loss("zlpr", freq).options == {}
    assert "asl" in repr(asl) and asl.get_config_dict()["name"] == "asl"
    from_stats = get_loss("logit-adjusted", stats)
    assert from_stats.n_train == 30 and from_stats.class_freq.tolist() == freq
    assert ALL_LOSS_NAMES == LOSS_NAMES + NEW


def test_bad_names_options_and_values_are_clear():
    with pytest.raises(ValueError, match=r"unknown loss 'asll'.*asl, zlpr, logit-adjusted"):
        get_loss("asll", [1, 2], 5)
    with pytest.raises(
        ValueError, match=r"unknown option\(s\) 'gamma' of loss 'asl'; valid options are gamma_pos"
    ):
        get_loss("asl", [1, 2], 5, gamma=2)
    with pytest.raises(ValueError, match=r"unknown option.*'tau' of loss 'zlpr'"):
        get_loss("zlpr", [1, 2], 5, tau=1)
    with pytest.raises(ValueError, match="clip"):
        get_loss("asl", [1, 2], 5, clip=1.0)
    with pytest.raises(ValueError, match="tau"):
        get_loss("logit-adjusted", [1, 2], 5, tau=-1)
    with pytest.raises(ValueError, match="needs `n_train`"):
        get_loss("logit-adjusted", [1, 2])
    with pytest.raises(ValueError, match="labels but the loss has 2"):
        get_loss("zlpr", [1, 2], 5)(torch.zeros(3, 4), torch.zeros(3, 4))


def test_the_hf_adapter_takes_them(small_problem):
    logits, targets, freq, n = small_problem
    loss = get_loss("asl", freq, n)
    compute = hf_compute_loss(loss)
    got = compute({"logits": logits}, targets)
    torch.testing.assert_close(got, loss(logits, targets))
    # Trainer's num_items_in_batch counts label elements; ZLPR is a loss per document
    for name in ("asl", "zlpr"):
        loss = get_loss(name, freq, n)
        got = hf_compute_loss(loss)((logits,), targets, num_items_in_batch=torch.tensor(targets.numel()))
        torch.testing.assert_close(got, loss(logits, targets))


def test_parse_losses_accepts_them_and_all_stays_the_papers():
    assert parse_losses("bce,asl,zlpr,logit-adjusted") == ("bce", "asl", "zlpr", "logit-adjusted")
    assert parse_losses("all") == LOSS_NAMES
    with pytest.raises(ConfigError, match="unknown loss 'zlp'"):
        parse_losses("bce,zlp")


@pytest.mark.parametrize("name", NEW)
def test_the_tfidf_model_trains_with_them(name):
    import mlbalance

    threshold = "fixed" if name == "zlpr" else "global-optimal"
    run = mlbalance.train("synthetic:tiny", model="tfidf", loss=name, max_epochs=4, threshold=threshold)
    total = {row["split"]: row for row in run.metrics if row["group"] == "total"}
    assert run.config["loss"] == name and run.thresholds.method == threshold
    assert total["test"]["micro_f1"] > 0.5, total["test"]  # far above chance on the tiny corpus


FUSED = {
    "asl": (
        "_AsymmetricLossFunction",
        lambda z, y, f, n, r: asymmetric_loss(z, y, 1.0, 3.0, 0.1, reduction=r),
    ),
    "zlpr": ("_ZlprFunction", lambda z, y, f, n, r: zlpr_loss(z, y, reduction=r)),
    "logit-adjusted": (
        "_BalancedLossFunction",
        lambda z, y, f, n, r: logit_adjusted_loss(z, y, f, n, 0.7, r),
    ),
}
REFERENCE = {
    "asl": lambda z, y, f, n: asl_reference(z, y, 1.0, 3.0, 0.1),
    "zlpr": lambda z, y, f, n: zlpr_reference(z, y),
    "logit-adjusted": lambda z, y, f, n: logit_adjusted_reference(z, y, f, n, 0.7),
}


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("block", [None, 23])  # one block; blocks of three rows, positives split
def test_the_fused_kernels_equal_the_equations(small_problem, monkeypatch, name, reduction, block):
    from mlbalance.losses import functional as LF

    if block is not None:
        monkeypatch.setattr(LF, "_BLOCK_ELEMENTS", block)
    logits, targets, freq, n = small_problem
    targets = targets.clone()
    targets[2] = 1  # a document with every label as well as one with none
    kernel, fused = FUSED[name]
    z = _leaf(logits)
    value = fused(z, targets, freq, n, reduction)
    assert type(value.grad_fn).__name__ == kernel + "Backward"  # the fused path was taken
    (grad,) = torch.autograd.grad(value, z)
    want, want_grad = _value_and_grad(lambda x: REFERENCE[name](x, targets, freq, n), logits)
    divisor = want.numel() if reduction == "mean" else 1
    torch.testing.assert_close(value.detach(), want.sum() / divisor, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grad, want_grad / divisor, rtol=1e-8, atol=1e-12)
    assert torch.autograd.gradcheck(lambda x: fused(x, targets, freq, n, reduction), (_leaf(logits),))


def test_the_fused_kernels_scale_a_gradient_from_above(small_problem):
    logits, targets, freq, n = small_problem
    for name, (_, fused) in FUSED.items():
        z = _leaf(logits)
        (grad,) = torch.autograd.grad(3.0 * fused(z, targets, freq, n, "mean"), z)
        reference = REFERENCE[name]
        _, want = _value_and_grad(lambda x, ref=reference: 3.0 * ref(x, targets, freq, n).mean(), logits)
        torch.testing.assert_close(grad, want, rtol=1e-8, atol=1e-12)
