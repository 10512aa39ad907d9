"""Run directories: everything a trained model needs to predict and to be reported, on disk.

Layout of ``RUN_DIR``::

    config.json        format version, model kind, the run's TrainConfig, the model's own config
    labels.json        label names, in score-column order
    label_stats.json   LabelStats of the training split
    model/             the model's files (``model.safetensors`` for torch models; the SVM's
                       coefficients as safetensors/npz — nothing that executes code on load)
    thresholds.json    thresholds tuned on validation
    metrics.json       rows for the validation and test splits (see mlbalance.evaluation.evaluate)
    history.json       the model's per-epoch training history
    timing.json        seconds spent fitting and scoring
    report.md          Table 2 and Table 3 of the run
    plots/             figures (F1 by label group)
    checkpoint/        only while training: the model's resumable checkpoint
    COMPLETE           written last: a directory without it is an unfinished run

Every file is written atomically; ``COMPLETE`` is removed before a finished run is retrained and
written again only after every other file, so a half-written run is never loaded as a finished one.

One module of about 500 lines by intent: it is the run-directory format — writing, reading,
validating, the per-directory lock and the journal of updates — and both halves of a format belong
in one place.
New thresholds and metrics of a finished run (``evaluate --threshold``) go through the journal
``.update/`` (:func:`update_run`), so the run stays loadable whenever that is interrupted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlbalance._atomic import atomic_write_json, atomic_write_text
from mlbalance._version import __version__
from mlbalance.errors import RunError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mlbalance.data.corpus import LabelSpace
    from mlbalance.data.stats import LabelStats
    from mlbalance.evaluation import Thresholds
    from mlbalance.evaluation.thresholding.cross_fitted import TunedOn
    from mlbalance.models.base import Classifier, ProgressCallback

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
COMPLETE = "COMPLETE"
CONFIG = "config.json"
MODEL_DIR = "model"
CHECKPOINT_DIR = "checkpoint"


LOCK = ".lock"
UPDATE_DIR = ".update"
UPDATE_READY = "READY"


@contextlib.contextmanager
def run_lock(directory: str | Path) -> Iterator[Path]:
    """Hold ``directory/.lock`` (created with the folder if missing) while writing into it.

    One process at a time writes a run or comparison folder; the operating system drops the lock of a
    process that dies, so a killed run never leaves a stale lock behind.

    Raises:
        RunError: another process holds the lock (at once: no waiting).
    """
    from filelock import FileLock, Timeout

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunError(
            f"{directory} is being written by another mlbalance process (it holds {directory / LOCK}); "
            "wait for it to finish or choose another folder"
        ) from None
    try:
        yield directory
    finally:
        lock.release()


def folder_entries(directory: Path) -> list[Path]:
    """What a folder holds besides mlbalance's own hidden lock and update journal."""
    return [p for p in directory.iterdir() if p.name not in (LOCK, UPDATE_DIR)]


def is_run_dir(directory: str | Path) -> bool:
    """Whether ``directory`` holds a run (finished or not): it has an mlbalance ``config.json``."""
    path = Path(directory) / CONFIG
    if not path.is_file():
        return False
    try:
        return "format_version" in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def is_complete(directory: str | Path) -> bool:
    """Whether ``directory`` holds a finished run (its ``COMPLETE`` marker exists)."""
    return (Path(directory) / COMPLETE).is_file()


