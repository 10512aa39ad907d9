"""Result rows of one configuration trained with several seeds → one row of means and deviations.

Rows that differ only in ``seed`` (same ``model``, ``loss``, ``split`` and ``group``) become one row:
every metric is the mean over the seeds, with its sample standard deviation (``ddof=1``; 0 for one
seed) beside it as ``<metric>_std``; ``seeds`` lists the seeds (``"0,1,2"``). A metric that is None
for some seed (an empty group) is None in the mean. Keys that are not metrics keep their value when
all seeds agree, else None (a per-label threshold method has no single threshold either).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from mlbalance.errors import DataError
from mlbalance.evaluation.metrics import ROW_KEYS

#: The keys averaged over seeds (each gets a ``_std`` column).
METRIC_KEYS: tuple[str, ...] = tuple(
    key for key in ROW_KEYS if key not in ("split", "group", "threshold_method", "n_docs", "n_labels")
)
_IDENTITY = ("model", "loss", "split", "group")


def mean_over_seeds(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, loss, split, group), in order of first appearance (module docstring).

    Raises:
        DataError: a row without ``seed``, or one seed twice in a group of rows.
    """
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        if "seed" not in row:
            raise DataError(f"a result row has no `seed`: {dict(row)!r:.120}")
        groups.setdefault(tuple(row.get(k) for k in _IDENTITY), []).append(row)
    out = []
    for key, members in groups.items():
        seeds = [int(m["seed"]) for m in members]
        if len(set(seeds)) != len(seeds):
            raise DataError(f"seed given twice for {dict(zip(_IDENTITY, key))}: {seeds}")
        merged: dict[str, Any] = {}
        for name in members[0]:
            if name == "seed":
                continue
            values = [m.get(name) for m in members]
            if name in METRIC_KEYS:
                merged[name], merged[f"{name}_std"] = _mean_std(values)
            else:
                merged[name] = values[0] if all(v == values[0] for v in values) else None
        merged["seeds"] = ",".join(str(s) for s in seeds)
        out.append(merged)
    return out


def _mean_std(values: list[Any]) -> tuple[float | None, float | None]:
    if any(v is None for v in values):
        return None, None
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0
