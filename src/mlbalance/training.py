"""The epoch loop shared by mlbalance's PyTorch models: early stopping, best epoch, checkpoints, resume.

The loop knows nothing about text, batches or devices. A model hands it two callbacks — one that
trains for an epoch and returns a dict of statistics, one that validates and returns a dict holding
the monitored metric — plus the module, optimiser and scheduler whose state is checkpointed. The
TF-IDF model calls it directly; the transformer model calls it with callbacks that run under
``accelerate`` (pass ``is_main_process`` so only one process writes checkpoints).

When a ``checkpoint_dir`` is given, one file ``checkpoint.pt`` is written atomically after an epoch
once :func:`checkpoint_interval` seconds (10 by default) have passed since the last one, and after the
last epoch: the model, optimiser and scheduler states, the best epoch's model state (left out when it
is the current one), the early-stopping state, the history, the epoch number and the RNG states of
Python, NumPy and PyTorch. ``resume=True`` continues from it; because the RNG states are restored, a
resumed run reproduces the uninterrupted one. An interruption loses at most the epochs since the last
checkpoint, and epochs of a few seconds — many labels, little data — do not each rewrite a checkpoint
as large as the model twice over.

Example:
    >>> result = run_training(  # doctest: +SKIP
    ...     TrainingConfig(max_epochs=30, patience=5, seed=0),
    ...     model=head,
    ...     optimizer=opt,
    ...     train_epoch=lambda epoch: {"train_loss": one_epoch(epoch)},
    ...     validate=lambda epoch: {"val_micro_f1": micro_f1_on_validation()},
    ... )
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlbalance._atomic import atomic_save
from mlbalance._checks import check_int
from mlbalance.errors import ConfigError, RunError
from mlbalance.progress import ProgressCallback, no_progress

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
#: Least seconds between two checkpoints (the last epoch's is always written); the environment
#: variable ``MLBALANCE_CHECKPOINT_EVERY_S`` sets another (0: after every epoch).
CHECKPOINT_EVERY_S = 10.0


def checkpoint_interval() -> float:
    """Seconds between checkpoints: ``$MLBALANCE_CHECKPOINT_EVERY_S`` or :data:`CHECKPOINT_EVERY_S`.

    Raises:
        ConfigError: the variable is not a number >= 0.
    """
    import os

    text = os.environ.get("MLBALANCE_CHECKPOINT_EVERY_S")
    if text is None:
        return CHECKPOINT_EVERY_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and np.isfinite(value)):
        raise ConfigError(f"MLBALANCE_CHECKPOINT_EVERY_S must be a number of seconds >= 0, got {text!r}")
    return value


CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class TrainingConfig:
    """How long to train and when to stop.

    Attributes:
        max_epochs: upper bound on the number of epochs (>= 1).
        patience: stop after this many epochs without an improvement of the monitored metric (the
            paper's rule is 5); the best epoch's weights are restored at the end.
        seed: seeds Python, NumPy and PyTorch before the first epoch.
        min_delta: an epoch improves only if its metric exceeds the best one by more than this.
        monitor: key of the dict returned by the validation callback that is maximised.
    """

    max_epochs: int = 40
    patience: int = 5
    seed: int = 0
    min_delta: float = 0.0
    monitor: str = "val_micro_f1"

    def __post_init__(self) -> None:
        check_int("max_epochs", self.max_epochs, minimum=1)
        check_int("patience", self.patience, minimum=1)
        check_int("seed", self.seed, minimum=0)
        if (
            not isinstance(self.min_delta, (int, float))
            or not np.isfinite(self.min_delta)
            or self.min_delta < 0
        ):
            raise ConfigError(f"`min_delta` must be a finite number >= 0, got {self.min_delta!r}")
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ConfigError(f"`monitor` must be a non-empty string, got {self.monitor!r}")


class EarlyStopping:
    """Tracks the monitored metric (higher is better) and the real argmax epoch.

    ``update`` is called once per epoch; ``should_stop`` turns true after ``patience`` epochs without
    an improvement larger than ``min_delta``. Ties keep the earlier epoch.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0) -> None:
        check_int("patience", patience, minimum=1)
        self.patience = patience
        self.min_delta = float(min_delta)
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.scores: dict[int, float] = {}

    def update(self, epoch: int, score: float) -> bool:
        """Record ``score`` for ``epoch``; return True if it is the new best."""
        score = float(score)
        if not np.isfinite(score):
            raise RunError(f"the monitored metric is not finite at epoch {epoch}: {score}")
        self.scores[int(epoch)] = score
        if self.best_score is None or score > self.best_score + self.min_delta:
            self.best_score = score
            self.best_epoch = int(epoch)
            self.bad_epochs = 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return {
            "patience": self.patience,
            "min_delta": self.min_delta,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "scores": {str(k): v for k, v in self.scores.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.patience = int(state["patience"])
        self.min_delta = float(state["min_delta"])
        self.best_score = None if state["best_score"] is None else float(state["best_score"])
        self.best_epoch = None if state["best_epoch"] is None else int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])
        self.scores = {int(k): float(v) for k, v in state["scores"].items()}


