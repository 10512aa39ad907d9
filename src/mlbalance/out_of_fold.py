"""Out-of-fold training scores: every training document scored by a model that did not train on it.

What the out-of-fold thresholding methods (``"per-label-cv"``, ``"micromacro-cv"``) tune on. The
models are built by a function the caller gives, so this module knows no model kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlbalance._checks import check_int
from mlbalance.errors import ConfigError
from mlbalance.progress import ProgressCallback, no_progress


def fold_assignment(n: int, folds: int, seed: int = 0) -> np.ndarray:
    """The fold (``0 .. folds-1``) of each of ``n`` documents, as :func:`cross_fit` uses them:
    a seeded random permutation dealt round-robin, so fold sizes differ by at most one."""
    return np.random.default_rng(seed).permutation(n) % folds


@dataclass(frozen=True)
class CrossFit:
    """What :func:`cross_fit` returns.

    Attributes:
        scores: float32 ``(n_train, n_labels)`` out-of-fold scores, rows in training order.
        folds: ``(n_train,)`` the fold of each training document (:func:`fold_assignment`).
        validation_medians: float64 ``(folds, n_labels)``: each fold model's median score of each label
            over the validation documents; None when not asked for or without validation documents.
            Beside the final model's medians they tell how far a label's score scale moved between
            a fold model and the final one (``micromacro-cv`` uses them).
    """

    scores: np.ndarray
    folds: np.ndarray
    validation_medians: np.ndarray | None


def cross_fit(
    build: Callable[[], Any],
    corpus: Any,
    folds: int = 3,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    *,
    validation_medians: bool = True,
) -> CrossFit:
    """Scores of every training document from a model that did not train on it (k-fold).

    What per-label thresholds need when labels have few validation positives: the training split has
    several times more (LibMultiLabel's thresholding tunes on exactly these). Each fold's model keeps
    the corpus's label space (columns line up) and its validation split.

    Args:
        build: returns a new, unfitted classifier (e.g. ``lambda: build_model("svm")``).
        corpus: the :class:`~mlbalance.data.corpus.Corpus`; only its training split is folded.
        folds: number of folds (>= 2).
        seed: seeds the assignment of documents to folds.
        progress: told ``("cross-validation", fold, folds)`` after each fold.
        validation_medians: also score the validation documents with each fold's model and keep the
            per-label medians (:class:`CrossFit`).

    Raises:
        ConfigError: ``folds`` below 2 or above the number of training documents.
    """
    check_int("folds", folds, minimum=2)
    progress = progress or no_progress
    n = len(corpus.train)
    if n < folds:
        raise ConfigError(f"`folds` must not exceed the {n} training documents, got {folds}")
    assignment = fold_assignment(n, folds, seed)
    n_labels = len(corpus.label_space)
    out = np.empty((n, n_labels), dtype=np.float32)
    medians = np.empty((folds, n_labels)) if validation_medians and len(corpus.validation) else None
    for k in range(folds):
        held_out = np.flatnonzero(assignment == k)
        sub = dataclasses.replace(corpus, train=corpus.train.subset(np.flatnonzero(assignment != k)))
        model = build().fit(sub)
        out[held_out] = model.scores([corpus.train.texts[i] for i in held_out])
        if medians is not None:
            medians[k] = np.median(model.scores(corpus.validation.texts), axis=0)
        progress("cross-validation", k + 1, folds)
    return CrossFit(out, assignment, medians)


def out_of_fold_scores(build: Callable[[], Any], corpus: Any, **options: Any) -> np.ndarray:
    """The out-of-fold training scores of :func:`cross_fit` alone (``options``: its ``folds``, ``seed``
    and ``progress``): float32 ``(n_train, n_labels)``."""
    return cross_fit(build, corpus, validation_medians=False, **options).scores
