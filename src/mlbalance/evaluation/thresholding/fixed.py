"""``"fixed"`` — one given threshold, no tuning.

By default the decision point of the scores (:data:`~mlbalance.evaluation.thresholds.FIXED_DEFAULTS`:
probability 0.5, decision value 0), where losses such as ZLPR put it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mlbalance._checks import check_float
from mlbalance.evaluation.thresholding.base import OutOfFold, Scored, Thresholder
from mlbalance.evaluation.thresholds import FIXED_DEFAULTS, ScoreKind, Thresholds


@dataclass(frozen=True)
class Fixed(Thresholder):
    """``value`` (None: the decision point of the score kind) for every label."""

    name: ClassVar[str] = "fixed"
    value: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.value is not None:
            check_float("value", self.value)
            # exactly representable in float32: float32 and float64 scores give the same predictions
            object.__setattr__(self, "value", float(np.float32(self.value)))

    def _tune(self, val: Scored, oof: OutOfFold | None, score_kind: ScoreKind) -> Thresholds:
        chosen = FIXED_DEFAULTS[score_kind] if self.value is None else self.value
        return val.with_micro_f1(Thresholds("fixed", value=chosen, score_kind=score_kind))
