"""``tune``'s Ray engine: the same search space and the same Optuna study, its trials run by Ray Tune.

Ray Tune's ``OptunaSearch`` draws every trial from the study in ``OUT/study.db`` (TPE, seeded), so a
tune started on one engine continues on the other, and an interrupted one resumes. Trials run in Ray
worker processes — on a local Ray instance by default, or across the cluster at ``address`` — one CPU
each, as many at once as the cluster has CPUs (``max_concurrent``). Each trial trains in memory,
scores the validation split and stores its validation micro/macro-F1 and seconds in the study;
``tune`` then refits the best and writes the same ``best/``, ``trials.csv`` and ``tune.md``. Trials are
pruned as on the Optuna engine: each epoch's validation micro-F1 goes into the shared study, and the
study's median rule stops a trial that trails the finished ones (:func:`run_trial`). Needs the ``ray``
extra.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbalance.config import DataConfig

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus

#: The constant each drawn configuration carries: the number of its trial in the Optuna study.
TRIAL_KEY = "optuna_trial"


@dataclass(frozen=True)
class Search:
    """What every trial needs to rebuild and score its configuration (sent to the workers)."""

    data: DataConfig
    models: tuple[str, ...]
    seed: int
    thresholds: tuple[str, ...]
    fixed: Mapping[str, Any]
    objective: str
    scoring: str
    storage_url: str


def run_trial(params: dict[str, Any], search: Search, corpus: Corpus) -> None:
    """One Ray Tune trial: train the drawn configuration, store its scores in the study, report.

    After each epoch the validation micro-F1 goes into the study as the trial's intermediate value and
    the study's pruner (:func:`~mlbalance.tune_space.make_pruner`, as on the Optuna engine) decides on
    the finished trials' values whether the trial goes on; a pruned trial reports nothing, which
    ``OptunaSearch`` records as pruned.
    """
    import optuna
    import ray.tune

    from mlbalance.experiment import train_config
    from mlbalance.tune_space import (
        STUDY_NAME,
        make_pruner,
        pruning_progress,
        suggest_config,
        trial_scores,
    )

    params = dict(params)
    number = int(params.pop(TRIAL_KEY))
    config = suggest_config(
        optuna.trial.FixedTrial(params),
        search.data,
        search.models,
        search.seed,
        search.thresholds,
        search.fixed,
    )
    storage = optuna.storages.RDBStorage(search.storage_url)
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage, pruner=make_pruner())
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(STUDY_NAME), number
    )

    def should_prune(value: float, epoch: int) -> bool:
        storage.set_trial_intermediate_value(trial_id, epoch, value)
        return study.pruner.prune(study, storage.get_trial(trial_id))

    start = time.perf_counter()
    try:
        run = train_config(config, None, corpus=corpus, progress=pruning_progress(should_prune))
    except optuna.TrialPruned:
        storage.set_trial_user_attr(trial_id, "seconds", time.perf_counter() - start)
        return
    scores = trial_scores(run, search.objective, search.scoring)
    value = scores.pop("objective")
    for key, attr in {**scores, "seconds": time.perf_counter() - start}.items():
        storage.set_trial_user_attr(trial_id, key, attr)
    ray.tune.report({"objective": value})


class SearchSpace:
    """The define-by-run space Ray's ``OptunaSearch`` asks: :func:`~mlbalance.tune_space.suggest_config`,
    plus the Optuna trial's number as a constant (picklable, as Ray saves its searcher)."""

    def __init__(self, search: Search) -> None:
        self.search = search

    def __call__(self, trial: Any) -> dict[str, Any]:
        from mlbalance.tune_space import suggest_config

        s = self.search
        suggest_config(trial, s.data, s.models, s.seed, s.thresholds, s.fixed)
        return {TRIAL_KEY: trial.number}


def _trials_done_callback() -> type:
    import ray.tune

    class TrialsDone(ray.tune.Callback):
        """Tells ``on_trial(trials done, objective or None)`` as Ray Tune finishes each trial."""

        def __init__(self, on_trial: Callable[[int, float | None], None] | None) -> None:
            self.on_trial = on_trial
            self.done = 0

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.done += 1
            if self.on_trial is not None:
                value = (trial.last_result or {}).get("objective")
                self.on_trial(self.done, None if value is None else float(value))

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.done += 1
            if self.on_trial is not None:
                self.on_trial(self.done, None)

    return TrialsDone


def search_with_ray(
    search: Search,
    corpus: Corpus,
    out: Path,
    *,
    trials: int | None,
    budget: float | None,
    sampler: Any,
    address: str | None = None,
    max_concurrent: int | None = None,
    on_trial: Callable[[int, float | None], None] | None = None,
) -> None:
    """Run ``trials`` more trials (or until ``budget`` seconds) of the study on Ray Tune."""
    import optuna
    import ray.tune
    from ray.tune.search.optuna import OptunaSearch

    from mlbalance._ray import ray_session
    from mlbalance.tune_space import STUDY_NAME

    TrialsDone = _trials_done_callback()
    storage = optuna.storages.RDBStorage(search.storage_url)
    searcher = OptunaSearch(
        space=SearchSpace(search),
        metric="objective",
        mode="max",
        sampler=sampler,
        study_name=STUDY_NAME,
        storage=storage,
    )
    # A pruned trial ends without a result (OptunaSearch then records it as pruned); Ray Tune's strict
    # check would call that an error.
    with ray_session(address), _environment(TUNE_DISABLE_STRICT_METRIC_CHECKING="1"):
        tuner = ray.tune.Tuner(
            ray.tune.with_resources(
                ray.tune.with_parameters(run_trial, search=search, corpus=corpus), {"cpu": 1}
            ),
            tune_config=ray.tune.TuneConfig(
                search_alg=searcher,
                num_samples=-1 if trials is None else trials,
                time_budget_s=budget,
                max_concurrent_trials=max_concurrent,
            ),
            run_config=ray.tune.RunConfig(
                name="trials",
                storage_path=str((out / "ray").resolve()),
                verbose=0,
                callbacks=[TrialsDone(on_trial)],
            ),
        )
        tuner.fit()


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables set for the duration of the block (the earlier values restored)."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


__all__: Sequence[str] = ("Search", "run_trial", "search_with_ray")
