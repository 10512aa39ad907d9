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
import scipy.sparse as sp

from mlbalance._checks import check_int
from mlbalance.errors import ConfigError
from mlbalance.evaluation.thresholding.base import keep_top_scores
from mlbalance.progress import ProgressCallback, no_progress

#: Out-of-fold scores are kept dense up to this many (document, label) entries (1 GiB of float32);
#: beyond, each document keeps its :data:`OOF_TOP_K` highest scores and its labels' scores
#: (:func:`~mlbalance.evaluation.thresholding.base.keep_top_scores`): at PubMed size (225k documents,
#: 18,211 labels) 16 GiB dense against ≈ 0.2 GiB.
DENSE_OOF_ENTRIES = 1 << 28

#: Scores kept per document when the out-of-fold scores are sparse (many times the labels a document
#: has in the corpora the library targets: ≈ 13 in MeSH indexing).
OOF_TOP_K = 100

#: Documents are scored in blocks of about this many (document, label) entries when kept sparse.
_SCORE_BLOCK_ENTRIES = 1 << 24


def oof_top_k(n_docs: int, n_labels: int, top_k: int | None = None) -> int | None:
    """The scores per document :func:`cross_fit` keeps: ``top_k`` if given, else None (all, dense)
    while ``n_docs × n_labels`` is at most :data:`DENSE_OOF_ENTRIES`, else :data:`OOF_TOP_K`."""
    if top_k is not None:
        check_int("top_k", top_k, minimum=1)
        return int(top_k)
    return None if n_docs * n_labels <= DENSE_OOF_ENTRIES else OOF_TOP_K


def fold_assignment(n: int, folds: int, seed: int = 0) -> np.ndarray:
    """The fold (``0 .. folds-1``) of each of ``n`` documents, as :func:`cross_fit` uses them:
    a seeded random permutation dealt round-robin, so fold sizes differ by at most one."""
    return np.random.default_rng(seed).permutation(n) % folds


@dataclass(frozen=True)
class CrossFit:
    """What :func:`cross_fit` returns.

    Attributes:
        scores: float32 ``(n_train, n_labels)`` out-of-fold scores, rows in training order: dense, or
            CSR holding each document's ``top_k`` highest and its labels' scores (:func:`oof_top_k`).
        folds: ``(n_train,)`` the fold of each training document (:func:`fold_assignment`).
        validation_medians: float64 ``(folds, n_labels)``: each fold model's median score of each label
            over the validation documents; None when not asked for or without validation documents.
            Beside the final model's medians they tell how far a label's score scale moved between
            a fold model and the final one (``micromacro-cv`` uses them).
        unstored_max: with sparse ``scores``, ``(folds, n_labels)``: in each fold, each label's highest
            score not kept (−inf where all are); None with dense ones.
    """

    scores: np.ndarray | sp.csr_matrix
    folds: np.ndarray
    validation_medians: np.ndarray | None
    unstored_max: np.ndarray | None = None


def cross_fit(
    build: Callable[[], Any],
    corpus: Any,
    folds: int = 3,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    *,
    validation_medians: bool = True,
    top_k: int | None = None,
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
        top_k: keep only each document's ``top_k`` highest scores and its labels' scores (sparse);
            None: :func:`oof_top_k` decides by size.

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
    keep = oof_top_k(n, n_labels, top_k)
    dense = np.empty((n, n_labels), dtype=np.float32) if keep is None else None
    kept_rows: list[np.ndarray] = []
    kept: list[sp.csr_matrix] = []
    y_train = corpus.labels("train") if keep is not None else None
    medians = np.empty((folds, n_labels)) if validation_medians and len(corpus.validation) else None
    unstored = np.full((folds, n_labels), -np.inf) if keep is not None else None
    for k in range(folds):
        held_out = np.flatnonzero(assignment == k)
        sub = dataclasses.replace(corpus, train=corpus.train.subset(np.flatnonzero(assignment != k)))
        model = build().fit(sub)
        if dense is not None:
            dense[held_out] = model.scores([corpus.train.texts[i] for i in held_out])
        else:
            step = max(1, _SCORE_BLOCK_ENTRIES // max(1, n_labels))
            for a in range(0, held_out.size, step):
                rows = held_out[a : a + step]
                scores = model.scores([corpus.train.texts[i] for i in rows])
                block, block_unstored = keep_top_scores(scores, y_train[rows], keep)
                kept_rows.append(rows)
                kept.append(block)
                np.maximum(unstored[k], block_unstored, out=unstored[k])
        if medians is not None:
            medians[k] = np.median(model.scores(corpus.validation.texts), axis=0)
        progress("cross-validation", k + 1, folds)
    if dense is not None:
        return CrossFit(dense, assignment, medians)
    order = np.argsort(np.concatenate(kept_rows), kind="stable")  # back to training order
    scores_kept = sp.vstack(kept, format="csr")[order]
    return CrossFit(scores_kept, assignment, medians, unstored)


def out_of_fold_scores(build: Callable[[], Any], corpus: Any, **options: Any) -> np.ndarray | sp.csr_matrix:
    """The out-of-fold training scores of :func:`cross_fit` alone (``options``: its ``folds``, ``seed``,
    ``progress`` and ``top_k``): float32 ``(n_train, n_labels)``, dense or sparse as there."""
    return cross_fit(build, corpus, validation_medians=False, **options).scores
