"""``tune``'s search space: what a trial draws (:func:`suggest_config`) and how it is scored
(:func:`trial_scores`), shared by the Optuna engine (:mod:`mlbalance.tune`) and the Ray engine
(:mod:`mlbalance.tune_ray`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlbalance.config import DataConfig, ThresholdConfig, TrainConfig

if TYPE_CHECKING:
    import optuna

    from mlbalance.runs import Run

OBJECTIVES = ("micro", "macro", "mean")
#: What a trial is ranked by: validation F1 of thresholds tuned without the documents they predict
#: (default), or of thresholds tuned on all of validation.
SCORINGS = ("cross-fitted", "validation")
TUNABLE_MODELS = ("tfidf", "svm", "embedding", "hybrid", "svm-hybrid")
#: What ``tune`` searches when no ``models`` are named (the encoder models need the transformer extra
#: and an encoding pass; name them to search them).
DEFAULT_MODELS = ("tfidf", "svm")
#: The models on frozen-encoder vectors (their ``embedding_weight`` is searched).
ENCODER_MODELS = ("embedding", "hybrid", "svm-hybrid")
THRESHOLDINGS = ("grid", "global-optimal", "per-label", "per-label-cv", "micromacro-cv")
STUDY_NAME = "mlbalance-tune"
#: losses whose weight is class-balanced (β) / that rebalance (μ) / that have the NTR term (λ, κ)
CB_LOSSES = ("cb", "cb-ntr")
REBALANCE_LOSSES = ("r-focal", "db-nofocal", "db")
NTR_LOSSES = ("ntr-focal", "db-nofocal", "cb-ntr", "db")


def suggest_config(
    trial: optuna.Trial,
    data: DataConfig,
    models: Sequence[str],
    seed: int,
    thresholds: Sequence[str] = THRESHOLDINGS,
    fixed: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """A training configuration drawn for ``trial`` (the search space of :mod:`mlbalance.tune`), with
    the model options ``fixed`` (those the drawn model takes) on top."""
    from mlbalance.losses import ALL_LOSS_NAMES
    from mlbalance.models.registry import model_parameters, model_takes_loss
    from mlbalance.models.tfidf import DEFAULT_SGD_LR, SGD_LR

    fixed = dict(fixed or {})
    model = trial.suggest_categorical("model", list(models))
    fixed = {key: value for key, value in fixed.items() if key in model_parameters(model)}
    method = trial.suggest_categorical("threshold", list(thresholds))
    at_least_one = trial.suggest_categorical("at_least_one", [False, True])
    options: dict[str, Any] = {}
    if model != "embedding":  # the vector alone has no TF-IDF settings
        options["min_df"] = trial.suggest_int("min_df", 1, 3)
        options["ngram_range"] = (1, trial.suggest_int("ngram_max", 1, 2))
    if model in ENCODER_MODELS:
        options["embedding_weight"] = trial.suggest_float("embedding_weight", 0.25, 2.0, log=True)
    loss: str | None = None  # the SVMs take no loss
    if not model_takes_loss(model):
        options["C"] = trial.suggest_float("C", 0.03, 30.0, log=True)
    else:
        loss = trial.suggest_categorical("loss", list(ALL_LOSS_NAMES))
        scale = trial.suggest_float("lr_scale", 0.1, 10.0, log=True)
        options["lr"] = SGD_LR.get(loss, DEFAULT_SGD_LR) * scale
        options["max_epochs"] = trial.suggest_int("max_epochs", 10, 40)
        options["patience"] = trial.suggest_int("patience", 3, 8)
        loss_options: dict[str, Any] = {}
        if loss in CB_LOSSES:
            loss_options["cb_beta"] = trial.suggest_categorical("cb_beta", [0.9, 0.99, 0.999])
        if loss in REBALANCE_LOSSES:
            loss_options["mu"] = trial.suggest_float("mu", 0.05, 0.9, log=True)
        if loss in NTR_LOSSES:
            loss_options["ntr_lambda"] = trial.suggest_float("ntr_lambda", 0.5, 5.0, log=True)
            loss_options["ntr_kappa"] = trial.suggest_float("ntr_kappa", 0.01, 0.2, log=True)
        if loss_options:
            options["loss_options"] = loss_options
    return TrainConfig(
        data=data,
        model=model,
        loss=loss,
        seed=seed,
        threshold=ThresholdConfig(method, at_least_one=at_least_one),
        model_options={**options, **fixed},
    )


def starting_points(
    models: Sequence[str], thresholds: Sequence[str], corpus_name: str | None, preset: str | None
) -> list[dict[str, Any]]:
    """The trials a new study starts with, as :func:`suggest_config` parameters: ``train``'s
    defaults for each searched model that takes no encoder, then the configurations of the README's
    Reuters-21578 table with cross-validated thresholds — the TF-IDF model with CB-NTR, β 0.99,
    ``min_df=1``, and the SVM, both with ``micromacro-cv`` and ``--at-least-one`` — so a tune starts
    from what a user would run without it. A point whose thresholding is not searched is left out."""
    import inspect

    from mlbalance.evaluation.thresholding import default_method
    from mlbalance.losses.presets import DATASET_SETTINGS
    from mlbalance.models.registry import model_class, model_takes_loss

    def defaults(kind: str) -> dict[str, Any]:
        parameters = inspect.signature(model_class(kind)).parameters
        return {name: p.default for name, p in parameters.items()}

    loss_settings = DATASET_SETTINGS.get(preset or "reuters", DATASET_SETTINGS["reuters"])
    auto = default_method(corpus_name)
    points: list[dict[str, Any]] = []
    candidates = [(kind, None, auto, False, {}) for kind in models if kind not in ENCODER_MODELS]
    if "tfidf" in models:
        candidates.append(("tfidf", "cb-ntr", "micromacro-cv", True, {"cb_beta": 0.99, "min_df": 1}))
    if "svm" in models:
        candidates.append(("svm", None, "micromacro-cv", True, {}))
    for kind, loss, method, at_least_one, extra in candidates:
        if method not in thresholds:
            continue
        d = defaults(kind)
        point: dict[str, Any] = {
            "model": kind,
            "threshold": method,
            "at_least_one": at_least_one,
            "min_df": int(extra.get("min_df", d["min_df"])),
            "ngram_max": int(d["ngram_range"][1]),
        }
        if not model_takes_loss(kind):
            point["C"] = float(d["C"])
        else:
            loss = loss or d["loss"]
            point.update(loss=loss, lr_scale=1.0, max_epochs=d["max_epochs"], patience=d["patience"])
            if loss in CB_LOSSES:
                point["cb_beta"] = extra.get("cb_beta", loss_settings["cb_beta"])
            if loss in REBALANCE_LOSSES:
                point["mu"] = loss_settings["mu"]
            if loss in NTR_LOSSES:
                point["ntr_lambda"] = loss_settings["ntr_lambda"]
                point["ntr_kappa"] = loss_settings["ntr_kappa"]
        points.append(point)
    return points


def make_pruner() -> optuna.pruners.BasePruner:
    """The pruner of every tune, on either engine: from the 4th epoch on, a trial whose validation
    micro-F1 after an epoch is below the median of the finished trials' after that epoch stops (once
    3 trials have finished)."""
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3)


def pruning_progress(
    should_prune: Callable[[float, int], bool], out_of_time: Callable[[], bool] | None = None
) -> Callable[..., None]:
    """A training progress callback that tells ``should_prune(validation micro-F1, epoch)`` after each
    epoch's validation and raises ``optuna.TrialPruned`` when it answers True, or at any progress
    report once ``out_of_time()`` does (the tune's budget)."""

    def progress(stage: str, done: int, total: int | None, **info: Any) -> None:
        stop = out_of_time is not None and out_of_time()
        if stop or (
            stage == "train" and "val_micro_f1" in info and should_prune(float(info["val_micro_f1"]), done)
        ):
            import optuna

            raise optuna.TrialPruned()

    return progress


def trial_scores(run: Run, objective: str, scoring: str) -> dict[str, float]:
    """A trial's scores: the validation micro/macro-F1 of its run (``val_*``), with ``scoring``
    ``"cross-fitted"`` also those of thresholds tuned without the documents they predict
    (``cross_fitted_*``: :func:`~mlbalance.evaluation.thresholding.cross_fitted.cross_fitted_f1`),
    and ``objective``: the ``objective`` (micro, macro or their mean) of the scores ``scoring`` names."""
    (row,) = [r for r in run.metrics if r["split"] == "validation" and r["group"] == "total"]
    scores = {"val_micro_f1": float(row["micro_f1"]), "val_macro_f1": float(row["macro_f1"])}
    basis = (scores["val_micro_f1"], scores["val_macro_f1"])
    if scoring == "cross-fitted":
        from mlbalance.evaluation.thresholding.cross_fitted import cross_fitted_f1

        if run.tuned_on is None:
            raise ValueError("a cross-fitted score needs the run's tuning inputs (a run just trained)")
        basis = cross_fitted_f1(run.tuned_on)
        scores["cross_fitted_micro_f1"], scores["cross_fitted_macro_f1"] = basis
    micro, macro = basis
    scores["objective"] = {"micro": micro, "macro": macro, "mean": (micro + macro) / 2}[objective]
    return scores
