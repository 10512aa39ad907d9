"""The paper's baseline: TF-IDF features and one linear SVM per label (one-vs-rest ``LinearSVC``).

Scores are decision values ``x · w_i + b_i`` (``score_kind = "decision"``); the evaluation package
turns them into labels with one global threshold tuned on validation — the paper's "hyper-plane
shifting" over −1.0, −0.9, …, 1.0.

Labels without a positive training document cannot be fitted; they get the constant score
:data:`NO_POSITIVE_SCORE` (−1000, below any threshold a search would pick, so they are never
predicted). Labels carried by every training document get :data:`ALL_POSITIVE_SCORE` (+1000). The
weights are saved as safetensors (``coef``, ``intercept``) with the featuriser as JSON/``.npy``: loading
runs no code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from mlbalance._checks import check_float, check_int, check_texts
from mlbalance.errors import ConfigError, RunError
from mlbalance.models.base import WEIGHTS_FILE, Classifier, ProgressCallback, no_progress, save_weights
from mlbalance.models.features import TfidfConfig, TfidfFeatures

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus

logger = logging.getLogger(__name__)

NO_POSITIVE_SCORE = -1000.0
ALL_POSITIVE_SCORE = 1000.0
SCORE_BATCH = 4096


class SvmClassifier(Classifier):
    """TF-IDF + one-vs-rest linear SVM (scikit-learn's ``LinearSVC``, liblinear).

    Args:
        C: inverse regularisation strength of each SVM.
        svm_loss: ``"squared_hinge"`` (``LinearSVC``'s default) or ``"hinge"``.
        class_weight: None, or ``"balanced"`` to weight each label's positives by its rarity.
        max_iter, tol: liblinear's stopping rule.
        ngram_range, max_features, min_df, max_df, sublinear_tf, stop_words: TF-IDF settings (the
            paper's recipe is scikit-learn's default TF-IDF: unigrams, raw term frequency).
        seed: liblinear's ``random_state``.
    """

    name: ClassVar[str] = "svm"
    score_kind: ClassVar[Literal["probability", "decision"]] = "decision"
    takes_loss: ClassVar[bool] = False
    fitted_attribute: ClassVar[str] = "coef_"

    def __init__(
        self,
        C: float = 1.0,
        svm_loss: Literal["squared_hinge", "hinge"] = "squared_hinge",
        class_weight: Literal["balanced"] | None = None,
        max_iter: int = 1000,
        tol: float = 1e-4,
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
        if self.svm_loss not in ("squared_hinge", "hinge"):
            raise ConfigError(f"`svm_loss` must be one of ('squared_hinge', 'hinge'), got {self.svm_loss!r}")
        if self.class_weight not in (None, "balanced"):
            raise ConfigError(f"`class_weight` must be 'balanced' or None, got {self.class_weight!r}")
        check_int("max_iter", self.max_iter, minimum=1)
        check_float("tol", self.tol, low=0.0, low_open=True)
        check_int("seed", self.seed, minimum=0)
        TfidfConfig.of(self)

    def _fit(self, corpus: Corpus, progress: ProgressCallback, checkpoints: Path | None, resume: bool):
        """Fit the featuriser and one ``LinearSVC`` per label on ``corpus.train``.

        The SVM has no epochs: ``checkpoint_dir`` and ``resume`` are accepted and ignored (a resumed
        run refits, which takes seconds). The validation split is not used here; the hyper-plane
        shift is tuned on it by the evaluation package.
        """
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.svm import LinearSVC

        self.features_ = self._make_features()
        progress("featurise", 0, 1)
        x = self.features_.fit_transform(corpus.train.texts, progress)
        progress("featurise", 1, 1)
        y = sp.csc_matrix(corpus.labels("train"))
        n_docs, n_labels = y.shape
        coef = np.zeros((n_labels, x.shape[1]), dtype=np.float32)
        intercept = np.zeros(n_labels, dtype=np.float32)
        positives = np.diff(y.indptr)
        not_converged = 0
        for j in range(n_labels):
            if positives[j] == 0:
                intercept[j] = NO_POSITIVE_SCORE
            elif positives[j] == n_docs:
                intercept[j] = ALL_POSITIVE_SCORE
            else:
                target = np.zeros(n_docs, dtype=np.int8)
                target[y.indices[y.indptr[j] : y.indptr[j + 1]]] = 1
                svm = LinearSVC(
                    C=self.C,
                    loss=self.svm_loss,
                    class_weight=self.class_weight,
                    max_iter=self.max_iter,
                    tol=self.tol,
                    random_state=self.seed,
                    dual="auto",
                )
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", ConvergenceWarning)
                    svm.fit(x, target)
                not_converged += any(issubclass(w.category, ConvergenceWarning) for w in caught)
                coef[j] = svm.coef_[0]
                intercept[j] = svm.intercept_[0]
            progress("fit labels", j + 1, n_labels)
        if not_converged:
            logger.warning("liblinear did not converge for %d of %d labels", not_converged, n_labels)
        self.constant_labels_ = int((positives == 0).sum() + (positives == n_docs).sum())
        if self.constant_labels_:
            logger.info(
                "%d labels without a positive (or negative) training document get a constant score",
                self.constant_labels_,
            )
        self.coef_ = coef
        self.intercept_ = intercept

    def decision_function(self, x: sp.csr_matrix) -> np.ndarray:
        """Decision values of TF-IDF rows ``x``: ``x @ coef_.T + intercept_`` (float32)."""
        out = np.empty((x.shape[0], self.coef_.shape[0]), dtype=np.float32)
        coef_t = np.ascontiguousarray(self.coef_.T)
        for start in range(0, x.shape[0], SCORE_BATCH):
            stop = min(start + SCORE_BATCH, x.shape[0])
            out[start:stop] = x[start:stop] @ coef_t + self.intercept_
        return out

    def scores(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Decision values, float32, shape ``(len(texts), n_labels)``."""
        self._check_fitted()
        texts = check_texts(texts)
        progress = progress or no_progress
        x = self.features_.transform(texts, progress)
        scores = self.decision_function(x)
        progress("score", 1, 1)
        return scores

    def _make_features(self) -> TfidfFeatures:
        """A new featuriser (the hybrid SVM overrides this and :meth:`_load_features`)."""
        return TfidfFeatures(TfidfConfig.of(self))

    def _load_features(self, directory: Path) -> TfidfFeatures:
        return TfidfFeatures.load(directory)

    def _save(self, directory: Path) -> dict[str, Any]:
        """``model.safetensors`` (``coef``, ``intercept``) and the featuriser."""
        save_weights(directory / WEIGHTS_FILE, {"coef": self.coef_, "intercept": self.intercept_})
        self.features_.save(directory)
        return {"constant_labels": getattr(self, "constant_labels_", 0)}

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        from safetensors.numpy import load_file

        self.features_ = self._load_features(directory)
        weights = directory / WEIGHTS_FILE
        try:
            tensors = load_file(str(weights))
            self.coef_, self.intercept_ = tensors["coef"], tensors["intercept"]
        except (OSError, KeyError, ValueError) as exc:
            raise RunError(f"cannot read the SVM weights {weights}: {exc}") from exc
        expected = (len(self.label_space_), self.features_.n_features)
        if self.coef_.shape != expected or self.intercept_.shape != expected[:1]:
            raise RunError(
                f"{weights} holds coef {self.coef_.shape} and intercept "
                f"{self.intercept_.shape}; expected {expected} and {expected[:1]}"
            )
        self.constant_labels_ = int(meta.get("constant_labels", 0))
