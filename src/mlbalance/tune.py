"""Choosing model × loss × thresholding per corpus on validation (Optuna; the extra ``mlbalance[tune]``).

Each trial draws a configuration — the model kind (TF-IDF model or SVM; named, also the frozen-encoder
models ``embedding``, ``hybrid`` and ``svm-hybrid``), the loss preset and its key parameters (β of CB; μ,
λ and κ of the rebalancing and NTR terms), learning rate, epochs and patience, ``min_df`` and n-grams,
C of the SVMs, the encoder vector's weight, the thresholding method and ``at_least_one`` — with the
fixed ``model_options`` (say the encoder) on top, trains it in memory
and is scored on the **validation** split only (micro-F1, macro-F1 or their mean of the thresholded
predictions; by default of thresholds cross-fitted over five parts of validation, so that a method does
not win by fitting the split it is scored on); TF-IDF trials that trail the others after their first
epochs are pruned (median rule).
The study lives in ``OUT/study.db`` (SQLite), so an interrupted ``tune`` continues where it stopped.

At the end ``OUT`` holds ``best/`` (the best configuration trained again as ``train`` would: a normal
run directory), ``trials.csv`` (every trial: state, seconds, validation scores, settings), ``tune.md``
(the leaderboard and the chosen settings) and, with the plots extra, ``plots/tune.png`` (validation score
by trial, best so far).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbalance._checks import check_int
from mlbalance.config import DataConfig, TrainConfig
from mlbalance.errors import ConfigError, MlbalanceError, RunError
from mlbalance.tune_space import (
    DEFAULT_MODELS,
    OBJECTIVES,
    SCORINGS,
    STUDY_NAME,
    THRESHOLDINGS,
    TUNABLE_MODELS,
    make_pruner,
    pruning_progress,
    starting_points,
    suggest_config,
    trial_scores,
)

if TYPE_CHECKING:
    import optuna

    from mlbalance.data.corpus import Corpus
    from mlbalance.progress import ProgressCallback
    from mlbalance.runs import Run

log = logging.getLogger(__name__)

ENGINES = ("optuna", "ray")
STUDY_FILE = "study.db"
STUDY_LOCK_FILE = ".study.lock"


@dataclass
class TuneResult:
    """What :func:`tune` returns.

    Attributes:
        best_params: the chosen trial's settings (Optuna's parameter names).
        best_value: its validation objective.
        config: the chosen :class:`~mlbalance.config.TrainConfig`.
        best: the run of ``config`` trained again into ``OUT/best``.
        trials: one row per trial (as in ``trials.csv``).
        directory: ``OUT``.
    """

    best_params: dict[str, Any]
    best_value: float
    config: TrainConfig
    best: Run
    trials: list[dict[str, Any]] = field(default_factory=list)
    directory: Path | None = None


def _check_fixed_options(options: Mapping[str, Any] | None, models: Sequence[str]) -> dict[str, Any]:
    """``options`` checked: each is an argument of some searched model, and every model takes its own."""
    from mlbalance.models.registry import build_model, model_parameters

    fixed = dict(options or {})
    taken = {model: set(model_parameters(model)) for model in models}
    unused = sorted(key for key in fixed if not any(key in params for params in taken.values()))
    if unused:
        raise ConfigError(f"no searched model ({', '.join(models)}) takes the option(s) {', '.join(unused)}")
    for model, params in taken.items():
        build_model(model, **{key: value for key, value in fixed.items() if key in params})
    return fixed


def tune(
    corpus_or_source: Corpus | str | Path,
    out: str | Path,
    *,
    data: str | Path | None = None,
    budget: float | None = None,
    trials: int | None = 20,
    objective: str = "mean",
    scoring: str = "cross-fitted",
    models: Sequence[str] = DEFAULT_MODELS,
    thresholds: Sequence[str] = THRESHOLDINGS,
    model_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    engine: str = "optuna",
    address: str | None = None,
    concurrent_trials: int | None = None,
    progress: ProgressCallback | None = None,
    on_trial: Callable[[int, float | None, float | None, float], None] | None = None,
) -> TuneResult:
    """Search configurations on validation, then train the best into ``out/best`` (module docstring).

    Args:
        corpus_or_source: a corpus, a source name or a path (as for :func:`mlbalance.train`).
        out: the tune folder (created; an earlier tune of the same corpus in it is continued).
        data: the file or folder a named source reads.
        budget: seconds for the whole call (None: no limit; at least one of ``budget`` and ``trials``):
            on the Optuna engine the search stops so that refitting the best so far (as long as its
            trial took) ends within it, and a trial running then stops at its next progress report
            (recorded as pruned); on Ray, Ray Tune's ``time_budget_s`` of searching.
        trials: the number of trials the study should hold in all (None: until ``budget``).
        objective: ``"mean"`` (default: the mean of micro- and macro-F1, so that the tail labels
            count), ``"micro"`` or ``"macro"`` validation F1.
        scoring: ``"cross-fitted"`` (default): a trial is ranked by the validation F1 of thresholds
            tuned without the documents they predict (five parts of validation, each predicted with the
            thresholds its method tunes on the other four:
            :func:`~mlbalance.evaluation.thresholding.cross_fitted.cross_fitted_f1`), so a method that
            fits validation (``per-label``) is not favoured for doing so; ``"validation"``: by the
            validation F1 of the run's own thresholds.
        models: model kinds to search over (of :data:`TUNABLE_MODELS`).
        thresholds: thresholding methods to search over (of :data:`THRESHOLDINGS`); the cross-fitted
            ``per-label-cv`` and ``micromacro-cv`` fit the validation split less than ``per-label``.
        model_options: options every trial's model gets, not searched (``{"encoder": "minilm",
            "max_length": 128}`` for the encoder models); part of the study's identity.
        engine: ``"optuna"`` (trials one after the other in this process, with pruning) or ``"ray"``
            (the same study, trials in parallel on Ray Tune: :mod:`mlbalance.tune_ray`; extra ``ray``).
        address: ``engine="ray"``: the Ray cluster to run on (None: a local instance).
        concurrent_trials: ``engine="ray"``: at most this many trials at once (None: one per CPU of
            the cluster).
        seed: seeds the sampler and every trial's model.
        progress: told about the refit of the best configuration.
        on_trial: told after each trial ``(trials done, this value or None, best value so far, seconds)``.

    Raises:
        ConfigError: a bad objective, model, budget or trial count; the tune extra is missing.
        RunError: ``out`` holds a tune of another corpus or objective.
    """
    from mlbalance._extras import require_extra
    from mlbalance.experiment import train_config

    begun = time.perf_counter()

    require_extra("tune", "`mlbalance tune`")
    import optuna

    if objective not in OBJECTIVES:
        raise ConfigError(f"`objective` must be one of {OBJECTIVES}, got {objective!r}")
    if scoring not in SCORINGS:
        raise ConfigError(f"`scoring` must be one of {SCORINGS}, got {scoring!r}")
    if engine not in ENGINES:
        raise ConfigError(f"`engine` must be one of {ENGINES}, got {engine!r}")
    if engine == "ray":
        require_extra("ray", "`mlbalance tune --engine ray`")
    if concurrent_trials is not None:
        check_int("concurrent_trials", concurrent_trials, minimum=1)
    unknown = sorted(set(models) - set(TUNABLE_MODELS))
    if not models or unknown:
        raise ConfigError(f"`models` must be some of {TUNABLE_MODELS}, got {list(models)!r}")
    unknown = sorted(set(thresholds) - set(THRESHOLDINGS))
    if not thresholds or unknown:
        raise ConfigError(f"`thresholds` must be some of {THRESHOLDINGS}, got {list(thresholds)!r}")
    fixed = _check_fixed_options(model_options, models)
    if budget is None and trials is None:
        raise ConfigError("give a `budget` (seconds) or a number of `trials`, or both")
    if budget is not None and not budget > 0:
        raise ConfigError(f"`budget` must be a number of seconds > 0, got {budget!r}")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise ConfigError(f"`trials` must be an integer >= 1, got {trials!r}")
    corpus, data_config = DataConfig.of(corpus_or_source, data)
    if corpus is None:
        corpus = data_config.load()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    identity = {"dataset": data_config.source, "data": data_config.data, "objective": objective,
                "scoring": scoring,
                "models": sorted(models), "thresholds": sorted(thresholds), "seed": seed}  # fmt: skip
    if fixed:
        identity["model_options"] = fixed
    from filelock import FileLock

    # Optuna creates the database's tables on first open; two processes doing so at once collide, so
    # the opening is serialised (tunes sharing a folder then run side by side on one study).
    # Heartbeats: a trial left "running" by a killed tune is marked failed when the tune is rerun.
    with FileLock(out / STUDY_LOCK_FILE), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        url = f"sqlite:///{(out / STUDY_FILE).resolve()}"
        storage = optuna.storages.RDBStorage(url, heartbeat_interval=10, grace_period=30)
        study = optuna.create_study(
            study_name=STUDY_NAME,
            storage=storage,
            load_if_exists=True,
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=make_pruner(),
        )
    stored = study.user_attrs.get("identity")
    if stored is None:
        study.set_user_attr("identity", identity)
        for point in starting_points(models, thresholds, corpus.name, corpus.preset):
            study.enqueue_trial(point, skip_if_exists=True)
    elif stored != identity:
        raise RunError(
            f"{out} holds a tune of another setting ({json.dumps(stored, sort_keys=True)}); "
            "choose another folder"
        )

    def run_trial(trial: optuna.Trial) -> float:
        config = suggest_config(trial, data_config, models, seed, thresholds, fixed)
        start = time.perf_counter()

        def should_prune(value: float, epoch: int) -> bool:
            trial.report(value, step=epoch)
            return trial.should_prune()

        trial_progress = pruning_progress(should_prune, out_of_time)
        run = train_config(config, None, corpus=corpus, progress=trial_progress)
        scores = trial_scores(run, objective, scoring)
        value = scores.pop("objective")
        for key, attr in scores.items():
            trial.set_user_attr(key, attr)
        trial.set_user_attr("seconds", time.perf_counter() - start)
        return value

    waiting = optuna.trial.TrialState.WAITING  # enqueued starting points count once they run
    done_before = sum(t.state != waiting for t in study.trials)
    remaining = None if trials is None else max(0, trials - done_before)
    started = time.perf_counter()
    refit_seconds = [_best_seconds(study)]

    def out_of_time() -> bool:
        """Whether refitting the best configuration now would end past the budget (the whole call's:
        the running trial stops at its next progress report, no new one starts)."""
        return budget is not None and time.perf_counter() + refit_seconds[0] >= begun + budget

    def tell(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        refit_seconds[0] = _best_seconds(study)
        if out_of_time():
            study.stop()
        if on_trial is not None:
            best = _best_value(study)
            ran = sum(t.state != optuna.trial.TrialState.WAITING for t in study.trials)
            on_trial(ran, trial.value, best, time.perf_counter() - started)

    if remaining != 0 and engine == "ray":
        from mlbalance.tune_ray import Search, search_with_ray

        best_seen = [_best_value(study)]

        def told(done: int, value: float | None) -> None:
            if value is not None and (best_seen[0] is None or value > best_seen[0]):
                best_seen[0] = value
            if on_trial is not None:
                on_trial(done_before + done, value, best_seen[0], time.perf_counter() - started)

        search = Search(data_config, tuple(models), seed, tuple(thresholds), fixed, objective, scoring, url)
        sampler = optuna.samplers.TPESampler(seed=seed)
        limits = {
            "trials": remaining,
            "budget": budget,
            "address": address,
            "max_concurrent": concurrent_trials,
        }
        search_with_ray(search, corpus, out, sampler=sampler, on_trial=told, **limits)
        study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    elif remaining != 0:
        study.optimize(
            run_trial, n_trials=remaining, timeout=budget, catch=(MlbalanceError,), callbacks=[tell]
        )
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RunError(f"no trial of the tune in {out} finished; give it more time (--budget) or trials")
    best_trial = study.best_trial
    chosen = optuna.trial.FixedTrial(best_trial.params)
    config = suggest_config(chosen, data_config, models, seed, thresholds, fixed)
    best = train_config(config, out / "best", corpus=corpus, overwrite=True, progress=progress)
    rows = trial_rows(study)
    _write_results(out, rows, best_trial, best, objective, scoring)
    return TuneResult(
        best_params=dict(best_trial.params),
        best_value=float(best_trial.value),
        config=config,
        best=best,
        trials=rows,
        directory=out,
    )


def _best_seconds(study: optuna.Study) -> float:
    """How long the best trial so far took (what refitting it takes), 0 before any finished."""
    try:
        return float(study.best_trial.user_attrs.get("seconds", 0.0))
    except ValueError:  # no trial finished yet
        return 0.0


def _best_value(study: optuna.Study) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:  # no trial finished yet
        return None


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial: number, state, objective, validation micro/macro-F1, seconds, settings.

    A pruned trial has no objective; ``pruned_after`` holds the epoch it was stopped after and
    ``pruned_val_micro_f1`` its validation micro-F1 then.
    """
    import optuna

    names = sorted({name for t in study.trials for name in t.params})
    rows = []
    for t in study.trials:
        if t.state == optuna.trial.TrialState.WAITING:  # a starting point the search did not reach
            continue
        pruned = t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values
        last = max(t.intermediate_values) if pruned else None
        row: dict[str, Any] = {
            "trial": t.number,
            "state": t.state.name.lower(),
            "objective": t.value if t.state == optuna.trial.TrialState.COMPLETE else None,
            "pruned_after": last,
            "pruned_val_micro_f1": t.intermediate_values[last] if pruned else None,
            "val_micro_f1": t.user_attrs.get("val_micro_f1"),
            "val_macro_f1": t.user_attrs.get("val_macro_f1"),
            "cross_fitted_micro_f1": t.user_attrs.get("cross_fitted_micro_f1"),
            "cross_fitted_macro_f1": t.user_attrs.get("cross_fitted_macro_f1"),
            "seconds": t.user_attrs.get("seconds"),
        }
        row.update({name: t.params.get(name) for name in names})
        rows.append(row)
    return rows


