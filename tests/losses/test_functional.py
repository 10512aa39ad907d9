"""The functional pieces: weights, bias, μ, the focal term and the generic balanced_loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from _loss_reference import reference_loss
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbalance.data.stats import LabelStats
from mlbalance.losses import LOSS_NAMES, get_loss
from mlbalance.losses import functional as LF


def test_class_balanced_weights_match_formula():
    freq = [0, 1, 2, 10, 1000]
    got = LF.class_balanced_weights(freq, 0.9)
    want = [(1 - 0.9) / (1 - 0.9 ** max(n, 1)) for n in freq]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    # β → 1 tends to 1/n
    near_one = LF.class_balanced_weights([1, 4, 100], 1 - 1e-9)
    np.testing.assert_allclose(near_one.numpy(), [1, 0.25, 0.01], rtol=1e-6)
    assert torch.equal(LF.class_balanced_weights(freq, 0.0), torch.ones(5, dtype=torch.float64))


def test_ntr_bias_matches_formula_and_clips_the_prior():
    freq, n = [0, 1, 5, 10], 10
    got = LF.ntr_bias(freq, n, 0.05)
    p = [0.5 / n, 1 / n, 5 / n, 9.5 / n]
    want = [-0.05 * -math.log(1 / q - 1) for q in p]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    assert torch.equal(LF.ntr_bias(freq, n, 0.0), torch.zeros(4, dtype=torch.float64))


def test_rebalance_weights_match_formula_and_empty_row():
    y = torch.tensor([[1.0, 0, 1], [0, 0, 0], [0, 1, 0]])
    inv = LF.inverse_frequency([2, 5, 0])  # n = 0 counted as 1
    w = LF.rebalance_weights(y, inv, 0.1, 10.0, 0.9)
    inv_l = [0.5, 0.2, 1.0]
    for k, row in enumerate(y.tolist()):
        p_doc = sum(v for v, t in zip(inv_l, row) if t)
        for i in range(3):
            want = 1.1 if p_doc == 0 else 0.1 + 1 / (1 + math.exp(-10 * (inv_l[i] / p_doc - 0.9)))
            assert w[k, i].item() == pytest.approx(want, rel=1e-6)
    assert ((w >= 0.1) & (w <= 1.1)).all()


def test_rebalance_mu_matches_label_stats_and_plain_python():
    rng = np.random.default_rng(3)
    y = (rng.random((40, 9)) < 0.25).astype(np.float64)
    y[5] = 0
    mu = LF.rebalance_mu(y)
    stats = LabelStats.from_labels(sp.csr_matrix(y), [str(i) for i in range(9)])
    assert mu == pytest.approx(stats.mu, rel=1e-12)
    freq = y.sum(0)
    r = [(1 / freq[i]) / sum(1 / freq[j] for j in range(9) if y[k, j]) for k in range(40) for i in range(9)
         if y[k, i]]  # fmt: skip
    assert mu == pytest.approx(0.5 * (np.mean(r) + np.median(r)), rel=1e-12)
    assert LF.rebalance_mu(torch.from_numpy(y)) == pytest.approx(mu)
    with pytest.raises(ValueError, match="at least one positive"):
        LF.rebalance_mu(np.zeros((3, 2)))


def test_focal_loss_function_gamma_zero_is_bce():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(5, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(5, 4, generator=gen) < 0.5).double()
    a = LF.focal_loss(z, y, gamma=0.0, reduction="mean")
    b = F.binary_cross_entropy_with_logits(z, y)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(torch.autograd.grad(a, z)[0], torch.autograd.grad(b, z)[0])
    fused = LF.balanced_loss(z, y, gamma=2.0, reduction="none")
    torch.testing.assert_close(LF.focal_loss(z, y, gamma=2.0), fused)


def test_composable_pieces_rebuild_the_fused_loss():
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    y = (torch.rand(4, 5, generator=gen) < 0.4).double()
    freq, n = [1, 2, 3, 4, 9], 10
    bias, inv = LF.ntr_bias(freq, n, 0.05), LF.inverse_frequency(freq)
    adjusted = LF.negative_tolerant_logits(z, y, bias, 2.0)
    # focal on the adjusted logits, with the signs of positives/negatives handled by the targets
    composed = LF.focal_loss(adjusted, y, gamma=2.0) * LF.negative_scale(y, 2.0)
    composed = composed * LF.rebalance_weights(y, inv, 0.1, 10.0, 0.9)
    fused = LF.balanced_loss(
        z, y, gamma=2.0, rebalance=(inv, 0.1, 10.0, 0.9), bias=bias, lam=2.0, reduction="none"
    )
    torch.testing.assert_close(composed, fused)


def test_weight_shapes_broadcast():
    z = torch.randn(3, 4, dtype=torch.float64)
    y = torch.tensor([[1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 1]]).double()
    base = LF.balanced_loss(z, y, gamma=1.0, reduction="none")
    col = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    row = torch.tensor([[2.0], [3.0], [4.0]], dtype=torch.float64)
    full = torch.rand(3, 4, dtype=torch.float64)
    for w in (col, col[None], row, full):
        got = LF.balanced_loss(z, y, gamma=1.0, weight=w, reduction="none")
        torch.testing.assert_close(got, base * w)
    with pytest.raises(ValueError, match=r"`weight` must broadcast to the logits' shape \(3, 4\)"):
        LF.balanced_loss(z, y, weight=torch.ones(5))


def test_one_dimensional_logits():
    z, y = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.0, 0.0, 1.0])
    got = LF.balanced_loss(z, y, reduction="none")
    torch.testing.assert_close(got, F.binary_cross_entropy_with_logits(z, y, reduction="none"))


def test_no_gradient_work_under_no_grad():
    z = torch.randn(3, 4, requires_grad=True)
    with torch.no_grad():
        value = LF.balanced_loss(z, torch.zeros(3, 4), gamma=2.0)
    assert not value.requires_grad


def test_blocks_give_the_same_result(monkeypatch):
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(37, 11, generator=gen, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(37, 11, generator=gen) < 0.2).double()
    loss = get_loss("db", torch.randint(0, 50, (11,)), n_train=50)
    one_block = loss(z, y)
    (g1,) = torch.autograd.grad(one_block, z)
    monkeypatch.setattr(LF, "_BLOCK_ELEMENTS", 23)  # two rows per block, positives split across blocks
    many_blocks = loss(z, y)
    (g2,) = torch.autograd.grad(many_blocks, z)
    torch.testing.assert_close(one_block, many_blocks)
    torch.testing.assert_close(g1, g2)


# ------------------------------------------------------------------------------------------------
# property tests
# ------------------------------------------------------------------------------------------------
@st.composite
def problems(draw):
    n_docs = draw(st.integers(0, 5))
    n_labels = draw(st.integers(1, 6))
    n_train = draw(st.integers(1, 30))
    freq = draw(st.lists(st.integers(0, n_train), min_size=n_labels, max_size=n_labels))
    bits = draw(st.lists(st.booleans(), min_size=n_docs * n_labels, max_size=n_docs * n_labels))
    values = draw(
        st.lists(
            st.floats(-60, 60, allow_nan=False, allow_infinity=False),
            min_size=n_docs * n_labels,
            max_size=n_docs * n_labels,
        )
    )
    logits = torch.tensor(values, dtype=torch.float64).reshape(n_docs, n_labels)
    targets = torch.tensor(bits, dtype=torch.float64).reshape(n_docs, n_labels)
    return logits, targets, freq, n_train


@settings(max_examples=60, deadline=None)
@given(problem=problems(), name=st.sampled_from(LOSS_NAMES), dataset=st.sampled_from(["reuters", "pubmed"]))
def test_property_matches_reference_and_is_finite(problem, name, dataset):
    logits, targets, freq, n_train = problem
    loss = get_loss(name, freq, n_train, dataset=dataset)
    z = logits.clone().requires_grad_()
    value = loss(z, targets)
    value.backward()
    want = reference_loss(logits.tolist(), targets.int().tolist(), freq, n_train, name, dataset)
    assert value.item() == pytest.approx(want, rel=1e-6, abs=1e-9)
    assert value.item() >= 0
    assert torch.isfinite(z.grad).all()
    # float32 agrees with float64 and stays finite
    value32 = loss(logits.float(), targets)
    assert torch.isfinite(value32)
    assert value32.item() == pytest.approx(want, rel=1e-4, abs=1e-5)


@settings(max_examples=30, deadline=None)
@given(problem=problems(), name=st.sampled_from(LOSS_NAMES))
def test_property_an_empty_row_changes_nothing_else(problem, name):
    """Adding a document with no positive adds its own row and leaves the others unchanged."""
    logits, targets, freq, n_train = problem
    loss = get_loss(name, freq, n_train, reduction="none")
    base = loss(logits, targets)
    extra_logits = torch.cat([logits, torch.zeros(1, logits.shape[1], dtype=logits.dtype)])
    extra_targets = torch.cat([targets, torch.zeros(1, targets.shape[1], dtype=targets.dtype)])
    extended = loss(extra_logits, extra_targets)
    torch.testing.assert_close(extended[:-1], base)
    assert torch.isfinite(extended[-1]).all() and (extended[-1] > 0).all()


def test_backward_twice_with_retained_graph_accumulates_correctly():
    z = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(4, 6) < 0.3).double()
    loss = get_loss("db", [1, 2, 3, 4, 5, 6], n_train=8)
    value = loss(z, y)
    value.backward(retain_graph=True)
    first = z.grad.clone()
    value.backward()
    torch.testing.assert_close(z.grad, 2 * first)
    (scaled,) = torch.autograd.grad(3.0 * loss(z, y), z)
    torch.testing.assert_close(scaled, 3 * first)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 4099])
def test_positive_index_matches_nonzero(n):
    gen = torch.Generator().manual_seed(n)
    y = (torch.rand(n, generator=gen) < 0.05).float()
    want = torch.nonzero(y).squeeze(1)
    for dtype in (torch.float32, torch.bool, torch.int64, torch.float16):
        assert torch.equal(LF._positive_index(y.to(dtype), True), want)
    if n >= 64:
        bad = y.clone()
        bad[10], bad[11] = 1.0, -1.0  # would cancel in a chunk sum
        with pytest.raises(ValueError, match=r"got the value -1.0"):
            LF._positive_index(bad, True)
        bad[11] = float("nan")
        with pytest.raises(ValueError, match=r"got the value nan"):
            LF._positive_index(bad, True)
