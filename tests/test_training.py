"""The generic epoch loop: config checks, early stopping, checkpoints, resume, the validation metric."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.metrics import f1_score

from mlbalance.errors import ConfigError, RunError
from mlbalance.evaluation.monitor import PAPER_PROBABILITY_GRID, best_global_micro_f1, macro_f1_at
from mlbalance.training import (
    EarlyStopping,
    TrainingConfig,
    get_rng_state,
    load_checkpoint,
    run_training,
    set_rng_state,
)


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_epochs", 0), ("patience", 0), ("seed", -1), ("min_delta", -0.1), ("max_epochs", 2.5)],
)
def test_config_rejects_bad_values(option, value):
    with pytest.raises(ConfigError, match=rf"`{option}`.*{value!r}"):
        TrainingConfig(**{option: value})


def test_early_stopping_keeps_the_real_argmax():
    stopper = EarlyStopping(patience=2)
    improved = [stopper.update(e, s) for e, s in enumerate([0.1, 0.5, 0.4, 0.6, 0.6, 0.59], start=1)]
    assert improved == [True, True, False, True, False, False]
    assert stopper.best_epoch == 4 and stopper.best_score == 0.6
    assert stopper.should_stop
    copy = EarlyStopping()
    copy.load_state_dict(stopper.state_dict())
    assert copy.state_dict() == stopper.state_dict()
    with pytest.raises(RunError, match="not finite"):
        stopper.update(7, float("nan"))


def test_rng_state_round_trip():
    state = get_rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


def _toy_problem(seed: int = 0):
    torch.manual_seed(seed)  # the model's initialisation happens before run_training seeds anything
    x = torch.randn(64, 5)
    y = (x[:, :2].sum(dim=1, keepdim=True) > 0).float()
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Dropout(0.3), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7)

    def train_epoch(epoch):
        model.train()
        total = 0.0
        for rows in torch.randperm(64).split(16):  # global RNG: restored on resume
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[rows]), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        sched.step()
        return {"train_loss": total / 4}

    def validate(epoch):
        model.eval()
        with torch.no_grad():
            acc = ((model(x) > 0).float() == y).float().mean().item()
        # Make the metric non-monotone so the argmax is not simply the last epoch.
        return {"val_micro_f1": acc - (0.2 if epoch % 3 == 0 else 0.0)}

    return model, opt, sched, train_epoch, validate


def test_best_epoch_weights_are_restored():
    model, opt, sched, train_epoch, validate = _toy_problem()
    seen = {}

    def validate_and_remember(epoch):
        seen[epoch] = {k: v.clone() for k, v in model.state_dict().items()}
        return validate(epoch)

    cfg = TrainingConfig(max_epochs=8, patience=3, seed=1)
    result = run_training(
        cfg,
        model=model,
        optimizer=opt,
        scheduler=sched,
        train_epoch=train_epoch,
        validate=validate_and_remember,
    )
    scores = [row["val_micro_f1"] for row in result.history]
    assert result.best_epoch == 1 + int(np.argmax(scores))
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, seen[result.best_epoch][k])


def test_resume_gives_the_uninterrupted_result(tmp_path):
    cfg = TrainingConfig(max_epochs=7, patience=7, seed=5)
    model, opt, sched, train_epoch, validate = _toy_problem()
    full = run_training(
        cfg, model=model, optimizer=opt, scheduler=sched, train_epoch=train_epoch, validate=validate
    )
    full_state = {k: v.clone() for k, v in model.state_dict().items()}

    model, opt, sched, train_epoch, validate = _toy_problem()

    def crash_in_epoch_5(epoch):
        if epoch == 5:
            torch.rand(3)  # consume randomness, as a half-done epoch would
            raise KeyboardInterrupt
        return train_epoch(epoch)

    with pytest.raises(KeyboardInterrupt):
        run_training(
            cfg,
            model=model,
            optimizer=opt,
            scheduler=sched,
            train_epoch=crash_in_epoch_5,
            validate=validate,
            checkpoint_dir=tmp_path,
        )
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 4

    model, opt, sched, train_epoch, validate = _toy_problem()
    torch.manual_seed(12345)  # whatever the state of the process, resume restores it
    resumed = run_training(
        cfg,
        model=model,
        optimizer=opt,
        scheduler=sched,
        train_epoch=train_epoch,
        validate=validate,
        checkpoint_dir=tmp_path,
        resume=True,
    )
    assert resumed.resumed_from == 4
    assert resumed.history == full.history and resumed.best_epoch == full.best_epoch
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, full_state[k], rtol=0, atol=0)


def test_resume_of_a_finished_run_trains_nothing(tmp_path):
    cfg = TrainingConfig(max_epochs=2, patience=2, seed=0)
    model, opt, _, train_epoch, validate = _toy_problem()
    first = run_training(
        cfg, model=model, optimizer=opt, train_epoch=train_epoch, validate=validate, checkpoint_dir=tmp_path
    )

    def fail(epoch):
        raise AssertionError("trained again")

    model, opt, _, _, validate = _toy_problem()
    again = run_training(
        cfg,
        model=model,
        optimizer=opt,
        train_epoch=fail,
        validate=validate,
        checkpoint_dir=tmp_path,
        resume=True,
    )
    assert again.history == first.history


def test_raising_max_epochs_continues_a_run_that_ended_at_its_cap(tmp_path):
    # 7 epochs in one go equal 4 epochs, then a resume with max_epochs raised to 7
    model, opt, sched, train_epoch, validate = _toy_problem()
    full = run_training(
        TrainingConfig(max_epochs=7, patience=7, seed=5),
        model=model,
        optimizer=opt,
        scheduler=sched,
        train_epoch=train_epoch,
        validate=validate,
    )
    model, opt, sched, train_epoch, validate = _toy_problem()
    kwargs = dict(optimizer=opt, scheduler=sched, train_epoch=train_epoch, validate=validate)
    run_training(
        TrainingConfig(max_epochs=4, patience=7, seed=5), model=model, checkpoint_dir=tmp_path, **kwargs
    )
    more = run_training(
        TrainingConfig(max_epochs=7, patience=7, seed=5),
        model=model,
        checkpoint_dir=tmp_path,
        resume=True,
        **kwargs,
    )
    assert more.resumed_from == 4 and more.history == full.history


def test_an_early_stopped_run_stays_stopped_when_max_epochs_is_raised(tmp_path):
    model, opt, _, train_epoch, _ = _toy_problem()

    def falling(epoch):
        return {"val_micro_f1": 1.0 / epoch}  # best at epoch 1: patience 2 stops after epoch 3

    first = run_training(
        TrainingConfig(max_epochs=5, patience=2, seed=0),
        model=model,
        optimizer=opt,
        train_epoch=train_epoch,
        validate=falling,
        checkpoint_dir=tmp_path,
    )
    assert first.stopped_early and len(first.history) == 3

    def fail(epoch):
        raise AssertionError("trained again")

    again = run_training(
        TrainingConfig(max_epochs=9, patience=2, seed=0),
        model=model,
        optimizer=opt,
        train_epoch=fail,
        validate=falling,
        checkpoint_dir=tmp_path,
        resume=True,
    )
    assert again.history == first.history


def test_resume_checks_the_fingerprint_and_needs_a_folder(tmp_path):
    cfg = TrainingConfig(max_epochs=1, seed=0)
    model, opt, _, train_epoch, validate = _toy_problem()
    run_training(
        cfg, model=model, optimizer=opt, train_epoch=train_epoch, validate=validate,
        checkpoint_dir=tmp_path, fingerprint={"lr": 0.3},
    )  # fmt: skip
    with pytest.raises(ConfigError, match="lr"):
        run_training(
            cfg, model=model, optimizer=opt, train_epoch=train_epoch, validate=validate,
            checkpoint_dir=tmp_path, resume=True, fingerprint={"lr": 0.5},
        )  # fmt: skip
    with pytest.raises(ConfigError, match="checkpoint_dir"):
        run_training(cfg, model=model, train_epoch=train_epoch, validate=validate, resume=True)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RunError, match="cannot read checkpoint"):
        run_training(
            cfg, model=model, train_epoch=train_epoch, validate=validate, checkpoint_dir=tmp_path, resume=True
        )


def test_missing_monitored_key_is_reported():
    model, _, _, train_epoch, _ = _toy_problem()
    with pytest.raises(RunError, match="val_micro_f1"):
        run_training(
            TrainingConfig(max_epochs=1),
            model=model,
            train_epoch=train_epoch,
            validate=lambda e: {"acc": 1.0},
        )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_global_micro_f1_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random((40, 7)) < 0.25).astype(np.float32)
    scores = np.round(np.clip(y * 0.3 + rng.random((40, 7)) * 0.7, 0, 1), 2).astype(np.float32)
    f1, t = best_global_micro_f1(scores, sp.csr_matrix(y))
    brute = max(f1_score(y.ravel(), scores.ravel() >= c) for c in np.unique(scores))
    assert f1 == pytest.approx(brute)
    assert f1_score(y.ravel(), scores.ravel() >= t) == pytest.approx(f1)
    f1_grid, t_grid = best_global_micro_f1(scores, y, grid=PAPER_PROBABILITY_GRID)
    brute_grid = max(f1_score(y.ravel(), scores.ravel() >= c) for c in PAPER_PROBABILITY_GRID)
    assert f1_grid == pytest.approx(brute_grid) and 0.4 <= t_grid <= 0.6
    assert best_global_micro_f1(scores, np.zeros_like(y)) == (0.0, float("inf"))


@pytest.mark.parametrize("threshold", [0.3, 0.55, 2.0])
def test_macro_f1_at_matches_sklearn(threshold):
    rng = np.random.default_rng(4)
    y = (rng.random((60, 9)) < 0.2).astype(np.float32)
    y[:, 0] = 0  # a label with no positive: 0 unless predicted, as in sklearn's zero_division=0
    scores = np.clip(y * 0.4 + rng.random((60, 9)) * 0.6, 0, 1).astype(np.float32)
    expected = f1_score(y, scores >= np.float32(threshold), average="macro", zero_division=0)
    assert macro_f1_at(scores, sp.csr_matrix(y), threshold) == pytest.approx(expected, abs=1e-12)


def test_checkpoints_are_written_at_most_every_interval_and_hold_the_best_model_once(tmp_path, monkeypatch):
    from mlbalance import training

    clock = {"now": 0.0}
    monkeypatch.setattr(training.time, "monotonic", lambda: clock["now"])
    monkeypatch.setenv("MLBALANCE_CHECKPOINT_EVERY_S", "25")
    model, opt, sched, train_epoch, validate = _toy_problem()
    written = []

    def ten_seconds_an_epoch(epoch):
        path = tmp_path / "checkpoint.pt"
        written.append(load_checkpoint(path)["epoch"] if path.exists() else None)
        clock["now"] += 10.0
        return train_epoch(epoch)

    cfg = TrainingConfig(max_epochs=7, patience=7, seed=5)
    result = run_training(cfg, model=model, optimizer=opt, scheduler=sched, train_epoch=ten_seconds_an_epoch,
                          validate=validate, checkpoint_dir=tmp_path)  # fmt: skip
    # at the start of epochs 1..7: checkpoints of epochs 3 (30 s) and 6 (60 s after 30 s), then the last
    assert written == [None, None, None, 3, 3, 3, 6]
    last = load_checkpoint(tmp_path / "checkpoint.pt")
    assert last["epoch"] == 7 and last["finished"]
    if last["best_is_current"]:
        assert last["best_model"] is None and result.best_epoch == 7
    else:
        assert last["best_model"] is not None and result.best_epoch < 7
    best = {k: v.clone() for k, v in model.state_dict().items()}
    model, opt, sched, train_epoch, validate = _toy_problem()
    run_training(cfg, model=model, optimizer=opt, scheduler=sched, train_epoch=train_epoch, validate=validate,
                 checkpoint_dir=tmp_path, resume=True)  # fmt: skip
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())  # the best weights, once


def test_a_current_best_is_stored_once(tmp_path):
    model, opt, _, train_epoch, _ = _toy_problem()
    steps = iter(range(100))

    def always_better(epoch):
        return {"val_micro_f1": float(next(steps))}

    cfg = TrainingConfig(max_epochs=2, patience=5)
    run_training(cfg, model=model, optimizer=opt, train_epoch=train_epoch, validate=always_better,
                 checkpoint_dir=tmp_path)  # fmt: skip
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["best_is_current"] and ckpt["best_model"] is None


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_checkpoint_interval_is_a_config_error(tmp_path, monkeypatch, value):
    monkeypatch.setenv("MLBALANCE_CHECKPOINT_EVERY_S", value)
    model, _, _, train_epoch, validate = _toy_problem()
    with pytest.raises(ConfigError, match="MLBALANCE_CHECKPOINT_EVERY_S must be a number of seconds"):
        run_training(TrainingConfig(max_epochs=1), model=model, train_epoch=train_epoch, validate=validate)
