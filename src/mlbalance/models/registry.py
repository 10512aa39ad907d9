"""Model kinds by name: build, look up and load classifiers without importing them all.

Imports are lazy: asking for ``"svm"`` never imports PyTorch's transformer stack.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from mlbalance.errors import ConfigError, MlbalanceError, RunError
from mlbalance.models.base import Classifier

#: kind -> (module, class name, the optional extra it needs or None: the core install). Adding a
#: model is its module plus one line here.
MODELS: dict[str, tuple[str, str, str | None]] = {
    "tfidf": ("mlbalance.models.tfidf", "TfidfClassifier", None),
    "svm": ("mlbalance.models.svm", "SvmClassifier", None),
    "svm-sgd": ("mlbalance.models.linear_svm", "LinearSvmClassifier", None),
    "transformer": ("mlbalance.models.transformer", "TransformerClassifier", "transformer"),
    "embedding": ("mlbalance.models.hybrid", "EmbeddingClassifier", "transformer"),
    "hybrid": ("mlbalance.models.hybrid", "HybridClassifier", "transformer"),
    "svm-hybrid": ("mlbalance.models.hybrid_svm", "HybridSvmClassifier", "transformer"),
}
#: kind → the optional extra it needs (kinds not named need only the core install)
MODEL_EXTRAS: dict[str, str] = {kind: extra for kind, (_, _, extra) in MODELS.items() if extra}


def model_class(kind: str) -> type[Classifier]:
    """The classifier class of ``kind`` (one of :data:`MODELS`).

    Raises:
        ConfigError: an unknown kind, or a kind whose extra or module is not installed.
    """
    if kind not in MODELS:
        raise ConfigError(f"`model` must be one of {tuple(MODELS)}, got {kind!r}")
    if kind in MODEL_EXTRAS:
        from mlbalance._extras import require_extra

        require_extra(MODEL_EXTRAS[kind], f"model {kind!r}")
    module_name, class_name, _ = MODELS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"model {kind!r} is not available: {exc}") from exc
    return getattr(module, class_name)


def model_takes_loss(kind: str) -> bool:
    """Whether model ``kind`` is trained with a loss preset (its class's ``takes_loss``); answered
    without the model's optional extra (its module imports only the core at the top)."""
    if kind not in MODELS:
        raise ConfigError(f"`model` must be one of {tuple(MODELS)}, got {kind!r}")
    module_name, class_name, _ = MODELS[kind]
    return bool(getattr(importlib.import_module(module_name), class_name).takes_loss)


def model_parameters(kind: str) -> tuple[str, ...]:
    """The names of the constructor arguments of model ``kind``."""
    signature = inspect.signature(model_class(kind).__init__)
    return tuple(
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )


def build_model(kind: str, **config: Any) -> Classifier:
    """A new, unfitted classifier of ``kind`` with constructor arguments ``config``.

    Raises:
        ConfigError: an unknown kind or an argument the model does not take (the message lists those
            it takes), or a value the model rejects.
    """
    cls = model_class(kind)
    accepted = model_parameters(kind)
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        raise ConfigError(
            f"model {kind!r} takes no option {', '.join(map(repr, unknown))}; its options are: "
            f"{', '.join(accepted)}"
        )
    try:
        return cls(**config)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model {kind!r}: {exc}") from exc


KIND_FILE = "mlbalance_model.json"


def save_model(model: Classifier, directory: str | Path) -> None:
    """``model.save(directory)``, plus a small file naming its kind, so :func:`load_model` needs no kind."""
    from mlbalance._atomic import atomic_write_json

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory)
    atomic_write_json(directory / KIND_FILE, {"kind": model.name})


def load_model(directory: str | Path, kind: str | None = None) -> Classifier:
    """Load a classifier saved by :func:`save_model` (or by its own ``save``, naming ``kind``).

    Raises:
        RunError: the folder is missing, its kind unknown, or the model cannot be read from it.
    """
    import json

    directory = Path(directory)
    if not directory.is_dir():
        raise RunError(f"no saved model at {directory}")
    if kind is None:
        try:
            kind = json.loads((directory / KIND_FILE).read_text(encoding="utf-8"))["kind"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunError(f"{directory / KIND_FILE} is missing or malformed: {exc}") from None
    try:
        cls = model_class(str(kind))
    except ConfigError as exc:
        raise RunError(f"cannot load the model in {directory}: {exc}") from None
    from safetensors import SafetensorError

    try:
        return cls.load(directory)
    except MlbalanceError:
        raise
    except SafetensorError as exc:  # a damaged or truncated weights file
        weights = sorted(p.name for p in directory.glob("*.safetensors"))
        where = directory / weights[0] if len(weights) == 1 else f"a .safetensors file in {directory}"
        raise RunError(f"cannot load the {kind} model: {where} is damaged or truncated ({exc})") from None
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise RunError(f"cannot load the {kind} model from {directory}: {exc}") from None
