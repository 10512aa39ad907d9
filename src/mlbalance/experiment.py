"""Train one model, or compare one model across balancing losses (and the SVM baseline).

:func:`train` is ``mlbalance train``: load the corpus, fit, tune thresholds on validation, evaluate
validation and test, and (given ``out``) write a run directory. :func:`compare` is
``mlbalance compare``: one :func:`train` per loss preset (and the SVM), each in its own run
directory, gathered into one Table 2 + Table 3 report. A finished run directory is reused, so an
interrupted comparison continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbalance._atomic import atomic_write_json, atomic_write_text
from mlbalance.config import (
    SVM_KINDS,
    CompareConfig,
    DataConfig,
    ThresholdConfig,
    TrainConfig,
    parse_losses,
    parse_seeds,
)
from mlbalance.errors import ConfigError, RunError
from mlbalance.runs import (
    CHECKPOINT_DIR,
    Run,
    check_run_dir,
    folder_entries,
    is_complete,
    is_run_dir,
    load_run,
    prepare_run_dir,
    read_config,
    read_metrics,
    run_lock,
    save_figure,
    save_run,
)

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus
    from mlbalance.models.base import Classifier, ProgressCallback

log = logging.getLogger(__name__)

#: The ``loss`` of the SVM's rows: None (it is trained with LinearSVC's squared hinge, not a preset).
SVM_LOSS = None

#: Told about each cell of a comparison: ``(index, total, name, state)`` with ``state`` one of
#: ``"reused"`` (a finished run directory), ``"training"`` (started now), ``"queued"`` (handed to a
#: worker process) and ``"done"``.
CellCallback = Callable[[int, int, str, str], None]


def load_data(data: DataConfig, progress: ProgressCallback | None = None) -> Corpus:
    """The corpus a :class:`DataConfig` names (``progress`` told about generating or reading it)."""
    from mlbalance.data import load_corpus

    options = dict(data.options)
    if progress is not None and "progress" not in options:
        if data.source.startswith("synthetic:"):
            options["progress"] = progress
        elif data.source in ("bioasq", "pubmed") and data.data and Path(data.data).is_file():
            total = Path(data.data).stat().st_size
            read = [0]

            def on_bytes(n: int) -> None:
                read[0] += n
                progress("reading", read[0], total)

            options["progress"] = on_bytes
    return load_corpus(data.source, data.data, **options)


def _corpus_and_data(
    corpus_or_source: Corpus | str | Path, data: str | Path | None, data_options: Mapping[str, Any] | None
) -> tuple[Corpus | None, DataConfig]:
    from mlbalance.data.corpus import Corpus

    if isinstance(corpus_or_source, Corpus):
        if data is not None or data_options:
            raise ConfigError("`data` and `data_options` apply to a source name, not to a Corpus")
        return corpus_or_source, DataConfig(corpus_or_source.name)
    return None, DataConfig(
        str(corpus_or_source), None if data is None else str(data), dict(data_options or {})
    )


def model_kwargs(config: TrainConfig) -> dict[str, Any]:
    """Constructor arguments of ``config.model``: its options plus ``loss`` and ``seed``.

    ``loss`` and ``seed`` are passed only to models that take them. (Models take the loss settings'
    dataset preset from the corpus unless a ``dataset`` option names one.)
    """
    from mlbalance.models.registry import model_parameters

    params = set(model_parameters(config.model))
    kwargs = dict(config.model_options)
    if "loss" in params:
        kwargs["loss"] = config.loss
    if "seed" in params:
        kwargs["seed"] = config.seed
    return kwargs


def _evaluate(
    model: Classifier,
    corpus: Corpus,
    threshold: ThresholdConfig,
    progress: ProgressCallback | None,
    loss_label: str | None,
    build: Callable[[], Classifier],
) -> tuple[Any, list[dict[str, Any]]]:
    """Score validation and test, tune thresholds, and evaluate both splits.

    ``build`` returns a new unfitted model like ``model``; ``"per-label-cv"`` and ``"micromacro-cv"``
    fit ``cv_folds`` of them for the out-of-fold training scores.
    """
    from mlbalance.evaluation import evaluate, tune_thresholds, tune_thresholds_cv
    from mlbalance.evaluation.micromacro import tune_thresholds_micromacro
    from mlbalance.training import cross_fit

    if len(corpus.validation) == 0:
        raise ConfigError(f"corpus {corpus.name!r} has no validation documents to tune thresholds on")
    stats = model.stats_
    y_val = corpus.labels("validation")
    s_val = model.scores(corpus.validation.texts, progress=progress)
    if threshold.method in ("per-label-cv", "micromacro-cv"):
        medians = threshold.method == "micromacro-cv"
        fits = cross_fit(
            build, corpus, folds=threshold.cv_folds, seed=0, progress=progress, validation_medians=medians
        )
        if threshold.method == "per-label-cv":
            thresholds = tune_thresholds_cv(
                fits.scores,
                corpus.labels("train"),
                s_val,
                y_val,
                model.score_kind,
                fbr=threshold.fbr,
                at_least_one=threshold.at_least_one,
            )
        else:
            thresholds = tune_thresholds_micromacro(
                fits.scores,
                corpus.labels("train"),
                fits.folds,
                s_val,
                y_val,
                model.score_kind,
                at_least_one=threshold.at_least_one,
                fold_validation_medians=fits.validation_medians,
            )
    else:
        thresholds = tune_thresholds(
            s_val,
            y_val,
            method=threshold.method,
            score_kind=model.score_kind,
            k=threshold.k,
            at_least_one=threshold.at_least_one,
            value=threshold.value,
        )
    rows = evaluate(s_val, y_val, stats, thresholds, split="validation")
    if len(corpus.test):
        s_test = model.scores(corpus.test.texts, progress=progress)
        rows += evaluate(s_test, corpus.labels("test"), stats, thresholds, split="test")
    return thresholds, [{"model": model.name, "loss": loss_label, **row} for row in rows]


def _builder(config: TrainConfig) -> Callable[[], Classifier]:
    """A function returning a new unfitted model of ``config``."""
    from mlbalance.models.registry import build_model

    return lambda: build_model(config.model, **model_kwargs(config))


def run_report(
    rows: Sequence[Mapping[str, Any]], title: str, timing: Mapping[str, float] | None = None
) -> str:
    """Markdown: Table 2, Table 3 and the ranking metrics of the test split, then each run's thresholds
    (and times)."""
    from mlbalance.evaluation.report import ranking_markdown, table2_markdown, table3_markdown

    test = [dict(r) for r in rows if r["split"] == "test"]
    val = [dict(r) for r in rows if r["split"] == "validation"]
    parts = [f"# {title}\n"]
    if test:
        parts += ["## Table 2 — test, micro-F1 / macro-F1 (%) by label group\n", table2_markdown(test)]
        parts += [
            "## Table 3 — test, micro-F1 / macro-F1 (%) by labels per document\n",
            table3_markdown(test),
        ]
        parts += ["## Ranking — test, P@k / nDCG@k / PSP@k (%)\n", ranking_markdown(test)]
    if val:
        parts += ["## Validation (thresholds tuned here)\n", table2_markdown(val)]
    parts += ["## Thresholds\n", thresholds_markdown(rows, timing)]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)


def thresholds_markdown(rows: Sequence[Mapping[str, Any]], timing: Mapping[str, float] | None = None) -> str:
    """One line per run: thresholding method, global threshold, validation micro-F1 (and seconds)."""
    head = ["model", "loss", "thresholding", "threshold", "validation micro-F1"]
    if timing is not None:
        head.append("seconds")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in rows:
        if row["split"] != "validation" or row["group"] != "total":
            continue
        value = row.get("threshold")
        cells = [
            str(row["model"]),
            str(row["loss"] or "-"),
            str(row.get("threshold_method") or "-"),
            "per label" if value is None else f"{value:.4g}",
            f"{100 * row['micro_f1']:.2f}" if row.get("micro_f1") is not None else "n/a",
        ]
        if timing is not None:
            seconds = _cell_seconds(row, timing)
            cells.append("reused" if seconds == 0.0 else ("-" if seconds is None else f"{seconds:.1f}"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell_seconds(row: Mapping[str, Any], timing: Mapping[str, float]) -> float | None:
    """The seconds of the row's cell (summed over its seeds for a row of several seeds)."""
    name = row["model"] if row["model"] in SVM_KINDS.values() else f"{row['model']}-{row['loss']}"
    if not row.get("seeds"):
        return timing.get(name)
    times = [timing.get(f"{name}-seed{seed}") for seed in str(row["seeds"]).split(",")]
    return None if None in times else sum(times)  # type: ignore[arg-type]


