"""Data sources as one :class:`~mlbalance.data.corpus.Corpus`, and label statistics."""

from mlbalance.data.corpus import Corpus, LabelSpace, Split
from mlbalance.data.stats import LabelStats

__all__ = ["Corpus", "LabelSpace", "LabelStats", "Split"]
