"""Every preset against PAPER.md's equations, their relations, gradients and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _loss_reference import PAPER_PRESETS, reference_loss

from mlbalance.data.stats import LabelStats
from mlbalance.losses import LOSS_NAMES, BalancedLoss, LossConfig, get_loss


def test_loss_names_are_the_papers_eight():
    assert LOSS_NAMES == ("bce", "focal", "cb", "r-focal", "ntr-focal", "db-nofocal", "cb-ntr", "db")
    assert set(PAPER_PRESETS) == set(LOSS_NAMES)


@pytest.mark.parametrize("compat", ["equations", "released-scripts"])
@pytest.mark.parametrize("dataset", ["reuters", "pubmed"])
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_preset_matches_plain_python_equations(small_problem, name, dataset, compat):
    logits, targets, class_freq, n_train = small_problem
    loss = get_loss(name, class_freq, n_train, dataset=dataset, compat=compat)
    got = loss(logits, targets).item()
    want = reference_loss(
        logits.tolist(), targets.int().tolist(), class_freq.tolist(), n_train, name, dataset, compat
    )
    assert got == pytest.approx(want, rel=1e-6, abs=1e-12)


def test_dataset_none_means_reuters(small_problem):
    logits, targets, class_freq, n_train = small_problem
    a = get_loss("db", class_freq, n_train)(logits, targets)
    b = get_loss("db", class_freq, n_train, dataset="reuters")(logits, targets)
    c = get_loss("db", class_freq, n_train, dataset="pubmed")(logits, targets)
    assert a.item() == b.item() != c.item()


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gradcheck_float64(small_problem, name):
    logits, targets, class_freq, n_train = small_problem
    loss = get_loss(name, class_freq, n_train)
    z = logits.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: loss(x, targets), (z,))
    none_loss = get_loss(name, class_freq, n_train, reduction="none")
    assert torch.autograd.gradcheck(lambda x: none_loss(x, targets), (z,))


def _value_and_grad(loss, logits, targets):
    z = logits.clone().requires_grad_()
    value = loss(z, targets)
    (grad,) = torch.autograd.grad(value, z)
    return value, grad


def test_focal_gamma_zero_is_bce_in_value_and_gradient(small_problem):
    logits, targets, class_freq, _ = small_problem
    v1, g1 = _value_and_grad(get_loss("focal", class_freq, gamma=0.0), logits, targets)
    v2, g2 = _value_and_grad(get_loss("bce", class_freq), logits, targets)
    v3, g3 = _value_and_grad(lambda z, y: F.binary_cross_entropy_with_logits(z, y), logits, targets)
    torch.testing.assert_close(v1, v2)
    torch.testing.assert_close(g1, g2)
    torch.testing.assert_close(v1, v3)
    torch.testing.assert_close(g1, g3)


def test_focal_is_at_most_bce_elementwise(small_problem):
    logits, targets, class_freq, _ = small_problem
    focal = get_loss("focal", class_freq, reduction="none")(logits, targets)
    bce = get_loss("bce", class_freq, reduction="none")(logits, targets)
    assert (focal <= bce + 1e-15).all()
    assert (focal < bce).any()


def test_db_with_gamma_zero_is_db_nofocal(small_problem):
    logits, targets, class_freq, n_train = small_problem
    v1, g1 = _value_and_grad(get_loss("db", class_freq, n_train, gamma=0.0), logits, targets)
    v2, g2 = _value_and_grad(get_loss("db-nofocal", class_freq, n_train), logits, targets)
    torch.testing.assert_close(v1, v2)
    torch.testing.assert_close(g1, g2)


def test_cb_with_beta_to_zero_has_equal_weights_and_is_focal(small_problem):
    logits, targets, class_freq, n_train = small_problem
    cb = get_loss("cb", class_freq, n_train, cb_beta=1e-12)
    torch.testing.assert_close(cb.cb_weight, torch.ones_like(cb.cb_weight))
    v1, g1 = _value_and_grad(cb, logits, targets)
    v2, g2 = _value_and_grad(get_loss("focal", class_freq), logits, targets)
    torch.testing.assert_close(v1, v2)
    torch.testing.assert_close(g1, g2)


def test_r_focal_with_equal_frequencies_has_a_constant_weight(small_problem):
    logits, _, _, _ = small_problem
    targets = torch.zeros_like(logits)
    targets[torch.arange(6), torch.tensor([0, 2, 2, 5, 6, 1])] = 1  # one label per document
    freq = torch.full((7,), 9)
    rfl = get_loss("r-focal", freq, reduction="none")(logits, targets)
    focal = get_loss("focal", freq, reduction="none")(logits, targets)
    ratio = rfl / focal
    # r_DB = 1 everywhere, so r̂ = α + σ(β (1 − μ)) for every element
    expected = 0.1 + torch.sigmoid(torch.tensor(10.0 * (1 - 0.9), dtype=torch.float64))
    torch.testing.assert_close(ratio, torch.full_like(ratio, expected.item()))


def test_ntr_with_kappa_zero_lambda_one_is_focal(small_problem):
    logits, targets, class_freq, n_train = small_problem
    ntr = get_loss("ntr-focal", class_freq, n_train, ntr_kappa=0.0, ntr_lambda=1.0)
    v1, g1 = _value_and_grad(ntr, logits, targets)
    v2, g2 = _value_and_grad(get_loss("focal", class_freq), logits, targets)
    torch.testing.assert_close(v1, v2)
    torch.testing.assert_close(g1, g2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_extreme_logits_give_finite_loss_and_gradient(name, dtype):
    class_freq = [0, 1, 5, 20, 20]
    logits = torch.tensor([[100.0, -100.0, 100.0, -100.0, 0.0]] * 4, dtype=dtype)
    targets = torch.tensor([[1, 1, 0, 0, 1], [0, 0, 1, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]])
    loss = get_loss(name, class_freq, n_train=20)
    z = logits.clone().requires_grad_()
    value = loss(z, targets)
    value.backward()
    assert value.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert torch.isfinite(value)
    assert z.grad.dtype == dtype
    assert torch.isfinite(z.grad).all()
    # the confidently wrong elements dominate: loss ≈ 100 per wrong element
    assert value.item() > 1.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32(small_problem, dtype):
    logits, targets, class_freq, n_train = small_problem
    loss = get_loss("db", class_freq, n_train)
    low = logits.to(dtype)
    got = loss(low, targets.to(dtype))
    want = loss(low.to(torch.float32), targets)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_empty_batch_gives_zero(name):
    loss = get_loss(name, [3, 1, 0], n_train=5)
    z = torch.zeros(0, 3, requires_grad=True)
    value = loss(z, torch.zeros(0, 3))
    value.backward()
    assert value.item() == 0.0
    assert z.grad.shape == (0, 3)
    none = get_loss(name, [3, 1, 0], n_train=5, reduction="none")(torch.zeros(0, 3), torch.zeros(0, 3))
    assert none.shape == (0, 3)


def test_reductions_agree(small_problem):
    logits, targets, class_freq, n_train = small_problem
    elem = get_loss("db", class_freq, n_train, reduction="none")(logits, targets)
    total = get_loss("db", class_freq, n_train, reduction="sum")(logits, targets)
    mean = get_loss("db", class_freq, n_train)(logits, targets)
    assert elem.shape == logits.shape
    torch.testing.assert_close(elem.sum(), total)
    torch.testing.assert_close(elem.mean(), mean)
    # the call-time override of the module
    torch.testing.assert_close(get_loss("db", class_freq, n_train)(logits, targets, reduction="sum"), total)


def test_callers_tensors_are_not_modified(small_problem):
    logits, targets, class_freq, n_train = small_problem
    z, y = logits.clone(), targets.clone()
    for name in LOSS_NAMES:
        get_loss(name, class_freq, n_train)(logits, targets)
        get_loss(name, class_freq, n_train, reduction="none")(logits, targets)
    assert torch.equal(z, logits) and torch.equal(y, targets)


def test_target_dtypes_are_accepted(small_problem):
    logits, targets, class_freq, n_train = small_problem
    loss = get_loss("db", class_freq, n_train)
    want = loss(logits, targets)
    for dtype in (torch.bool, torch.int64, torch.uint8, torch.float16, torch.float32):
        torch.testing.assert_close(loss(logits, targets.to(dtype)), want)


def test_buffers_follow_to_and_are_not_in_state_dict():
    loss = get_loss("db", [4, 2, 1], n_train=6)
    names = {name for name, _ in loss.named_buffers()}
    assert {"class_freq", "cb_weight", "inv_freq", "bias"} <= names
    assert loss.state_dict() == {}
    moved = loss.to("meta")
    assert all(b.device.type == "meta" for b in moved.buffers())


def test_edge_frequencies_give_finite_statistics():
    loss = get_loss("db", [0, 10, 10], n_train=10)
    assert torch.isfinite(loss.bias).all() and torch.isfinite(loss.cb_weight).all()
    assert loss.bias[0] > 0 > loss.bias[1]  # rare label pushed down, ubiquitous label pushed up


def test_label_stats_and_mu_auto():
    rng = np.random.default_rng(0)
    y = (rng.random((50, 6)) < 0.3).astype(np.float32)
    stats = LabelStats.from_labels(y, [f"l{i}" for i in range(6)], preset="reuters")
    loss = get_loss("db", stats, mu="auto")
    assert loss.n_train == 50
    assert loss.config.mu == pytest.approx(stats.mu)
    np.testing.assert_array_equal(loss.class_freq.numpy(), stats.class_freq)
    assert get_loss("db", stats).config.mu == 0.9
    with pytest.raises(ValueError, match="mu='auto'"):
        get_loss("db", stats.class_freq, 50, mu="auto")
    with pytest.raises(ValueError, match="`mu` must be a number or 'auto'"):
        get_loss("db", stats, mu="median")


def test_released_scripts_constants():
    freq = [5, 2, 1]
    cfg = get_loss("cb", freq, compat="released-scripts", dataset="pubmed").config
    assert (cfg.loss_weight, cfg.alpha_t) == (5.0, 0.5)
    cfg = get_loss("ntr-focal", freq, 8, compat="released-scripts").config
    assert cfg.ntr_neg_scale is False
    cfg = get_loss("db", freq, 8, compat="released-scripts").config
    assert cfg.ntr_neg_scale is True and cfg.loss_weight == 1.0
    cfg = get_loss("db-nofocal", freq, 8, compat="released-scripts").config
    assert (cfg.loss_weight, cfg.alpha_t) == (0.5, 1.0)
    assert get_loss("cb", freq).config.loss_weight == 1.0  # the equations by default


def test_unknown_name_lists_valid_ones():
    valid = r"valid names are bce, focal, .*, db, asl, zlpr, logit-adjusted$"
    with pytest.raises(ValueError, match=r"unknown loss 'dbl'; " + valid):
        get_loss("dbl", [1, 2])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"gamma": -1.0}, r"`gamma` must be >= 0.0, got -1.0"),
        ({"cb_beta": 1.0}, r"`cb_beta` must be < 1.0, got 1.0"),
        ({"cb_beta": -0.1}, r"`cb_beta` must be >= 0.0, got -0.1"),
        ({"ntr_lambda": 0.0}, r"`ntr_lambda` must be > 0.0, got 0.0"),
        ({"ntr_kappa": float("nan")}, r"`ntr_kappa` must be finite, got nan"),
        ({"reduction": "avg"}, r"`reduction` must be one of \('none', 'mean', 'sum'\), got 'avg'"),
        ({"lamda": 2.0}, r"unknown loss option\(s\) 'lamda'; valid options are gamma, "),
    ],
)
def test_invalid_overrides_raise(overrides, message):
    with pytest.raises(ValueError, match=message):
        get_loss("db", [3, 2], n_train=4, **overrides)


def test_invalid_inputs_raise():
    loss = get_loss("db", [3, 2, 1], n_train=4)
    with pytest.raises(ValueError, match=r"`targets` must have the logits' shape \(2, 3\), got \(2, 2\)"):
        loss(torch.zeros(2, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"`logits` must have shape \(B, 3\) \(one column per label\)"):
        loss(torch.zeros(2, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"`targets` must be binary \(0 or 1\), got the value 0.5"):
        loss(torch.zeros(2, 3), torch.tensor([[0, 1, 0.5], [1, 0, 0]]))
    with pytest.raises(ValueError, match=r"`targets` must be binary \(0 or 1\), got the value -1"):
        loss(torch.zeros(2, 3), torch.tensor([[0, 1, 0], [-1, 0, 0]]))
    with pytest.raises(ValueError, match=r"`n_train` is required"):
        get_loss("ntr-focal", [3, 2])
    with pytest.raises(ValueError, match=r"`class_freq` must be <= n_train=4, got 5.0 for label 0"):
        get_loss("db", [5, 2], n_train=4)
    with pytest.raises(ValueError, match=r"`class_freq` must be >= 0, got -1.0 for label 1"):
        get_loss("focal", [5, -1])
    with pytest.raises(ValueError, match=r"`dataset` must be one of \('reuters', 'pubmed'\) or None"):
        get_loss("db", [5, 2], n_train=9, dataset="bioasq")
    with pytest.raises(ValueError, match=r"`compat` must be one of"):
        get_loss("db", [5, 2], n_train=9, compat="scripts")


def test_module_from_config_and_repr():
    loss = BalancedLoss([4, 2], n_train=6, config=LossConfig(gamma=1.0, reweight="cb", ntr=True))
    assert "gamma=1.0" in repr(loss) and "cb_beta=0.9" in repr(loss)
    assert loss.get_config_dict()["n_labels"] == 2
    with pytest.raises(ValueError, match=r"`reweight` must be one of"):
        LossConfig(reweight="db")


@pytest.mark.parametrize("name", ["db", "cb-ntr", "ntr-focal"])
def test_gradients_below_the_smallest_normal_float32_are_flushed_to_zero(name):
    """Scores far below zero (rare labels near their priors) give gradients under float32's smallest
    normal number; they come back as 0 (subnormal arithmetic is several times slower), and the
    gradient still equals the float64 one to float32 resolution."""
    n_labels = 200
    class_freq = np.arange(n_labels) % 7 + 1
    logits = torch.linspace(-30.0, -5.0, n_labels).repeat(4, 1)
    targets = torch.zeros(4, n_labels)
    targets[:, ::50] = 1
    loss = get_loss(name, class_freq, n_train=1000, dataset="pubmed")
    z32 = logits.clone().requires_grad_()
    loss(z32, targets).backward()
    z64 = logits.double().requires_grad_()
    loss(z64, targets.double()).backward()
    tiny = torch.finfo(torch.float32).tiny
    g32, g64 = z32.grad, z64.grad
    assert ((g64 != 0) & (g64.abs() < tiny)).any()  # the float64 gradient does reach that range
    assert not ((g32 != 0) & (g32.abs() < tiny)).any()
    torch.testing.assert_close(g32.double(), g64, rtol=1e-4, atol=2 * tiny)