def _title(model: str, loss: str | None, corpus_name: str) -> str:
    return f"{model} on {corpus_name}" if loss is None else f"{model} · {loss} on {corpus_name}"


def _run_figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A run's figures by file stem; none without the plots extra (the run then has no ``plots/``)."""
    from mlbalance._extras import has_extra

    if not has_extra("plots"):
        log.info("no figures: matplotlib is not installed (pip install 'mlbalance[plots]')")
        return {}
    return {"f1_by_group": _f1_figure(rows)}


def _f1_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Test micro-F1 and macro-F1 by label group, one bar per run, in two panels."""
    from matplotlib.figure import Figure

    from mlbalance.evaluation.plots import plot_f1_by_group

    test = [dict(r) for r in rows if r["split"] == "test"] or [dict(r) for r in rows]
    n_runs = len({(r["model"], r["loss"]) for r in test})
    fig = Figure(figsize=(min(10.0, max(6.5, 0.3 * 4 * n_runs)), 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1)
    plot_f1_by_group(test, ax=top, metric="micro_f1")
    plot_f1_by_group(test, ax=bottom, metric="macro_f1")
    bottom.get_legend().remove()
    return fig


def train(
    corpus_or_source: Corpus | str | Path,
    model: str = "tfidf",
    loss: str = "db",
    out: str | Path | None = None,
    *,
    data: str | Path | None = None,
    data_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    threshold: str = "grid",
    top_k: int | None = None,
    at_least_one: bool = False,
    cv_folds: int = 3,
    fbr: float | None = None,
    threshold_value: float | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    **model_options: Any,
) -> Run:
    """Train a model, tune its thresholds on validation, evaluate it, and optionally save the run.

    Args:
        corpus_or_source: a :class:`~mlbalance.data.corpus.Corpus`, a source name
            (``"reuters21578"``, ``"synthetic:tiny"``) or a path to a JSONL/CSV file or folder.
        model: ``"tfidf"``, ``"svm"`` or ``"transformer"``.
        loss: a loss name (``mlbalance.losses.ALL_LOSS_NAMES``); the SVM has none.
        out: a run directory to write (None: keep the run in memory only).
        data: the file a source name needs (e.g. the Reuters archive).
        data_options: keyword arguments of :func:`mlbalance.data.load_corpus`.
        seed: the model's seed.
        threshold: ``"grid"``, ``"global-optimal"``, ``"per-label"``, ``"top-k"``, ``"per-label-cv"``
            (per-label thresholds tuned on out-of-fold training scores: ``cv_folds`` extra fits) or
            ``"micromacro-cv"`` (LibMultiLabel's thresholding on the same scores) or ``"fixed"`` (one
            given threshold, ``threshold_value``, no tuning).
        top_k: labels per document for ``threshold="top-k"``.
        at_least_one: give a document with no label above threshold its top-scoring label.
        cv_folds: folds for ``threshold="per-label-cv"`` and ``"micromacro-cv"`` (for the TF-IDF
            network with ``"micromacro-cv"`` 10 measured best, docs/models.md section 6).
        fbr: ``"per-label-cv"``: labels whose out-of-fold F1 is below this take the fallback threshold,
            just above their highest validation score (None: chosen on validation among 0.1–0.8).
        threshold_value: ``threshold="fixed"``: the threshold (None: 0.5 for probabilities, 0 for
            SVM decision values).
        resume: continue an interrupted run in ``out`` from its checkpoint.
        overwrite: replace a finished run in ``out``.
        progress: a :class:`~mlbalance.models.base.ProgressCallback`.
        **model_options: constructor arguments of the model (``max_epochs``, ``lr``, ...).

    Returns:
        The :class:`~mlbalance.runs.Run`, with validation and test metric rows.

    Example:
        >>> run = mlbalance.train("my_corpus/", model="tfidf", loss="db", out="runs/db")  # doctest: +SKIP
        >>> run.predict(["Wheat exports rose ..."])  # doctest: +SKIP
    """
    corpus, data_config = _corpus_and_data(corpus_or_source, data, data_options)
    config = TrainConfig(
        data=data_config,
        model=model,  # type: ignore[arg-type]
        loss=loss,
        seed=seed,
        threshold=ThresholdConfig(threshold, top_k, cv_folds, fbr, at_least_one, threshold_value),  # type: ignore[arg-type]
        model_options=model_options,
    )
    return train_config(config, out, corpus=corpus, resume=resume, overwrite=overwrite, progress=progress)


def train_config(
    config: TrainConfig,
    out: str | Path | None = None,
    *,
    corpus: Corpus | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> Run:
    """:func:`train` from a :class:`TrainConfig` (what the CLI builds); ``corpus`` skips loading."""
    from mlbalance.models.registry import build_model

    # everything that can be checked fails before the corpus is loaded or anything is written
    if config.model not in SVM_KINDS.values():
        parse_losses([config.loss])
    clf = build_model(config.model, **model_kwargs(config))
    run_config = config.to_dict()
    if out is not None:
        check_run_dir(out, run_config, resume=resume, overwrite=overwrite)
    if corpus is None:
        corpus = load_data(config.data, progress)
    if config.threshold.method == "top-k":
        from mlbalance.evaluation.thresholds import check_top_k

        check_top_k(config.threshold.k, len(corpus.label_space))  # before hours of training, not after
    if out is None:
        return _fit_and_save(clf, config, corpus, None, resume, progress)
    with run_lock(out):
        out = prepare_run_dir(out, run_config, resume=resume, overwrite=overwrite)
        return _fit_and_save(clf, config, corpus, out, resume, progress)


def _fit_and_save(
    clf: Classifier,
    config: TrainConfig,
    corpus: Corpus,
    out: Path | None,
    resume: bool,
    progress: ProgressCallback | None,
) -> Run:
    """Fit ``clf``, tune thresholds, evaluate, and save the run into ``out`` (prepared) if given."""
    run_config = config.to_dict()
    start = time.perf_counter()
    clf.fit(
        corpus,
        progress=progress,
        checkpoint_dir=None if out is None else Path(out) / CHECKPOINT_DIR,
        resume=resume,
    )
    fitted = time.perf_counter()
    loss_label = SVM_LOSS if config.model in SVM_KINDS.values() else config.loss
    thresholds, rows = _evaluate(clf, corpus, config.threshold, progress, loss_label, _builder(config))
    timing = {"fit_seconds": fitted - start, "evaluate_seconds": time.perf_counter() - fitted}
    report = run_report(rows, _title(clf.name, loss_label, corpus.name))
    if out is None:
        return Run(model=clf, thresholds=thresholds, metrics=rows, config=run_config, report=report)
    return save_run(
        out,
        config=run_config,
        model=clf,
        thresholds=thresholds,
        metrics=rows,
        report=report,
        figures=_run_figures(rows),
        timing=timing,
    )


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
    name = config.model if config.model in SVM_KINDS.values() else f"{config.model}-{config.loss}"
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
    threshold: str = "grid",
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
    corpus, data_config = _corpus_and_data(corpus_or_source, data, data_options)
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
        corpus = load_data(config.data, progress)
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

    from mlbalance.models.registry import build_model

    stored = read_config(run_dir)
    expected = build_model(cell.model, **model_kwargs(cell)).get_config()
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
    for stem, figure in _run_figures(result.rows).items():
        save_figure(figure, out_dir / "plots" / f"{stem}.png")
    if not has_extra("plots"):
        return
    if corpus is None:
        corpus = load_data(config.data)
    save_figure(_dataset_figure(corpus), out_dir / "plots" / "dataset.png")


def _dataset_figure(corpus: Corpus) -> Any:
    from mlbalance.plots import plot_dataset

    return plot_dataset(corpus)


def reevaluate(
    run: Run,
    *,
    threshold: str | None = None,
    top_k: int | None = None,
    at_least_one: bool | None = None,
    cv_folds: int | None = None,
    fbr: float | None = None,
    threshold_value: float | None = None,
    corpus: Corpus | None = None,
    data: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> Run:
    """Score the run's corpus again, tune thresholds, evaluate, and store the result.

    Args:
        run: a finished run (from :func:`~mlbalance.runs.load_run`).
        threshold: the thresholding method (None: the run's own, with its settings).
        top_k, at_least_one, cv_folds, fbr, threshold_value: as for :func:`train` (with a new
            ``threshold``; None: the defaults).
        corpus: the corpus (None: loaded from the run's configuration).
        data: a new location of the data file the run's source reads.
        progress: a progress callback.

    Returns:
        The run with its new thresholds and metrics (also written to its directory, if any).
    """
    from mlbalance.runs import update_run

    if threshold is None:
        # the run's own settings (runs written before some keys existed take their defaults)
        stored_threshold = dict(run.config["threshold"])
        settings = ThresholdConfig.from_values(
            {
                "threshold": stored_threshold.pop("method"),
                "top_k": stored_threshold.pop("k", None),
                "threshold_value": stored_threshold.pop("value", None),
            }
            | stored_threshold
        ).to_values()
    else:
        settings = {
            "threshold": threshold,
            "top_k": top_k,
            "at_least_one": at_least_one,
            "cv_folds": cv_folds,
            "fbr": fbr,
            "threshold_value": threshold_value,
        }
    stored = TrainConfig.from_mapping(
        {
            "dataset": run.config["data"]["source"],
            "data": run.config["data"].get("data") if data is None else str(data),
            "data_options": run.config["data"].get("options") or {},
            "model": run.config["model"],
            "loss": run.config["loss"],
            "seed": run.config["seed"],
            "model_options": run.config.get("model_options") or {},
            **settings,
        }
    )
    if corpus is None:
        corpus = load_data(stored.data, progress)
    if corpus.label_space != run.model.label_space_:
        raise ConfigError(
            f"the corpus {corpus.name!r} has other labels ({len(corpus.label_space)}) than the run "
            f"({len(run.model.label_space_)}); evaluate on the corpus it was trained on"
        )
    loss_label = SVM_LOSS if stored.model in SVM_KINDS.values() else stored.loss
    thresholds, rows = _evaluate(run.model, corpus, stored.threshold, progress, loss_label, _builder(stored))
    config = dict(run.config)
    config["threshold"] = dataclasses.asdict(stored.threshold)
    report = run_report(rows, _title(run.model.name, loss_label, corpus.name))
    if run.directory is not None:
        update_run(
            run.directory,
            config=config,
            thresholds=thresholds,
            metrics=rows,
            report=report,
            figures=_run_figures(rows),
        )
    return Run(
        model=run.model,
        thresholds=thresholds,
        metrics=rows,
        config=config,
        directory=run.directory,
        report=report,
    )
