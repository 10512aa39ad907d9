"""The SVM baseline trained for all labels at once: a linear layer with ``LinearSVC``'s objective.

One-vs-rest ``LinearSVC`` (:mod:`mlbalance.models.svm`) solves one problem per label; with 18,211
labels that is hours. The labels' problems are independent, so their sum is one problem over the
weight matrix ``W`` of shape ``(n_features, n_labels)`` and the bias ``b``::

    J(W, b) = 1/(2 C N) · (‖W‖² + ‖b‖²) + 1/N · Σ_i Σ_j max(0, 1 − y_ij (x_i · w_j + b_j))²

with ``y_ij = ±1`` — ``LinearSVC``'s primal (squared hinge, L2, ``intercept_scaling=1`` so the bias is
regularised too) divided by ``C·N``, which leaves the minimiser unchanged. It is minimised by
mini-batch Adam over sparse TF-IDF batches (an :class:`~torch.nn.EmbeddingBag` computes ``X_batch @ W``
without densifying ``X``), with the learning rate decayed linearly to zero over ``max_epochs``.
Scores are the decision values ``x · w_j + b_j`` (``score_kind = "decision"``), thresholded like the
liblinear SVM's. Labels without a positive (or without a negative) training document get the same
constant scores as :class:`~mlbalance.models.svm.SvmClassifier`.

Memory: parameters, gradient and Adam's two moments are four ``(n_features, n_labels)`` float32
matrices — cap the vocabulary (``max_features``) at large label counts: 20,000 terms × 18,211 labels
is 1.46 GB per matrix, 5.8 GB in all.

Example:
    >>> from mlbalance.data import load_corpus  # doctest: +SKIP
    >>> svm = LinearSvmClassifier(C=1.0).fit(load_corpus("synthetic:tiny"))  # doctest: +SKIP
    >>> decision_values = svm.scores(["oil prices rise"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import torch

from mlbalance._checks import check_float, check_int, check_texts
from mlbalance.errors import DataError
from mlbalance.models.base import WEIGHTS_FILE, Classifier, ProgressCallback, no_progress, save_weights
from mlbalance.models.features import TfidfConfig, TfidfFeatures
from mlbalance.models.svm import ALL_POSITIVE_SCORE, NO_POSITIVE_SCORE
from mlbalance.models.tfidf import TfidfHead, csr_batch, load_head

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus

logger = logging.getLogger(__name__)

SCORE_BATCH = 2048


def squared_hinge(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``Σ_j max(0, 1 − y_ij z_ij)²`` per document (shape ``(B,)``), with ``y = 2·targets − 1``.

    Args:
        logits: decision values ``z`` of shape ``(B, C)``.
        targets: 0/1 labels of the same shape.
    """
    margin = torch.clamp_min(1.0 - (2.0 * targets - 1.0) * logits, 0.0)
    return (margin * margin).sum(dim=1)


