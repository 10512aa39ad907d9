"""``compare``: one model trained with several losses (and the SVM baseline), into one report.

A comparison is a list of run specifications (:meth:`~mlbalance.config.CompareConfig.train_config`
per loss and seed), each trained by :func:`mlbalance.experiment.train_config` into its own run
directory under the comparison's folder — in this process or in a pool of worker processes
(``jobs``) that die with their parent and relay their progress. A rerun reuses every finished cell
whose configuration matches, and resumes an interrupted one.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbalance._atomic import atomic_write_json, atomic_write_text
from mlbalance.config import (
    CompareConfig,
    DataConfig,
    ThresholdConfig,
    TrainConfig,
    parse_losses,
    parse_seeds,
)
from mlbalance.errors import ConfigError, RunError
from mlbalance.experiment import train_config
from mlbalance.models.registry import model_takes_loss
from mlbalance.reporting import dataset_figure, run_figures, run_report
from mlbalance.runs import (
    Run,
    folder_entries,
    is_complete,
    is_run_dir,
    load_run,
    read_config,
    read_metrics,
    run_lock,
    save_figure,
)

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus
    from mlbalance.models.base import ProgressCallback

log = logging.getLogger(__name__)

#: Told about each cell of a comparison: ``(index, total, name, state)`` with ``state`` one of
#: ``"reused"`` (a finished run directory), ``"training"`` (started now), ``"queued"`` (handed to a
#: worker process) and ``"done"``.
CellCallback = Callable[[int, int, str, str], None]


@dataclass
class Comparison:
    """What :func:`compare` returns.

    Attributes:
        rows: metric rows of every run, validation and test (keys ``model``, ``loss``, ``split``,
            ``group``, ``micro_f1``, ``macro_f1``, ...; F1 as fractions); over several seeds, their
            means with ``<metric>_std`` and ``seeds`` (:mod:`mlbalance.evaluation.seeds`).
        seed_rows: over several seeds, the rows of every run with its ``seed`` (else empty).
        report: the Markdown report (Table 2 and Table 3 of the test split).
        directory: the output folder (None when nothing was written).
        run_dirs: each cell's name (``"tfidf-db"``, ``"svm"``) → its run directory (or None).
        runs: the runs trained in memory (``out=None``), by cell name.
        reused: the cells whose finished run directories were reused.
        timing: seconds each cell took to train and evaluate (0.0 for a reused cell).
    """

    rows: list[dict[str, Any]]
    report: str
    directory: Path | None = None
    seed_rows: list[dict[str, Any]] = field(default_factory=list)
    run_dirs: dict[str, Path | None] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)

    def test_rows(self, group: str = "total") -> list[dict[str, Any]]:
        """The test rows of one group, one per cell."""
        return [r for r in self.rows if r["split"] == "test" and r["group"] == group]

    def load(self, name: str) -> Run:
        """The run of cell ``name`` (from memory or its run directory)."""
        if name in self.runs:
            return self.runs[name]
        path = self.run_dirs.get(name)
        if path is None:
            raise RunError(f"no run named {name!r}; runs: {sorted(self.run_dirs)}")
        return load_run(path)


def cell_name(config: TrainConfig, seeded: bool = False) -> str:
    """The run directory name of a comparison cell: ``"<model>-<loss>"``, or ``"svm"``; with
    ``seeded`` (a comparison over several seeds) ``"-seed<N>"`` is appended."""
    name = f"{config.model}-{config.loss}" if model_takes_loss(config.model) else config.model
    return f"{name}-seed{config.seed}" if seeded else name


def compare(
    corpus_or_source: Corpus | str | Path,
    model: str = "tfidf",
    losses: str | Sequence[str] = "all",
    svm: bool = True,
    out: str | Path | None = None,
    *,
    data: str | Path | None = None,
    data_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    threshold: str = "auto",
    top_k: int | None = None,
    at_least_one: bool = False,
    cv_folds: int = 3,
    fbr: float | None = None,
    threshold_value: float | None = None,
    progress: ProgressCallback | None = None,
    on_cell: CellCallback | None = None,
    svm_options: Mapping[str, Any] | None = None,
    svm_backend: str = "liblinear",
    jobs: int = 1,
    seeds: str | Sequence[int] | None = None,
    overwrite: bool = False,
    **model_options: Any,
) -> Comparison:
    """Train ``model`` with each loss in ``losses`` (and the SVM), and report them side by side.

    Each cell is a :func:`train` run in its own directory under ``out`` (``out/tfidf-db``,
    ``out/svm``, ...); a cell whose finished run directory exists with the same configuration is
    reused, so a comparison interrupted part-way continues where it stopped. ``out`` receives
    ``results.json`` (rows), ``results.csv``, ``results.md`` (Table 2 + Table 3),
    ``plots/f1_by_group.png`` and ``plots/dataset.png``.

    Args:
        corpus_or_source: a corpus, a source name or a path (as for :func:`train`).
        model: the model each loss trains (``"tfidf"`` or ``"transformer"``).
        losses: ``"all"``, ``"bce,db"`` or a list of preset names.
        svm: also train the TF-IDF + linear SVM baseline.
        out: the output folder (None: nothing is written).
        data, data_options, seed, threshold, top_k, at_least_one, cv_folds, fbr, threshold_value,
            progress: as for :func:`train`.
        on_cell: told about each cell: ``(index, total, name, state)`` (see :data:`CellCallback`).
        svm_options: constructor arguments of the SVM (default: the paper's recipe).
        svm_backend: ``"liblinear"`` (one ``LinearSVC`` per label) or ``"sgd"`` (all labels at once,
            model ``svm-sgd``, for thousands of labels).
        seeds: train every cell once per seed (``"0,1,2"`` or a list; cells ``tfidf-db-seed0``, ...)
            and report the mean and standard deviation of every metric (None: once, with ``seed``).
        jobs: cells trained at once in worker processes (with ``out``; 2 uses both cores of a
            2-core machine, since each TF-IDF run computes on one thread).
        overwrite: write into ``out`` even if it is a non-empty folder that holds no comparison.
        **model_options: constructor arguments of ``model``.

    Example:
        >>> result = mlbalance.compare("reuters21578", data="reuters21578.tar.gz",
        ...                            losses="bce,db", svm=True, out="runs/cmp")  # doctest: +SKIP
        >>> print(result.report)  # doctest: +SKIP
    """
    corpus, data_config = DataConfig.of(corpus_or_source, data, data_options)
    config = CompareConfig(
        data=data_config,
        model=model,  # type: ignore[arg-type]
        losses=parse_losses(losses),
        svm=svm,
        seed=seed,
        threshold=ThresholdConfig(threshold, top_k, cv_folds, fbr, at_least_one, threshold_value),  # type: ignore[arg-type]
        model_options=model_options,
        svm_options=svm_options or {},
        svm_backend=svm_backend,  # type: ignore[arg-type]
        seeds=parse_seeds(seeds),
    )
    return compare_config(
        config, out, corpus=corpus, progress=progress, on_cell=on_cell, jobs=jobs, overwrite=overwrite
    )


def compare_config(
    config: CompareConfig,
    out: str | Path | None = None,
    *,
    corpus: Corpus | None = None,
    progress: ProgressCallback | None = None,
    on_cell: CellCallback | None = None,
    jobs: int = 1,
    overwrite: bool = False,
) -> Comparison:
    """:func:`compare` from a :class:`CompareConfig` (what the CLI builds).

    With ``jobs > 1`` (and a run directory), cells train in that many worker processes at once.
    ``out`` must be new, empty or an earlier comparison (it has ``compare.json``) unless ``overwrite``.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"`jobs` must be an integer >= 1, got {jobs!r}")
    seeded = len(config.all_seeds) > 1
    cells = []
    for seed in config.all_seeds:
        cells += [config.train_config(loss, seed) for loss in config.losses]
        if config.svm:
            cells.append(config.train_config(None, seed))
    names = [cell_name(cell, seeded) for cell in cells]
    out_dir = None if out is None else Path(out)
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise RunError(f"{out_dir} exists and is not a directory")
        if (
            not overwrite
            and out_dir.is_dir()
            and not (out_dir / "compare.json").is_file()
            and folder_entries(out_dir)
        ):
            raise RunError(
                f"{out_dir} is not empty and holds no comparison (no compare.json): its files could be "
                "overwritten; choose another folder, or write into it with overwrite=True (--overwrite)"
            )
    if out_dir is None:
        return _run_comparison(config, cells, names, None, corpus, progress, on_cell, jobs)
    with run_lock(out_dir):
        atomic_write_json(out_dir / "compare.json", config.to_dict())
        return _run_comparison(config, cells, names, out_dir, corpus, progress, on_cell, jobs)


