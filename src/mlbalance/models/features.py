"""The TF-IDF featuriser shared by the TF-IDF model and the SVM baseline.

A thin wrapper over scikit-learn's :class:`~sklearn.feature_extraction.text.TfidfVectorizer` that keeps
everything sparse (float32 CSR), validates its settings, and saves itself without pickle: the
settings and the vocabulary (terms in column order) as JSON, the idf weights as a ``.npy`` array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from mlbalance._atomic import atomic_save, atomic_write_json
from mlbalance.errors import ConfigError, RunError

FEATURES_JSON = "features.json"
FEATURES_IDF = "features_idf.npy"


@dataclass(frozen=True)
class TfidfConfig:
    """Settings of the TF-IDF featuriser (scikit-learn's names and meanings).

    Attributes:
        ngram_range: word n-gram sizes ``(low, high)``.
        max_features: vocabulary cap (most frequent terms), or None for no cap.
        min_df: minimum document frequency (count if int, fraction if float).
        max_df: maximum document frequency (fraction if float, count if int).
        sublinear_tf: use ``1 + log(tf)``.
        lowercase: lower-case before tokenising.
        stop_words: ``"english"`` or None.
        norm: row normalisation, ``"l2"``, ``"l1"`` or None.
    """

    ngram_range: tuple[int, int] = (1, 2)
    max_features: int | None = 100_000
    min_df: int | float = 2
    max_df: int | float = 1.0
    sublinear_tf: bool = True
    lowercase: bool = True
    stop_words: str | None = None
    norm: str | None = "l2"

    def __post_init__(self) -> None:
        ngram = self.ngram_range
        if (
            not isinstance(ngram, (tuple, list))
            or len(ngram) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in ngram)
            or not 1 <= ngram[0] <= ngram[1]
        ):
            raise ConfigError(f"`ngram_range` must be two integers 1 <= low <= high, got {ngram!r}")
        object.__setattr__(self, "ngram_range", (int(ngram[0]), int(ngram[1])))
        if self.max_features is not None and (
            isinstance(self.max_features, bool)
            or not isinstance(self.max_features, int)
            or self.max_features < 1
        ):
            raise ConfigError(f"`max_features` must be a positive integer or None, got {self.max_features!r}")
        for name in ("min_df", "max_df"):
            value = getattr(self, name)
            ok = (isinstance(value, int) and not isinstance(value, bool) and value >= 1) or (
                isinstance(value, float) and 0.0 < value <= 1.0
            )
            if not ok:
                raise ConfigError(
                    f"`{name}` must be an integer >= 1 (documents) or a float in (0, 1], got {value!r}"
                )
        if self.stop_words not in (None, "english"):
            raise ConfigError(f"`stop_words` must be 'english' or None, got {self.stop_words!r}")
        if self.norm not in (None, "l1", "l2"):
            raise ConfigError(f"`norm` must be one of ('l1', 'l2', None), got {self.norm!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ngram_range"] = list(self.ngram_range)
        return data

    @classmethod
    def of(cls, model: Any) -> TfidfConfig:
        """The settings a model holds as attributes of the same names (``ngram_range``, ``min_df``, ...)."""
        return cls(**{name: getattr(model, name) for name in MODEL_TFIDF_SETTINGS})


#: The TF-IDF settings the TF-IDF-based models take as constructor arguments.
MODEL_TFIDF_SETTINGS: tuple[str, ...] = (
    "ngram_range", "max_features", "min_df", "max_df", "sublinear_tf", "stop_words"
)  # fmt: skip


class TfidfFeatures:
    """Fit a vocabulary and idf on training texts; turn texts into float32 CSR rows."""

    def __init__(self, config: TfidfConfig | None = None) -> None:
        self.config = config or TfidfConfig()
        self._vectorizer: Any = None

    def _make_vectorizer(self, vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        # every TfidfConfig field is a TfidfVectorizer argument of the same name and meaning
        return TfidfVectorizer(**asdict(self.config), vocabulary=vocabulary, dtype=np.float32)

    @property
    def n_features(self) -> int:
        self._check_fitted()
        return len(self._vectorizer.vocabulary_)

    def fit_transform(self, texts: Sequence[str], progress: Any = None) -> sp.csr_matrix:
        """Learn the vocabulary and idf from ``texts``; return their features.

        ``progress`` is the featuriser interface's (featurisers that take long report to it); TF-IDF
        is one quick pass and reports nothing.
        """
        self._vectorizer = self._make_vectorizer()
        try:
            x = self._vectorizer.fit_transform(list(texts))
        except ValueError as exc:  # e.g. empty vocabulary, min_df above the document count
            raise ConfigError(f"TF-IDF cannot be fitted on {len(texts)} training texts: {exc}") from exc
        return _csr32(x)

    def transform(self, texts: Sequence[str], progress: Any = None) -> sp.csr_matrix:
        """Features of ``texts`` (float32 CSR, one row per text)."""
        self._check_fitted()
        texts = list(texts)
        if not texts:  # scikit-learn refuses zero samples
            return sp.csr_matrix((0, len(self._vectorizer.vocabulary_)), dtype=np.float32)
        return _csr32(self._vectorizer.transform(texts))

    def save(self, directory: str | Path) -> None:
        """Write ``features.json`` (settings, vocabulary) and ``features_idf.npy`` into ``directory``."""
        self._check_fitted()
        directory = Path(directory)
        vocab = self._vectorizer.vocabulary_
        terms = [""] * len(vocab)
        for term, col in vocab.items():
            terms[col] = term
        idf = np.asarray(self._vectorizer.idf_, dtype=np.float64)
        atomic_save(directory / FEATURES_IDF, lambda tmp: _save_npy(tmp, idf))
        atomic_write_json(
            directory / FEATURES_JSON, {"config": self.config.to_dict(), "terms": terms}, indent=None
        )

    @classmethod
    def load(cls, directory: str | Path) -> TfidfFeatures:
        """Read what :meth:`save` wrote (JSON and a plain ``.npy``; no pickle)."""
        import json

        directory = Path(directory)
        path = directory / FEATURES_JSON
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            cfg = dict(data["config"])
            cfg["ngram_range"] = tuple(cfg["ngram_range"])
            features = cls(TfidfConfig(**cfg))
            terms = list(data["terms"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunError(f"{path} is missing or malformed (TF-IDF settings and terms): {exc}") from None
        path = directory / FEATURES_IDF
        try:
            idf = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise RunError(f"{path} is missing or damaged (the TF-IDF idf values): {exc}") from None
        if len(terms) != idf.shape[0]:
            raise RunError(
                f"{directory / FEATURES_JSON} has {len(terms)} terms but {FEATURES_IDF} has "
                f"{idf.shape[0]} idf values"
            )
        vectorizer = features._make_vectorizer({t: i for i, t in enumerate(terms)})
        vectorizer.idf_ = idf
        features._vectorizer = vectorizer
        return features

    def _check_fitted(self) -> None:
        if self._vectorizer is None:
            raise RunError("the TF-IDF featuriser is not fitted; call fit_transform first")


def _csr32(x: sp.spmatrix) -> sp.csr_matrix:
    x = sp.csr_matrix(x, dtype=np.float32)
    x.sort_indices()
    return x


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
