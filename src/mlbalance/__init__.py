"""mlbalance: multi-label text classification with long-tailed label distributions.

The public API is re-exported here lazily, so ``import mlbalance`` stays light: heavy modules
(torch, transformers, scikit-learn) load when a name that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from mlbalance._version import __version__

_LAZY: dict[str, str] = {
    # errors
    "MlbalanceError": "mlbalance.errors",
    "DataError": "mlbalance.errors",
    "ConfigError": "mlbalance.errors",
    "RunError": "mlbalance.errors",
    # data
    "Corpus": "mlbalance.data.corpus",
    "Split": "mlbalance.data.corpus",
    "LabelSpace": "mlbalance.data.corpus",
    "LabelStats": "mlbalance.data.stats",
    "load_corpus": "mlbalance.data",
    # losses
    "BalancedLoss": "mlbalance.losses",
    "get_loss": "mlbalance.losses",
    # models
    "Classifier": "mlbalance.models.base",
    "TfidfClassifier": "mlbalance.models.tfidf",
    "SvmClassifier": "mlbalance.models.svm",
    "TransformerClassifier": "mlbalance.models.transformer",
    # experiments and runs
    "compare": "mlbalance.comparison",
    "train": "mlbalance.experiment",
    "load_run": "mlbalance.runs",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlbalance' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
