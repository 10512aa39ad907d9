"""The pipeline: one run from a configuration — load, fit, tune thresholds, evaluate, save.

:func:`train` is ``mlbalance train``: load the corpus, fit the model (registered by kind,
:mod:`mlbalance.models.registry`; the loss only for a model that takes one), tune thresholds on
validation with the configured method (:mod:`mlbalance.evaluation.thresholding`; a method that needs
out-of-fold scores gets them from :func:`mlbalance.out_of_fold.cross_fit`), evaluate validation and
test, and (given ``out``) write a run directory. :func:`mlbalance.reevaluation.reevaluate` re-tunes
a finished run's thresholds. ``compare`` (:mod:`mlbalance.compare`) and ``tune`` (:mod:`mlbalance.tune`) call
:func:`train_config` once per setting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbalance.config import DataConfig, ThresholdConfig, TrainConfig, parse_losses
from mlbalance.errors import ConfigError
from mlbalance.reporting import run_figures, run_report, run_title
from mlbalance.runs import CHECKPOINT_DIR, Run, prepare_run_dir, run_lock, save_run

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus
    from mlbalance.evaluation.thresholding.cross_fitted import TunedOn
    from mlbalance.models.base import Classifier, ProgressCallback

log = logging.getLogger(__name__)


def evaluate_model(
    model: Classifier,
    corpus: Corpus,
    threshold: ThresholdConfig,
    progress: ProgressCallback | None,
    loss_label: str | None,
    build: Callable[[], Classifier],
) -> tuple[Any, list[dict[str, Any]], TunedOn]:
    """Score validation and test, tune thresholds, and evaluate both splits.

    ``build`` returns a new unfitted model like ``model`` (:meth:`TrainConfig.build_model`); a
    thresholding method that needs out-of-fold training scores fits ``threshold.cv_folds`` of them.
    Returns the thresholds, the evaluation rows and what the thresholds were tuned on.
    """
    from mlbalance.evaluation import evaluate
    from mlbalance.evaluation.thresholding import OutOfFold, Scored
    from mlbalance.evaluation.thresholding.cross_fitted import TunedOn

    if len(corpus.validation) == 0:
        raise ConfigError(f"corpus {corpus.name!r} has no validation documents to tune thresholds on")
    thresholder = threshold.thresholder(corpus.name)
    y_val = corpus.labels("validation")
    s_val = model.scores(corpus.validation.texts, progress=progress)
    oof = None
    if thresholder.needs_oof:
        from mlbalance.out_of_fold import cross_fit

        fits = cross_fit(
            build,
            corpus,
            folds=threshold.cv_folds,
            seed=0,
            progress=progress,
            validation_medians=thresholder.needs_fold_medians,
        )
        y_train = corpus.labels("train")
        if fits.unstored_max is None:
            train = Scored.checked(fits.scores, y_train, "scores_oof", "y_train")
            oof = OutOfFold(train.scores, train.labels, fits.folds, fits.validation_medians)
        else:  # each document's highest scores only (many labels): see OutOfFold
            oof = OutOfFold(fits.scores, y_train, fits.folds, fits.validation_medians, fits.unstored_max)
    val = Scored.checked(s_val, y_val)
    thresholds = thresholder.tune(val, oof, model.score_kind)
    rows = evaluate(s_val, y_val, model.stats_, thresholds, split="validation")
    if len(corpus.test):
        s_test = model.scores(corpus.test.texts, progress=progress)
        rows += evaluate(s_test, corpus.labels("test"), model.stats_, thresholds, split="test")
    tuned_on = TunedOn(thresholder, val, oof, model.score_kind)
    return thresholds, [{"model": model.name, "loss": loss_label, **row} for row in rows], tuned_on


def train(
    corpus_or_source: Corpus | str | Path,
    model: str = "tfidf",
    loss: str | None = None,
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
        loss: a loss name (``mlbalance.losses.ALL_LOSS_NAMES``); None: ``"db"`` for a model that
            takes a loss, none for the SVMs (which refuse one).
        out: a run directory to write (None: keep the run in memory only).
        data: the file a source name needs (e.g. the Reuters archive).
        data_options: keyword arguments of :func:`mlbalance.data.load_corpus`.
        seed: the model's seed.
        threshold: ``"auto"`` (:func:`~mlbalance.evaluation.thresholding.default_method`: the paper's
            grid on the paper's and the synthetic corpora, ``"global-optimal"`` on others), ``"grid"``,
            ``"global-optimal"``, ``"per-label"``, ``"top-k"``, ``"per-label-cv"``
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
    from mlbalance.models.registry import model_takes_loss

    if loss is None and model_takes_loss(model):
        loss = "db"
    corpus, data_config = DataConfig.of(corpus_or_source, data, data_options)
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
    from mlbalance.models.registry import model_takes_loss

    # everything that can be checked fails before the corpus is loaded or anything is written
    if model_takes_loss(config.model):
        parse_losses([config.loss])
    clf = config.build_model()
    config.threshold.thresholder()
    run_config = config.to_dict()
    if out is not None:
        prepare_run_dir(out, run_config, resume=resume, overwrite=overwrite, check_only=True)
    if corpus is None:
        corpus = config.data.load(progress)
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
    loss_label = config.loss if clf.takes_loss else None
    thresholds, rows, tuned_on = evaluate_model(
        clf, corpus, config.threshold, progress, loss_label, config.build_model
    )
    timing = {"fit_seconds": fitted - start, "evaluate_seconds": time.perf_counter() - fitted}
    report = run_report(rows, run_title(clf.name, loss_label, corpus.name))
    if out is None:
        return Run(clf, thresholds, rows, run_config, report=report, tuned_on=tuned_on)
    saved = save_run(
        out,
        config=run_config,
        model=clf,
        thresholds=thresholds,
        metrics=rows,
        report=report,
        figures=run_figures(rows),
        timing=timing,
    )
    saved.tuned_on = tuned_on
    return saved