def read_config(directory: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a run directory (finished or not).

    Raises:
        RunError: no run there, or the file is malformed or of another format version.
    """
    directory = Path(directory)
    path = directory / CONFIG
    if not directory.is_dir():
        raise RunError(f"no run directory at {directory}")
    finish_update(directory)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{directory} is not a run directory (it has no {CONFIG})") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"{path} cannot be read: {exc}") from None
    if not isinstance(config, dict) or "format_version" not in config:
        raise RunError(f"{path} is not an mlbalance run configuration")
    if config["format_version"] != FORMAT_VERSION:
        raise RunError(
            f"{directory} is a run of format version {config['format_version']!r}; "
            f"this mlbalance ({__version__}) reads version {FORMAT_VERSION}"
        )
    if isinstance(config.get("run"), dict):
        from mlbalance.config import run_config_of

        config["run"] = run_config_of(config["run"])  # an earlier version's SVM "loss": read as None
    return config


def prepare_run_dir(
    directory: str | Path,
    config: Mapping[str, Any],
    *,
    resume: bool = False,
    overwrite: bool = False,
    check_only: bool = False,
) -> Path:
    """Make ``directory`` ready for a new (or resumed) run and write its ``config.json``.

    Args:
        directory: the run directory; created if missing.
        config: the run's configuration (JSON-ready), stored under ``"run"`` in ``config.json``.
        resume: keep the ``checkpoint/`` of an unfinished run so training continues from it.
        overwrite: replace a finished run. Without it a finished run is an error.
        check_only: raise what would be raised, and write nothing (before a long data load).

    Raises:
        RunError: the directory holds a finished run (without ``overwrite``), or is a non-empty
            folder that is not a run directory, or ``resume`` is asked of a run with another config,
            or it holds an interrupted run's checkpoint and neither ``resume`` nor ``overwrite`` is set.
    """
    directory = Path(directory)
    _check_run_dir(directory, config, resume, overwrite)
    if check_only:
        return directory
    config = json.loads(json.dumps(dict(config)))  # a JSON-ready copy
    if is_complete(directory):
        (directory / COMPLETE).unlink()
        log.info("replacing the finished run in %s", directory)
        resume = False  # a finished run has no checkpoint to continue from
    if not resume:
        shutil.rmtree(directory / CHECKPOINT_DIR, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        directory / CONFIG,
        {"format_version": FORMAT_VERSION, "mlbalance_version": __version__, "run": config},
    )
    return directory


def _check_run_dir(directory: Path, config: Mapping[str, Any], resume: bool, overwrite: bool) -> None:
    """The checks of :func:`prepare_run_dir`."""
    if directory.exists() and not directory.is_dir():
        raise RunError(f"{directory} exists and is not a directory")
    if directory.is_dir() and folder_entries(directory) and not is_run_dir(directory):
        raise RunError(
            f"{directory} exists, is not empty and is not a run directory; choose another output folder"
        )
    if is_complete(directory) and not overwrite:
        raise RunError(
            f"{directory} already holds a finished run; replace it with overwrite=True (--overwrite) "
            "or choose another output folder"
        )
    checkpoint = directory / CHECKPOINT_DIR
    if (
        not (resume or overwrite)
        and is_run_dir(directory)
        and not is_complete(directory)
        and checkpoint.is_dir()
        and any(checkpoint.iterdir())
    ):
        raise RunError(
            f"{directory} holds an interrupted run with a checkpoint; continue it with resume=True "
            "(--resume), or start it again, dropping the checkpoint, with overwrite=True (--overwrite)"
        )
    if resume and is_run_dir(directory) and not is_complete(directory):
        previous = read_config(directory).get("run")
        config = json.loads(json.dumps(dict(config)))
        if previous is not None and previous != config:
            raise RunError(
                f"cannot resume {directory}: it was started with another configuration "
                f"({_first_difference(previous, config)}); train into another output folder instead"
            )


def _first_difference(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> str:
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a != b:
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                return _first_difference(a, b, f"{prefix}{key}.")
            return f"{prefix}{key}: {a!r} then, {b!r} now"
    return "none"


def save_run(
    directory: str | Path,
    *,
    config: Mapping[str, Any],
    model: Classifier,
    thresholds: Thresholds,
    metrics: Sequence[Mapping[str, Any]],
    report: str | None = None,
    figures: Mapping[str, Figure] | None = None,
    timing: Mapping[str, float] | None = None,
) -> Run:
    """Write a finished run into ``directory`` (made ready by :func:`prepare_run_dir`), ``COMPLETE`` last.

    Args:
        directory: the run directory.
        config: the run's configuration (as given to :func:`prepare_run_dir`).
        model: the fitted classifier.
        thresholds: thresholds tuned on validation.
        metrics: evaluation rows (validation and test).
        report: Markdown of the run's tables.
        figures: ``{file stem: figure}`` saved as PNG under ``plots/``.
        timing: seconds spent, e.g. ``{"fit_seconds": ..., "score_seconds": ...}``.

    Returns:
        The finished :class:`Run`.
    """
    from mlbalance.models.registry import save_model

    directory = Path(directory)
    (directory / COMPLETE).unlink(missing_ok=True)
    config = json.loads(json.dumps(dict(config)))
    atomic_write_json(
        directory / CONFIG,
        {
            "format_version": FORMAT_VERSION,
            "mlbalance_version": __version__,
            "run": config,
            "model": {"kind": model.name, "score_kind": model.score_kind, "config": model.get_config()},
        },
    )
    atomic_write_json(directory / "labels.json", list(model.label_space_.names))
    atomic_write_json(directory / "label_stats.json", model.stats_.to_dict())
    model_dir = directory / MODEL_DIR
    shutil.rmtree(model_dir, ignore_errors=True)
    save_model(model, model_dir)
    atomic_write_json(directory / "thresholds.json", thresholds.to_dict())
    metrics = [dict(row) for row in metrics]
    atomic_write_json(directory / "metrics.json", _json_ready(metrics))
    atomic_write_json(directory / "history.json", _json_ready(list(getattr(model, "history_", []))))
    if timing is not None:
        atomic_write_json(directory / "timing.json", dict(timing))
    if report is not None:
        atomic_write_text(directory / "report.md", report)
    for stem, figure in (figures or {}).items():
        save_figure(figure, directory / "plots" / f"{stem}.png")
    atomic_write_text(directory / COMPLETE, time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    shutil.rmtree(directory / CHECKPOINT_DIR, ignore_errors=True)
    return Run(model, thresholds, list(metrics), dict(config), directory, report)


def update_run(
    directory: str | Path,
    *,
    config: Mapping[str, Any],
    thresholds: Thresholds,
    metrics: Sequence[Mapping[str, Any]],
    report: str | None = None,
    figures: Mapping[str, Figure] | None = None,
) -> None:
    """Replace a finished run's thresholds, metrics, report and figures, crash-atomically.

    The new files are written into ``RUN/.update/``, which is then marked ready (one atomic write)
    and moved into place file by file. ``COMPLETE`` stays: a kill before the mark leaves the old run
    (the half-written journal is discarded), a kill after it leaves an update that the next reader
    of the run finishes (:func:`finish_update`) — at every instant the run loads, old or new.
    """
    directory = Path(directory)
    stored = read_config(directory)
    if not is_complete(directory):
        raise RunError(f"{directory} is an unfinished run (no {COMPLETE} marker)")
    with run_lock(directory):
        _write_update(directory, stored, config, thresholds, metrics, report, figures)


def _write_update(
    directory: Path,
    stored: dict[str, Any],
    config: Mapping[str, Any],
    thresholds: Thresholds,
    metrics: Sequence[Mapping[str, Any]],
    report: str | None,
    figures: Mapping[str, Figure] | None,
) -> None:
    journal = directory / UPDATE_DIR
    shutil.rmtree(journal, ignore_errors=True)
    journal.mkdir()
    stored["run"] = json.loads(json.dumps(dict(config)))
    atomic_write_json(journal / CONFIG, stored)
    atomic_write_json(journal / "thresholds.json", thresholds.to_dict())
    atomic_write_json(journal / "metrics.json", _json_ready([dict(r) for r in metrics]))
    if report is not None:
        atomic_write_text(journal / "report.md", report)
    for stem, figure in (figures or {}).items():
        save_figure(figure, journal / "plots" / f"{stem}.png")
    atomic_write_text(journal / UPDATE_READY, "")
    finish_update(directory)


def finish_update(directory: str | Path) -> None:
    """Move a ready update of :func:`update_run` into place; discard one that was never marked ready.

    Called by every reader of a run directory (through :func:`read_config`), so an update interrupted
    after it was marked ready is completed, and one interrupted before leaves the old files. A journal
    not yet ready is discarded only when no writer holds the run's lock (else it is being written).
    """
    journal = Path(directory) / UPDATE_DIR
    if not journal.is_dir():
        return
    try:
        if not (journal / UPDATE_READY).is_file():
            with contextlib.suppress(RunError), run_lock(directory):
                shutil.rmtree(journal, ignore_errors=True)
            return
        for path in sorted(journal.rglob("*")):
            if path.is_file() and path.name != UPDATE_READY:
                target = Path(directory) / path.relative_to(journal)
                target.parent.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(FileNotFoundError):  # another reader moved it first
                    os.replace(path, target)
        shutil.rmtree(journal, ignore_errors=True)
    except OSError as exc:  # a read-only copy of a run: its files are read as they are
        log.warning("cannot finish the interrupted update of %s: %s", directory, exc)


def save_figure(figure: Figure, path: str | Path, dpi: int = 110) -> None:
    """Save a matplotlib figure as PNG atomically, then close it."""
    import matplotlib.pyplot as plt

    from mlbalance._atomic import atomic_open

    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)


def _json_ready(value: Any) -> Any:
    """numpy scalars/arrays → Python numbers/lists, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class Run:
    """A trained model with its thresholds and metrics; what :func:`load_run` and ``train`` return.

    Attributes:
        model: the fitted classifier.
        thresholds: thresholds tuned on validation.
        metrics: evaluation rows (``split`` ``"validation"`` and ``"test"``).
        config: the run's configuration.
        directory: where the run lives (None for a run kept only in memory).
        report: the Markdown tables of the run, if any.
        tuned_on: what the thresholds were tuned on (validation and out-of-fold scores), kept in
            memory by the training that tuned them (not saved; None for a loaded run).
    """

    model: Classifier
    thresholds: Thresholds
    metrics: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    directory: Path | None = None
    report: str | None = None
    tuned_on: TunedOn | None = field(default=None, repr=False, compare=False)

    @property
    def label_space(self) -> LabelSpace:
        return self.model.label_space_

    @property
    def stats(self) -> LabelStats:
        return self.model.stats_

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model.label_space_.names

    def scores(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        """The model's scores, shape ``(len(texts), n_labels)`` (``(0, n_labels)`` for no text).

        Raises:
            TypeError: ``texts`` is a single string or holds something other than strings.
        """
        from mlbalance._checks import check_texts

        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.model.scores(texts, progress=progress)

    def predict(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> list[list[str]]:
        """The predicted label names of each text (thresholds applied)."""
        return self.predict_with_scores(texts, progress=progress)[0]

    def predict_with_scores(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> tuple[list[list[str]], np.ndarray]:
        """Predicted label names of each text and the score matrix they came from."""
        scores = self.scores(texts, progress=progress)
        return self.label_space.decode(self.thresholds.predict(scores)), scores

    def test_rows(self, group: str | None = None) -> list[dict[str, Any]]:
        """Metric rows of the test split (of one group if given)."""
        return [
            r for r in self.metrics if r.get("split") == "test" and (group is None or r["group"] == group)
        ]


def load_run(directory: str | Path) -> Run:
    """Load a finished run directory.

    Raises:
        RunError: no run there, an unfinished run (no ``COMPLETE`` marker), or files that are
            missing or malformed.
    """
    from mlbalance.evaluation import Thresholds
    from mlbalance.models.registry import load_model

    directory = Path(directory)
    config = read_config(directory)
    if not is_complete(directory):
        raise RunError(
            f"{directory} is an unfinished run (no {COMPLETE} marker): its training was interrupted or "
            "is still going; finish it with `mlbalance train ... --resume` or train again"
        )
    model = load_model(directory / MODEL_DIR)
    thresholds_dict = _read_json(directory / "thresholds.json")
    try:
        thresholds = Thresholds.from_dict(thresholds_dict)
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"{directory / 'thresholds.json'} is malformed: {exc}") from None
    labels = _read_json(directory / "labels.json")
    if list(model.label_space_.names) != labels:
        raise RunError(f"{directory}: the model's labels differ from labels.json")
    metrics = _read_json(directory / "metrics.json")
    report_path = directory / "report.md"
    report = report_path.read_text(encoding="utf-8") if report_path.is_file() else None
    return Run(
        model=model,
        thresholds=thresholds,
        metrics=metrics,
        config=config.get("run", {}),
        directory=directory,
        report=report,
    )


def read_metrics(directory: str | Path) -> list[dict[str, Any]]:
    """The metric rows of a finished run, without loading its model.

    Raises:
        RunError: no finished run there.
    """
    directory = Path(directory)
    read_config(directory)
    if not is_complete(directory):
        raise RunError(f"{directory} is an unfinished run (no {COMPLETE} marker)")
    return _read_json(directory / "metrics.json")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"the run file {path} is missing") from None
    except (OSError, ValueError) as exc:
        raise RunError(f"the run file {path} cannot be read: {exc}") from None
