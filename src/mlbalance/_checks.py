"""Argument checks shared by the configuration of models, training and the CLI.

Each raises :class:`~mlbalance.errors.ConfigError` naming the argument, what is allowed and the value
received, e.g. "`lr` must be a number > 0.0, got -1.0".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlbalance.errors import ConfigError


def check_int(name: str, value: Any, minimum: int) -> None:
    """``value`` must be an integer (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"`{name}` must be an integer >= {minimum}, got {value!r}")


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """``value`` must be a finite real number within the given bounds (closed unless ``*_open``)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high}")
        expected = "a number " + " and ".join(bounds) if bounds else "a finite number"
        raise ConfigError(f"`{name}` must be {expected}, got {value!r}")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"`{name}` must be one of {tuple(choices)}, got {value!r}")


def check_texts(texts: Any, name: str = "texts") -> list[str]:
    """``texts`` as a list of strings, or a TypeError naming the argument (and the first bad item).

    A single string is refused rather than read as one document per character.
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"`{name}` must be a list of strings, got a single {type(texts).__name__}; "
            f"pass [{name}] for one text"
        )
    try:
        items = list(texts)
    except TypeError:
        raise TypeError(f"`{name}` must be a list of strings, got {type(texts).__name__}") from None
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"`{name}[{i}]` must be a string, got {type(item).__name__}: {item!r:.60}")
    return items
