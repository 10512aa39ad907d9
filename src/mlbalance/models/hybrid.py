"""Encoder knowledge at CPU cost: a frozen sentence encoder's vectors, alone or beside TF-IDF.

* ``embedding`` — :class:`EmbeddingClassifier`: the vectors of a frozen encoder
  (:class:`~mlbalance.models.sentence_encoder.SentenceEncoder`, the offline MiniLM by default, its own
  pooling) under the TF-IDF model's head, trained with any loss.
* ``hybrid`` — :class:`HybridClassifier`: TF-IDF features ⊕ ``embedding_weight`` (0.5) × the vector,
  in one head. The TF-IDF part stays sparse; the vector adds ``dimension`` columns per document.

Both are the TF-IDF model with another featuriser (:class:`EncodedFeatures`), so training, early
stopping, thresholds, checkpoints and saving are the same code. Vectors are cached on disk
(:class:`~mlbalance.models.sentence_encoder.VectorCache`): a comparison over many losses and the
cross-fits of ``per-label-cv``/``micromacro-cv`` encode each text once; ``predict`` works without a
cache (it encodes what it needs).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from mlbalance._atomic import atomic_write_json
from mlbalance._checks import check_float
from mlbalance.errors import ConfigError, RunError
from mlbalance.models.base import ProgressCallback
from mlbalance.models.features import MODEL_TFIDF_SETTINGS, TfidfConfig, TfidfFeatures
from mlbalance.models.sentence_encoder import SentenceEncoder
from mlbalance.models.tfidf import TfidfClassifier

ENCODER_JSON = "encoder.json"


class EncodedFeatures:
    """Featuriser: ``[TF-IDF ⊕] weight × encoder vector``, CSR float32 (TfidfFeatures' interface)."""

    def __init__(self, encoder: SentenceEncoder, tfidf: TfidfConfig | None, weight: float = 1.0) -> None:
        self.encoder = encoder
        self.tfidf = TfidfFeatures(tfidf) if tfidf is not None else None
        self.weight = float(weight)

    @property
    def n_features(self) -> int:
        return (self.tfidf.n_features if self.tfidf is not None else 0) + self.encoder.dimension

    def _join(
        self, sparse: sp.csr_matrix | None, texts: Sequence[str], progress: ProgressCallback | None
    ) -> sp.csr_matrix:
        vectors = self.encoder.encode(texts, progress) * np.float32(self.weight)
        dense = sp.csr_matrix(vectors.astype(np.float32, copy=False))
        if sparse is None:
            return dense
        return sp.hstack([sparse, dense], format="csr", dtype=np.float32)

    def fit_transform(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> sp.csr_matrix:
        """Fit the TF-IDF part on ``texts`` and return the features; the encoding reports to
        ``progress`` as stage ``"encode"``."""
        sparse = self.tfidf.fit_transform(texts) if self.tfidf is not None else None
        return self._join(sparse, texts, progress)

    def transform(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> sp.csr_matrix:
        sparse = self.tfidf.transform(texts) if self.tfidf is not None else None
        return self._join(sparse, texts, progress)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        if self.tfidf is not None:
            self.tfidf.save(directory)
        atomic_write_json(
            directory / ENCODER_JSON, {"encoder": self.encoder.settings(), "weight": self.weight}
        )

    @classmethod
    def load(cls, directory: str | Path, with_tfidf: bool) -> EncodedFeatures:
        directory = Path(directory)
        try:
            meta = json.loads((directory / ENCODER_JSON).read_text())
            settings = dict(meta["encoder"])
            settings.pop("pooling_source", None)
            encoder = SentenceEncoder(**settings)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunError(f"cannot read the encoder settings {directory / ENCODER_JSON}: {exc}") from exc
        out = cls(encoder, None, meta.get("weight", 1.0))
        if with_tfidf:
            out.tfidf = TfidfFeatures.load(directory)
        return out


#: The frozen encoder's arguments and their defaults, shared by every model on encoder vectors.
ENCODER_DEFAULTS: dict[str, Any] = {
    "encoder": "minilm",
    "max_length": 128,
    "pooling": "auto",
    "encode_batch_size": 64,
    "precision": "auto",
    "cache_dir": None,
    "embedding_weight": 0.5,
}


class FrozenEncoderFeatures:
    """What a model on frozen-encoder vectors adds to its head: the encoder's arguments
    (:data:`ENCODER_DEFAULTS`), their checks, and the featuriser ``[TF-IDF ⊕] weight × vector``
    (TF-IDF when the class's ``uses_tfidf`` is true)."""

    uses_tfidf: ClassVar[bool]
    encoder: str
    max_length: int
    pooling: str
    encode_batch_size: int
    precision: str
    cache_dir: str | bool | None
    embedding_weight: float

    def _store_with_encoder(self, first: dict[str, Any], options: dict[str, Any], head: dict[str, Any]):
        """``__init__``'s body: the head's defaults ``head``, the encoder's, then the given arguments."""
        unknown = sorted(set(options) - set(head) - set(ENCODER_DEFAULTS))
        if unknown:
            raise TypeError(f"{type(self).__name__} got an unexpected keyword argument {unknown[0]!r}")
        self._store({**head, **ENCODER_DEFAULTS, **options, **first})  # type: ignore[attr-defined]

    def _validate_encoder(self) -> None:
        check_float("embedding_weight", self.embedding_weight, low=0.0, low_open=True)
        self._sentence_encoder()  # validates the encoder settings

    def _sentence_encoder(self) -> SentenceEncoder:
        return SentenceEncoder(
            self.encoder, self.max_length, self.pooling, None, self.encode_batch_size, self.precision,
            self.cache_dir,
        )  # fmt: skip

    def _make_features(self) -> EncodedFeatures:
        tfidf = TfidfConfig.of(self) if self.uses_tfidf else None
        return EncodedFeatures(self._sentence_encoder(), tfidf, self.embedding_weight)

    def _load_features(self, directory: Path) -> EncodedFeatures:
        features = EncodedFeatures.load(directory, with_tfidf=self.uses_tfidf)
        features.encoder.cache_dir = self.cache_dir
        return features

    def pooling_used(self) -> dict[str, Any]:
        """The encoder's resolved settings (pooling, normalisation and where they came from)."""
        if not hasattr(self, "features_"):
            raise ConfigError("the model is not fitted")
        return self.features_.encoder.settings()


def with_encoder_signature(cls: type, head: Any, first: str, leave_out: tuple[str, ...] = ()) -> None:
    """Give ``cls.__init__`` its full signature — ``first``, the encoder's arguments, then the other
    arguments of ``head`` (the head model's ``__init__``) but ``leave_out`` — so the model registry and
    scikit-learn's ``get_params`` see every argument."""
    params = inspect.signature(head).parameters
    keyword = inspect.Parameter.KEYWORD_ONLY
    signature = inspect.Signature(
        [
            params["self"],
            params[first].replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD),
            *(inspect.Parameter(name, keyword, default=value) for name, value in ENCODER_DEFAULTS.items()),
            *(
                p.replace(kind=keyword)
                for name, p in params.items()
                if name not in ("self", first, *leave_out, *ENCODER_DEFAULTS)
            ),
        ]
    )
    cls.__init__.__signature__ = signature  # type: ignore[attr-defined]


def init_defaults(init: Any) -> dict[str, Any]:
    """The default of each argument of the ``__init__`` ``init``."""
    return {name: p.default for name, p in inspect.signature(init).parameters.items() if name != "self"}


class EmbeddingClassifier(FrozenEncoderFeatures, TfidfClassifier):
    """A frozen encoder's vectors under a linear (or one-hidden-layer) head with a balancing loss.

    Args:
        loss: the loss preset, as for the TF-IDF model.
        encoder: ``"minilm"`` (default, offline), a Hugging Face checkpoint folder or hub id.
        max_length: tokens per text for the encoder.
        pooling: ``"auto"`` (the checkpoint's own: mean + L2 norm for sentence-transformers
            checkpoints), ``"mean"``, ``"cls"``, ``"max"``, ``"pooler"``.
        encode_batch_size: texts per encoder forward pass.
        precision: the encoder's ``"auto"`` (bfloat16 where the CPU computes it natively, else
            float32; the resolved one is saved with the model), ``"float32"`` or ``"bfloat16"``.
        cache_dir: the vector cache (None: ``~/.cache/mlbalance/vectors``; ``False``: none).
        embedding_weight: the factor on the vector (its L2 norm with the default pooling; TF-IDF rows
            have norm 1). 0.5 measured best of 0.5, 1 and 2 on Reuters with CB-NTR and micromacro-cv
            (BENCHMARKS.md, *Frozen encoders*).
        **options: the TF-IDF model's head and training options (``lr``, ``hidden``, ``max_epochs``,
            ...; its TF-IDF settings are unused here).
    """

    name: ClassVar[str] = "embedding"
    uses_tfidf: ClassVar[bool] = False

    def __init__(self, loss: str = "db", **options: Any) -> None:
        if not self.uses_tfidf:
            given = sorted(set(options) & set(MODEL_TFIDF_SETTINGS))
            if given:
                raise ConfigError(
                    f"the embedding model has no TF-IDF features: {', '.join(given)} do not apply "
                    "(the hybrid model takes them)"
                )
        self._store_with_encoder({"loss": loss}, options, init_defaults(TfidfClassifier.__init__))

    def _validate(self) -> None:
        super()._validate()
        self._validate_encoder()


class HybridClassifier(EmbeddingClassifier):
    """TF-IDF features ⊕ ``embedding_weight`` × a frozen encoder's vector, in one head.

    Takes the TF-IDF model's options (``min_df``, ``ngram_range``, ...) and the encoder's
    (:class:`EmbeddingClassifier`).
    """

    name: ClassVar[str] = "hybrid"
    uses_tfidf: ClassVar[bool] = True

    def __init__(self, loss: str = "db", **options: Any) -> None:  # its own, for its own signature
        super().__init__(loss, **options)


with_encoder_signature(EmbeddingClassifier, TfidfClassifier.__init__, "loss", MODEL_TFIDF_SETTINGS)
with_encoder_signature(HybridClassifier, TfidfClassifier.__init__, "loss")