def _run_comparison(
    config: CompareConfig,
    cells: list[TrainConfig],
    names: list[str],
    out_dir: Path | None,
    corpus: Corpus | None,
    progress: ProgressCallback | None,
    on_cell: CellCallback | None,
    jobs: int,
) -> Comparison:
    """Train (or reuse) every cell, then gather the rows and write the comparison's files."""
    seeded = len(config.all_seeds) > 1
    result = Comparison(rows=[], report="", directory=out_dir)
    rows_of: dict[int, list[dict[str, Any]]] = {}
    todo: list[tuple[int, TrainConfig, Path | None, bool]] = []
    for index, cell in enumerate(cells):
        name = names[index]
        run_dir = None if out_dir is None else out_dir / name
        result.run_dirs[name] = run_dir
        if run_dir is not None and is_complete(run_dir):
            _check_reusable(run_dir, cell)
            if on_cell:
                on_cell(index, len(cells), name, "reused")
            log.info("reusing the finished run %s", run_dir)
            rows_of[index] = read_metrics(run_dir)
            result.reused.append(name)
            result.timing[name] = 0.0
            continue
        resume = (
            run_dir is not None and is_run_dir(run_dir) and read_config(run_dir).get("run") == cell.to_dict()
        )
        todo.append((index, cell, run_dir, resume))

    if todo and corpus is None:
        corpus = config.data.load(progress)
    if jobs > 1 and len(todo) > 1 and out_dir is not None:
        _train_cells_in_parallel(todo, names, corpus, jobs, result, rows_of, on_cell, progress)
    else:
        for index, cell, run_dir, resume in todo:
            name = names[index]
            if on_cell:
                on_cell(index, len(cells), name, "training")
            start = time.perf_counter()
            run = train_config(cell, run_dir, corpus=corpus, resume=resume, progress=progress)
            result.timing[name] = time.perf_counter() - start
            if on_cell:
                on_cell(index, len(cells), name, "done")
            rows_of[index] = run.metrics
            if run_dir is None:
                result.runs[name] = run
    result.rows = [row for index in sorted(rows_of) for row in rows_of[index]]
    result.timing = {name: result.timing[name] for name in names}
    if seeded:
        from mlbalance.evaluation.seeds import mean_over_seeds

        result.seed_rows = [
            {**row, "seed": cells[index].seed} for index in sorted(rows_of) for row in rows_of[index]
        ]
        result.rows = mean_over_seeds(result.seed_rows)

    parts = [f"{config.model} with {len(config.losses)} losses"] if config.losses else []
    parts += [f"the SVM ({config.svm_backend})"] if config.svm else []
    title = " and ".join(parts)
    if seeded:
        title += f", mean ± standard deviation over seeds {','.join(map(str, config.all_seeds))}"
    corpus_name = corpus.name if corpus is not None else config.data.source
    result.report = run_report(result.rows, f"{title} on {corpus_name}", result.timing)
    if out_dir is not None:
        _write_comparison(out_dir, result, corpus, config)
    return result


