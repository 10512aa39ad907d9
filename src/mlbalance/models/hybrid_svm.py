"""The paper's SVM baseline over hybrid features: one-vs-rest ``LinearSVC`` on TF-IDF ⊕ a frozen
encoder's vector (model kind ``svm-hybrid``).

The featuriser is the hybrid model's (:class:`~mlbalance.models.hybrid.EncodedFeatures`, vectors
cached on disk); the head is the SVM's. Featurisers (TF-IDF, encoder, both) and heads (a torch head
with any loss, the SVM) are two independent choices; this is the SVM with the hybrid features.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mlbalance.models.hybrid import FrozenEncoderFeatures, init_defaults, with_encoder_signature
from mlbalance.models.svm import SvmClassifier


class HybridSvmClassifier(FrozenEncoderFeatures, SvmClassifier):
    """One ``LinearSVC`` per label on TF-IDF ⊕ ``embedding_weight`` × the encoder's vector.

    Takes the SVM's arguments (``C``, ``min_df``, ...) and the encoder's (as the ``hybrid`` model:
    ``encoder``, ``max_length``, ``pooling``, ``encode_batch_size``, ``precision``, ``cache_dir``,
    ``embedding_weight``).
    """

    name: ClassVar[str] = "svm-hybrid"
    uses_tfidf: ClassVar[bool] = True

    def __init__(self, C: float = 1.0, **options: Any) -> None:
        self._store_with_encoder({"C": C}, options, init_defaults(SvmClassifier.__init__))

    def _validate(self) -> None:
        super()._validate()
        self._validate_encoder()


with_encoder_signature(HybridSvmClassifier, SvmClassifier.__init__, "C")