def _write_results(
    out: Path,
    rows: list[dict[str, Any]],
    best_trial: optuna.trial.FrozenTrial,
    best: Run,
    objective: str,
    scoring: str,
) -> None:
    from mlbalance._atomic import atomic_write_text
    from mlbalance._extras import has_extra
    from mlbalance.evaluation.report import table2_markdown

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "trials.csv", buffer.getvalue())

    finished = sorted((r for r in rows if r["state"] == "complete"), key=lambda r: -r["objective"])
    states = {state: sum(r["state"] == state for r in rows) for state in ("complete", "pruned", "fail")}
    lines = [
        f"# Tune: {objective} validation F1 ({scoring})",
        "",
        f"{len(rows)} trials: {states['complete']} finished, {states['pruned']} pruned, "
        f"{states['fail']} failed. Scored on the validation split only"
        + (
            " (the objective: each fifth of it predicted with thresholds tuned on the other four fifths)"
            if scoring == "cross-fitted"
            else ""
        )
        + "; `best/` is the chosen configuration trained again.",
        "",
        "## Chosen settings",
        "",
        "| setting | value |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in sorted(best_trial.params.items())),
        "",
        "## Leaderboard (best 10)",
        "",
        "| trial | objective | val micro-F1 | val macro-F1 | model | loss | thresholding | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in finished[:10]:
        loss = r.get("loss") or "-"
        lines.append(
            f"| {r['trial']} | {100 * r['objective']:.2f} | {100 * r['val_micro_f1']:.2f} | "
            f"{100 * r['val_macro_f1']:.2f} | {r.get('model')} | {loss} | {r.get('threshold')}"
            f"{' + at-least-one' if r.get('at_least_one') else ''} | {r['seconds']:.1f} |"
        )
    lines += [
        "",
        "## The chosen configuration on the test split (`best/`)",
        "",
        table2_markdown([r for r in best.metrics if r["split"] == "test"]).rstrip(),
        "",
    ]
    if has_extra("plots"):
        from mlbalance.runs import save_figure

        save_figure(_trials_figure(rows, objective), out / "plots" / "tune.png")
        lines += ["![validation score by trial](plots/tune.png)", ""]
    atomic_write_text(out / "tune.md", "\n".join(lines))


def _trials_figure(rows: list[dict[str, Any]], objective: str) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6))
    ax = figure.subplots()
    done = [(r["trial"], r["objective"]) for r in rows if r["state"] == "complete"]
    if done:
        xs, ys = zip(*done)
        best, running = [], float("-inf")
        for y in ys:
            running = max(running, y)
            best.append(running)
        ax.scatter(xs, [100 * y for y in ys], s=14, label="trial")
        ax.step(xs, [100 * b for b in best], where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {objective} F1 (%)")
    ax.legend(loc="lower right")
    return figure