def _check_reusable(run_dir: Path, cell: TrainConfig) -> None:
    """A finished cell is reused only if it was trained with the same run and model configuration.

    The model's full constructor configuration is compared too, so a finished run made with other
    library defaults (say, another default learning rate) is not passed off as this one.
    """
    import json

    stored = read_config(run_dir)
    expected = cell.build_model().get_config()
    expected = json.loads(json.dumps(expected))
    saved = (stored.get("model") or {}).get("config")
    if stored.get("run") != cell.to_dict() or saved != expected:
        what = "run" if stored.get("run") != cell.to_dict() else "model"
        raise RunError(
            f"{run_dir} holds a finished run with another {what} configuration; "
            "remove it or choose another --out"
        )


#: In a compare worker process: where its progress goes (set by :func:`_init_worker`).
_WORKER_PROGRESS: Any = None


def _init_worker(parent_pid: int, progress_queue: Any) -> None:
    """Set up a compare worker: report progress to ``progress_queue``, and die with the parent.

    A worker whose parent is gone (killed with -9, say) would otherwise go on training into run
    directories nobody waits for; a daemon thread checks every second and ends the process.
    """
    import threading

    global _WORKER_PROGRESS
    _WORKER_PROGRESS = progress_queue

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="mlbalance-parent-watch", daemon=True).start()


class _QueueProgress:
    """A worker's ProgressCallback: ``(cell index, stage, done, total)`` to the parent, at most 4 a second."""

    def __init__(self, queue: Any, index: int) -> None:
        self.queue, self.index, self.last = queue, index, 0.0

    def __call__(self, stage: str, done: int, total: int | None, **info: Any) -> None:
        now = time.monotonic()
        if now - self.last >= 0.25 or (total is not None and done >= total):
            self.last = now
            self.queue.put((self.index, stage, done, total))