class LinearSvmClassifier(Classifier):
    """TF-IDF + a linear SVM per label (squared hinge, L2), all labels trained at once in PyTorch.

    The drop-in replacement of :class:`~mlbalance.models.svm.SvmClassifier` when there are many
    labels: same features (the same TF-IDF settings and defaults), same objective, same decision-value
    scores; an approximate solution reached in ``max_epochs`` passes instead of liblinear's exact one.

    Args:
        C: inverse regularisation strength (``LinearSVC``'s ``C``).
        lr: Adam's initial learning rate (decayed linearly to 0 over the epochs).
        batch_size: documents per step.
        max_epochs: passes over the training documents.
        ngram_range, max_features, min_df, max_df, sublinear_tf, stop_words: TF-IDF settings (as
            :class:`~mlbalance.models.svm.SvmClassifier`; set ``max_features`` when labels are many).
        seed: seeds the batch order.
    """

    name: ClassVar[str] = "svm-sgd"
    score_kind: ClassVar[Literal["probability", "decision"]] = "decision"
    takes_loss: ClassVar[bool] = False
    fitted_attribute: ClassVar[str] = "head_"

    def __init__(
        self,
        C: float = 1.0,
        lr: float = 0.1,
        batch_size: int = 256,
        max_epochs: int = 20,
        ngram_range: Sequence[int] = (1, 1),
        max_features: int | None = None,
        min_df: int | float = 1,
        max_df: int | float = 1.0,
        sublinear_tf: bool = False,
        stop_words: str | None = None,
        seed: int = 0,
    ) -> None:
        self._store(locals())

    def _validate(self) -> None:
        check_float("C", self.C, low=0.0, low_open=True)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("max_epochs", self.max_epochs, minimum=1)
        check_int("seed", self.seed, minimum=0)
        TfidfConfig.of(self)

    def _fit(self, corpus: Corpus, progress: ProgressCallback, checkpoints: Path | None, resume: bool):
        """Fit the featuriser on ``corpus.train``, then ``max_epochs`` passes of mini-batch Adam.

        The validation split is not used (the decision threshold is tuned on it by the evaluation
        package). ``checkpoint_dir`` and ``resume`` are accepted and ignored: a resumed run refits.

        Raises:
            DataError: an empty training split.
        """
        self.features_ = TfidfFeatures(TfidfConfig.of(self))
        progress("featurise", 0, 1)
        x = self.features_.fit_transform(corpus.train.texts)
        progress("featurise", 1, 1)
        y = corpus.labels("train")
        self.fit_features(x, y, progress=progress)

    def fit_features(
        self, x: sp.csr_matrix, y: sp.csr_matrix, *, progress: ProgressCallback | None = None
    ) -> LinearSvmClassifier:
        """Train the weights on TF-IDF rows ``x`` (CSR) and 0/1 labels ``y`` (CSR), features fitted.

        Labels stay sparse; each batch's labels are made dense only for that batch.
        """
        progress = progress or no_progress
        x = sp.csr_matrix(x, dtype=np.float32)
        y = sp.csr_matrix(y)
        n_docs, n_labels = y.shape
        if x.shape[0] != n_docs:
            raise DataError(f"{x.shape[0]} feature rows but {n_docs} label rows")
        torch.manual_seed(self.seed)
        head = TfidfHead(x.shape[1], n_labels)
        reg = 1.0 / (self.C * n_docs)
        # fused: one kernel per step, no parameter-sized temporaries (the foreach kernels allocate
        # several; at 20,000 terms × 18,211 labels each is 1.46 GB).
        optimizer = torch.optim.Adam(head.parameters(), lr=self.lr, weight_decay=reg, fused=True)
        n_batches = -(-n_docs // self.batch_size)
        total_steps = n_batches * self.max_epochs
        schedule = torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.0, total_iters=total_steps)  # to 0
        self.history_ = []
        for epoch in range(1, self.max_epochs + 1):
            started = time.perf_counter()
            order = np.random.default_rng([self.seed, epoch]).permutation(n_docs)
            total = 0.0
            for b in range(n_batches):
                rows = np.sort(order[b * self.batch_size : (b + 1) * self.batch_size])
                targets = torch.from_numpy(y[rows].toarray().astype(np.float32, copy=False))
                loss = squared_hinge(head(*csr_batch(x, rows)), targets).sum() / len(rows)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total += float(loss.detach()) * len(rows)
                progress(
                    f"epoch {epoch}", b + 1, n_batches, loss=total / min(n_docs, (b + 1) * self.batch_size)
                )
            with torch.no_grad():
                # dot products: no temporary the size of the weights
                penalty = (
                    0.5 * reg * sum(float(torch.dot(p.reshape(-1), p.reshape(-1))) for p in head.parameters())
                )
            row = {
                "epoch": epoch,
                "train_loss": total / n_docs,
                "objective": total / n_docs + penalty,
                "seconds": time.perf_counter() - started,
            }
            self.history_.append(row)
            logger.info("svm-sgd epoch %d: %s", epoch, row)
        positives = np.bincount(y.indices, minlength=n_labels)
        with torch.no_grad():
            for mask, value in (
                (positives == 0, NO_POSITIVE_SCORE),
                (positives == n_docs, ALL_POSITIVE_SCORE),
            ):
                cols = torch.from_numpy(np.flatnonzero(mask))
                if cols.numel():
                    head.embed.weight[:, cols] = 0.0
                    head.bias[cols] = value
        self.constant_labels_ = int((positives == 0).sum() + (positives == n_docs).sum())
        head.eval()
        self.head_ = head
        return self

    # ------------------------------------------------------------------ inference
    def decision_function(self, x: sp.csr_matrix, progress: ProgressCallback = no_progress) -> np.ndarray:
        """Decision values ``x @ W + b`` of TF-IDF rows ``x``, float32, in batches."""
        self._check_fitted()
        n = x.shape[0]
        out = np.empty((n, self.head_.bias.shape[0]), dtype=np.float32)
        total = -(-n // SCORE_BATCH)
        with torch.no_grad():
            for b, start in enumerate(range(0, n, SCORE_BATCH)):
                stop = min(start + SCORE_BATCH, n)
                out[start:stop] = self.head_(*csr_batch(x, slice(start, stop))).numpy()
                progress("score", b + 1, total)
        return out

    def scores(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Decision values, float32, shape ``(len(texts), n_labels)``."""
        self._check_fitted()
        texts = check_texts(texts)
        return self.decision_function(self.features_.transform(texts), progress or no_progress)

    # ------------------------------------------------------------------ persistence
    def _save(self, directory: Path) -> dict[str, Any]:
        """``model.safetensors`` (``embed.weight``, ``bias``) and the featuriser."""
        save_weights(directory / WEIGHTS_FILE, self.head_.state_dict())
        self.features_.save(directory)
        constant = getattr(self, "constant_labels_", 0)
        return {"n_features": self.features_.n_features, "constant_labels": constant}

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        self.features_ = TfidfFeatures.load(directory)
        self.head_ = TfidfHead(int(meta["n_features"]), len(self.label_space_))
        load_head(self.head_, directory / WEIGHTS_FILE, "SVM")
        self.constant_labels_ = int(meta.get("constant_labels", 0))