@dataclass
class TrainingResult:
    """What :func:`run_training` returns.

    Attributes:
        best_epoch: the epoch whose weights the model holds now (1-based).
        best_score: its monitored metric.
        history: one dict per epoch: ``epoch``, the training and validation statistics, ``best``.
        stopped_early: True when patience ran out before ``max_epochs``.
        resumed_from: the last completed epoch of the checkpoint resumed from, or None.
    """

    best_epoch: int
    best_score: float
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    resumed_from: int | None = None


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and PyTorch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_rng_state() -> dict[str, Any]:
    """RNG states of Python, NumPy (global) and PyTorch (CPU, and CUDA when present)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore states captured by :func:`get_rng_state`."""
    random.setstate(_as_tuple(state["python"]))
    npy = state["numpy"]
    np.random.set_state(
        (
            npy["name"],
            npy["keys"].numpy().astype(np.uint32),
            int(npy["pos"]),
            int(npy["has_gauss"]),
            float(npy["cached_gaussian"]),
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return tuple(_as_tuple(x) for x in obj)
    return obj


def run_training(
    config: TrainingConfig,
    *,
    model: torch.nn.Module,
    train_epoch: Callable[[int], Mapping[str, Any]],
    validate: Callable[[int], Mapping[str, Any]],
    optimizer: Any | None = None,
    scheduler: Any | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    fingerprint: Mapping[str, Any] | None = None,
    is_main_process: bool = True,
) -> TrainingResult:
    """Train epoch by epoch with early stopping; leave the best epoch's weights in ``model``.

    Args:
        config: epochs, patience, seed, monitored key.
        model: the module whose ``state_dict`` is the model (for ``accelerate``, the unwrapped model).
        train_epoch: ``train_epoch(epoch)`` trains one epoch (1-based) and returns statistics, e.g.
            ``{"train_loss": 0.12}``. It should draw its randomness from the global RNGs or derive it
            from ``(seed, epoch)``, so that resuming reproduces an uninterrupted run.
        validate: ``validate(epoch)`` returns a dict holding ``config.monitor`` (higher is better).
        optimizer, scheduler: checkpointed with the model when given (anything with
            ``state_dict``/``load_state_dict``).
        checkpoint_dir: where ``checkpoint.pt`` is written (module docstring); None writes nothing.
        resume: continue from ``checkpoint_dir/checkpoint.pt`` when it exists (a fresh start, logged,
            when it does not).
        progress: told ``("train", epoch, max_epochs, **last_history_row)`` after each epoch.
        fingerprint: JSON-like description of the run (model config, data); a checkpoint written
            with a different fingerprint is refused on resume.
        is_main_process: only the main process writes checkpoints (all of them read on resume).

    Returns:
        A :class:`TrainingResult`.

    Raises:
        ConfigError: ``resume`` without ``checkpoint_dir``, or a checkpoint of another configuration.
        RunError: an unreadable checkpoint, or a validation dict without the monitored key.
    """
    progress = progress or no_progress
    if resume and checkpoint_dir is None:
        raise ConfigError("`resume=True` needs a `checkpoint_dir` to resume from")
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    fingerprint = dict(fingerprint or {})
    stopper = EarlyStopping(config.patience, config.min_delta)
    history: list[dict[str, Any]] = []
    best_state: dict[str, torch.Tensor] | None = None
    start_epoch = 1
    resumed_from: int | None = None
    finished = False

    if resume and ckpt_path is not None and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        _check_fingerprint(ckpt, fingerprint, config, ckpt_path)
        model.load_state_dict(ckpt["model"])
        if optimizer is not None and ckpt.get("optimizer") is not None:
            optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        stopper.load_state_dict(ckpt["early_stopping"])
        history = list(ckpt["history"])
        best_state = ckpt["best_model"] if not ckpt.get("best_is_current") else _clone_state(ckpt["model"])
        set_rng_state(ckpt["rng"])
        resumed_from = int(ckpt["epoch"])
        start_epoch = resumed_from + 1
        # A run that ended at its epoch cap goes on when max_epochs is raised; one that stopped early
        # stays stopped (the early-stopping state says so).
        finished = bool(ckpt["finished"]) and (stopper.should_stop or resumed_from >= config.max_epochs)
        logger.info("resuming from %s after epoch %d", ckpt_path, resumed_from)
    else:
        if resume:
            logger.info("no checkpoint at %s; starting from epoch 1", ckpt_path)
        seed_everything(config.seed)

    epoch = start_epoch - 1
    every = checkpoint_interval()
    last_saved = time.monotonic()
    while not finished and epoch < config.max_epochs and not stopper.should_stop:
        epoch += 1
        train_stats = dict(train_epoch(epoch))
        val_stats = dict(validate(epoch))
        if config.monitor not in val_stats:
            raise RunError(
                f"the validation callback returned {sorted(val_stats)}, without the monitored key "
                f"{config.monitor!r}"
            )
        improved = stopper.update(epoch, val_stats[config.monitor])
        if improved:
            best_state = _clone_state(model.state_dict())
        row = {"epoch": epoch, **_plain(train_stats), **_plain(val_stats), "best": improved}
        history.append(row)
        logger.info("epoch %d: %s", epoch, row)
        finished = epoch >= config.max_epochs or stopper.should_stop
        due = finished or time.monotonic() - last_saved >= every
        if ckpt_path is not None and is_main_process and due:
            state = {
                "format": CHECKPOINT_FORMAT,
                "epoch": epoch,
                "finished": finished,
                "fingerprint": fingerprint,
                "training_config": asdict(config),
                "model": model.state_dict(),
                "best_model": None if improved else best_state,  # the model itself when just improved
                "best_is_current": improved,
                "optimizer": optimizer.state_dict() if optimizer is not None else None,
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "early_stopping": stopper.state_dict(),
                "history": history,
                "rng": get_rng_state(),
            }
            save_checkpoint(ckpt_path, state)
            last_saved = time.monotonic()
        progress("train", epoch, config.max_epochs, **{k: v for k, v in row.items() if k != "epoch"})

    if best_state is None or stopper.best_epoch is None:
        raise RunError("training ran no epoch; nothing to keep")
    model.load_state_dict(best_state)
    return TrainingResult(
        best_epoch=stopper.best_epoch,
        best_score=float(stopper.best_score),  # type: ignore[arg-type]
        history=history,
        stopped_early=stopper.should_stop and (not history or history[-1]["epoch"] < config.max_epochs),
        resumed_from=resumed_from,
    )


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> None:
    """Write a checkpoint atomically (``torch.save`` of tensors and plain containers only)."""
    atomic_save(path, lambda tmp: torch.save(dict(state), tmp))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only``: no code runs)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged or foreign file
        raise RunError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise RunError(f"{path} is not an mlbalance checkpoint of format {CHECKPOINT_FORMAT}")
    return ckpt


def _check_fingerprint(
    ckpt: Mapping[str, Any], fingerprint: Mapping[str, Any], config: TrainingConfig, path: Path
) -> None:
    old = dict(ckpt.get("fingerprint") or {})
    old_cfg = dict(ckpt.get("training_config") or {})
    new_cfg = asdict(config)
    # max_epochs may be raised on resume; everything else must match.
    old_cfg.pop("max_epochs", None)
    new_cfg.pop("max_epochs", None)
    for name, before, now in (
        ("configuration", old, dict(fingerprint)),
        ("training config", old_cfg, new_cfg),
    ):
        if _plain(before) != _plain(now):
            diff = sorted(k for k in set(before) | set(now) if _plain(before.get(k)) != _plain(now.get(k)))
            detail = ", ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in diff[:5])
            raise ConfigError(f"checkpoint {path} was written with a different {name} ({detail})")


def _clone_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


def _plain(obj: Any) -> Any:
    """Tensors and NumPy scalars as Python numbers; tuples as lists (JSON-like, comparable)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    if isinstance(obj, np.generic):
        return obj.item()
    return copy.copy(obj)