def _train_cell(
    task: tuple[int, TrainConfig, Path, Corpus, bool],
) -> tuple[int, list[dict[str, Any]], float]:
    """Train one comparison cell in a worker process: ``(index, rows, seconds)``."""
    index, cell, run_dir, corpus, resume = task
    progress = None if _WORKER_PROGRESS is None else _QueueProgress(_WORKER_PROGRESS, index)
    start = time.perf_counter()
    run = train_config(cell, run_dir, corpus=corpus, resume=resume, progress=progress)
    return index, run.metrics, time.perf_counter() - start


def _train_cells_in_parallel(
    todo: list[tuple[int, TrainConfig, Path | None, bool]],
    cell_names: list[str],
    corpus: Corpus | None,
    jobs: int,
    result: Comparison,
    rows_of: dict[int, list[dict[str, Any]]],
    on_cell: CellCallback | None,
    progress: ProgressCallback | None,
) -> None:
    """Train cells in ``jobs`` worker processes; on any error or interrupt the workers are stopped.

    The workers' progress reaches ``progress`` as one ``"runs"`` stage (cells finished of all) whose
    info holds each training cell's current stage, e.g. ``{"tfidf-db": "epoch 3 120/340"}``.
    """
    import multiprocessing
    import threading

    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold torch threads
    n_cells = len(cell_names)
    names = {index: cell_names[index] for index, _, _, _ in todo}
    tasks = [(index, cell, run_dir, corpus, resume) for index, cell, run_dir, resume in todo]
    queue = context.Queue()
    status: dict[str, str] = {}  # training cell → its current stage
    finished: list[str] = []
    lock = threading.Lock()  # the relay thread and this one both update and report

    def report(update: Callable[[], object] = lambda: None) -> None:
        with lock:
            update()
            if progress:
                progress("runs", len(finished), len(todo), **dict(status))

    def relay() -> None:  # worker progress → the caller's callback, until the sentinel
        while (item := queue.get()) is not None:
            index, stage, done, total = item
            if names[index] not in finished:  # a message may trail its cell's end
                where = f"{stage} {done}/{total if total is not None else '?'}"
                report(lambda name=names[index], where=where: status.__setitem__(name, where))

    relay_thread = threading.Thread(target=relay, name="mlbalance-worker-progress", daemon=True)
    relay_thread.start()
    pool = context.Pool(
        processes=min(jobs, len(todo)), initializer=_init_worker, initargs=(os.getpid(), queue)
    )
    try:
        for index in names:
            if on_cell:
                on_cell(index, n_cells, names[index], "queued")
        report()
        for index, rows, seconds in pool.imap_unordered(_train_cell, tasks):
            rows_of[index], result.timing[names[index]] = rows, seconds
            report(lambda name=names[index]: (finished.append(name), status.pop(name, None)))
            if on_cell:
                on_cell(index, n_cells, names[index], "done")
        pool.close()
    except BaseException:
        pool.terminate()  # a failed cell or Ctrl-C stops the other workers too
        raise
    finally:
        pool.join()
        queue.put(None)
        relay_thread.join(timeout=5)


def _write_comparison(
    out_dir: Path, result: Comparison, corpus: Corpus | None, config: CompareConfig
) -> None:
    from mlbalance._extras import has_extra
    from mlbalance.evaluation.report import rows_to_csv, rows_to_json

    atomic_write_text(out_dir / "results.json", rows_to_json(result.rows))
    atomic_write_text(out_dir / "results.csv", rows_to_csv(result.rows))
    if result.seed_rows:
        atomic_write_text(out_dir / "results_by_seed.json", rows_to_json(result.seed_rows))
        atomic_write_text(out_dir / "results_by_seed.csv", rows_to_csv(result.seed_rows))
    atomic_write_text(out_dir / "results.md", result.report)
    timing = {name: round(seconds, 3) for name, seconds in result.timing.items()}
    atomic_write_json(out_dir / "timing.json", timing)
    for stem, figure in run_figures(result.rows).items():
        save_figure(figure, out_dir / "plots" / f"{stem}.png")
    if not has_extra("plots"):
        return
    if corpus is None:
        corpus = config.data.load()
    save_figure(dataset_figure(corpus), out_dir / "plots" / "dataset.png")
