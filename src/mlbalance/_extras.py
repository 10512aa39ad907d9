"""Optional extras: whether one is installed, and the one-line error when one is needed but missing.

The core install trains, evaluates and predicts the TF-IDF and SVM models; the rest comes with extras
named in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib.util

from mlbalance.errors import ConfigError

#: extra → the modules it brings
EXTRAS: dict[str, tuple[str, ...]] = {
    "plots": ("matplotlib",),
    "transformer": ("transformers", "accelerate"),
    "serve": ("fastapi", "uvicorn"),
    "ray": ("ray",),
    "tune": ("optuna",),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that are not installed."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def has_extra(extra: str) -> bool:
    """Whether every module of ``extra`` is installed."""
    return not missing_modules(extra)


def require_extra(extra: str, what: str) -> None:
    """Raise a ConfigError saying how to install ``extra`` when ``what`` needs it and it is missing."""
    missing = missing_modules(extra)
    if missing:
        raise ConfigError(
            f"{what} needs the {extra} extra ({', '.join(missing)} not installed): "
            f"pip install 'mlbalance[{extra}]' (from a clone: pip install '.[{extra}]')"
        )
