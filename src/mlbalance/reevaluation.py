"""``evaluate --rescore`` / ``--threshold``: a finished run scored again, its thresholds tuned anew
(by the run's own method or another), evaluated, and stored back crash-atomically
(:func:`mlbalance.runs.update_run`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from mlbalance.config import ThresholdConfig, TrainConfig
from mlbalance.errors import ConfigError
from mlbalance.experiment import evaluate_model
from mlbalance.reporting import run_figures, run_report, run_title
from mlbalance.runs import Run

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus
    from mlbalance.progress import ProgressCallback


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
        corpus = stored.data.load(progress)
    if corpus.label_space != run.model.label_space_:
        raise ConfigError(
            f"the corpus {corpus.name!r} has other labels ({len(corpus.label_space)}) than the run "
            f"({len(run.model.label_space_)}); evaluate on the corpus it was trained on"
        )
    loss_label = stored.loss if run.model.takes_loss else None
    build = stored.build_model
    thresholds, rows, _ = evaluate_model(run.model, corpus, stored.threshold, progress, loss_label, build)
    config = dict(run.config)
    config["threshold"] = dataclasses.asdict(stored.threshold)
    report = run_report(rows, run_title(run.model.name, loss_label, corpus.name))
    if run.directory is not None:
        update_run(
            run.directory,
            config=config,
            thresholds=thresholds,
            metrics=rows,
            report=report,
            figures=run_figures(rows),
        )
    return dataclasses.replace(run, thresholds=thresholds, metrics=rows, config=config, report=report)
