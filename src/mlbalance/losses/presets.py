"""The eight presets of the paper, their per-dataset settings, and :func:`get_loss`.

=============  =====  ==========  =====  ===========================================
name           focal  weight      NTR    paper name
=============  =====  ==========  =====  ===========================================
``bce``        no     —           no     BCE
``focal``      γ      —           no     FL
``cb``         γ      ``r_CB``    no     CB (class-balanced focal)
``r-focal``    γ      ``r̂_DB``    no     R-FL (rebalanced focal)
``ntr-focal``  γ      —           yes    NTR-FL (negative-tolerant regularisation)
``db-nofocal`` no     ``r̂_DB``    yes    DB-0FL
``cb-ntr``     γ      ``r_CB``    yes    CB-NTR
``db``         γ      ``r̂_DB``    yes    DB (distribution-balanced)
=============  =====  ==========  =====  ===========================================
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Literal

import numpy as np
from torch import Tensor

from mlbalance.losses.balanced import COMPATS, BalancedLoss, LossConfig
from mlbalance.losses.long_tail import LONG_TAIL_LOSS_NAMES, LongTailLoss, long_tail_loss

#: The paper's eight presets (what ``--losses all`` trains).
LOSS_NAMES: tuple[str, ...] = ("bce", "focal", "cb", "r-focal", "ntr-focal", "db-nofocal", "cb-ntr", "db")
#: Every name :func:`get_loss` builds: the paper's presets, then the losses that came after it
#: (:mod:`mlbalance.losses.long_tail`).
ALL_LOSS_NAMES: tuple[str, ...] = LOSS_NAMES + LONG_TAIL_LOSS_NAMES
DATASETS: tuple[str, ...] = ("reuters", "pubmed")

#: The structure of each preset: focal or not, which weight, NTR or not.
PRESETS: dict[str, dict[str, Any]] = {
    "bce": {"focal": False, "reweight": "none", "ntr": False},
    "focal": {"focal": True, "reweight": "none", "ntr": False},
    "cb": {"focal": True, "reweight": "cb", "ntr": False},
    "r-focal": {"focal": True, "reweight": "rebalance", "ntr": False},
    "ntr-focal": {"focal": True, "reweight": "none", "ntr": True},
    "db-nofocal": {"focal": False, "reweight": "rebalance", "ntr": True},
    "cb-ntr": {"focal": True, "reweight": "cb", "ntr": True},
    "db": {"focal": True, "reweight": "rebalance", "ntr": True},
}

#: The paper's settings (Appendix A and the released scripts), per dataset.
DATASET_SETTINGS: dict[str, dict[str, float]] = {
    "reuters": {
        "gamma": 2.0,
        "cb_beta": 0.9,
        "rebalance_alpha": 0.1,
        "rebalance_beta": 10.0,
        "mu": 0.9,
        "ntr_kappa": 0.05,
        "ntr_lambda": 2.0,
    },
    "pubmed": {
        "gamma": 2.0,
        "cb_beta": 0.9,
        "rebalance_alpha": 0.1,
        "rebalance_beta": 10.0,
        "mu": 0.05,
        "ntr_kappa": 0.05,
        "ntr_lambda": 2.0,
    },
}

#: ``loss_weight`` constants of the authors' released scripts (used with ``compat="released-scripts"``).
RELEASED_LOSS_WEIGHTS: dict[str, dict[str, float]] = {
    "reuters": {
        "bce": 1.0, "focal": 1.0, "cb": 10.0, "r-focal": 1.0,
        "ntr-focal": 1.0, "db-nofocal": 0.5, "cb-ntr": 10.0, "db": 1.0,
    },
    "pubmed": {
        "bce": 1.0, "focal": 1.0, "cb": 5.0, "r-focal": 1.0,
        "ntr-focal": 0.5, "db-nofocal": 0.5, "cb-ntr": 10.0, "db": 1.0,
    },
}  # fmt: skip

#: The focal factor α_t of the released scripts (on positives and negatives of focal presets).
RELEASED_ALPHA_T = 0.5

_STRUCTURAL = ("name", "reweight", "ntr", "compat")
OVERRIDABLE: tuple[str, ...] = tuple(f.name for f in fields(LossConfig) if f.name not in _STRUCTURAL)


def loss_config(
    name: str,
    dataset: Literal["reuters", "pubmed"] | None = None,
    compat: Literal["equations", "released-scripts"] = "equations",
    **overrides: Any,
) -> LossConfig:
    """The :class:`LossConfig` of a preset (``μ`` must be a number here; see :func:`get_loss`).

    Raises:
        ValueError: unknown ``name``, ``dataset``, ``compat`` or override key; invalid values.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown loss {name!r}; valid names are {', '.join(ALL_LOSS_NAMES)}")
    key = "reuters" if dataset is None else dataset
    if key not in DATASET_SETTINGS:
        raise ValueError(f"`dataset` must be one of {DATASETS} or None, got {dataset!r}")
    if compat not in COMPATS:
        raise ValueError(f"`compat` must be one of {COMPATS}, got {compat!r}")
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise ValueError(
            f"unknown loss option(s) {', '.join(map(repr, unknown))}; "
            f"valid options are {', '.join(OVERRIDABLE)}"
        )
    preset = PRESETS[name]
    settings: dict[str, Any] = dict(DATASET_SETTINGS[key])
    if not preset["focal"]:
        settings["gamma"] = 0.0
    if compat == "released-scripts":
        settings["loss_weight"] = RELEASED_LOSS_WEIGHTS[key][name]
        if preset["focal"]:
            settings["alpha_t"] = RELEASED_ALPHA_T
        # the scripts drop 1/λ on the negatives when there is no reweighting (NTR-FL)
        settings["ntr_neg_scale"] = preset["reweight"] != "none"
    settings.update(overrides)
    return LossConfig(name=name, reweight=preset["reweight"], ntr=preset["ntr"], compat=compat, **settings)


def get_loss(
    name: str,
    class_freq: Any,
    n_train: int | None = None,
    dataset: Literal["reuters", "pubmed"] | None = None,
    *,
    compat: Literal["equations", "released-scripts"] = "equations",
    **overrides: Any,
) -> BalancedLoss | LongTailLoss:
    """Build one of the eight presets with the paper's settings, or a loss that came after the paper.

    Args:
        name: one of :data:`ALL_LOSS_NAMES`: a paper preset (:data:`LOSS_NAMES`, a
            :class:`BalancedLoss`) or ``"asl"``, ``"zlpr"``, ``"logit-adjusted"`` (a
            :class:`~mlbalance.losses.long_tail.LongTailLoss`, whose options are its own:
            ``gamma_pos``, ``gamma_neg``, ``clip``; none; ``tau`` — plus ``reduction``; ``dataset``
            and ``compat`` do not apply to them).
        class_freq: ``n_i`` per label (array, list or tensor), or a
            :class:`mlbalance.data.stats.LabelStats` (then ``n_train`` defaults to ``stats.n_train``
            and ``mu="auto"`` uses ``stats.mu``).
        n_train: ``N``, the number of training documents (needed by the NTR presets).
        dataset: ``"reuters"``, ``"pubmed"`` or None (Reuters settings).
        compat: ``"equations"`` (default: PAPER.md's equations, ``loss_weight`` 1) or
            ``"released-scripts"`` (the scripts' ``loss_weight`` constants, ``α_t = 0.5`` on focal
            terms, and no ``1/λ`` on NTR-FL's negatives).
        **overrides: any :class:`LossConfig` field except the structural ones (``gamma``,
            ``cb_beta``, ``rebalance_alpha``, ``rebalance_beta``, ``mu``, ``ntr_kappa``,
            ``ntr_lambda``, ``ntr_neg_scale``, ``alpha_t``, ``loss_weight``, ``reduction``,
            ``validate_args``). ``mu="auto"`` derives μ from the training labels (mean and median
            of ``r_DB`` over positive pairs, averaged) — it needs a ``LabelStats``; with plain
            frequencies compute it with :func:`mlbalance.losses.functional.rebalance_mu`.

    Returns:
        a :class:`BalancedLoss` (or a :class:`~mlbalance.losses.long_tail.LongTailLoss`).

    Raises:
        ValueError: unknown name (the message lists the valid ones), unknown option, invalid value.

    Example:
        >>> loss = get_loss("db", [120, 30, 4], n_train=150, dataset="reuters")
    """
    freq, stats_n, stats_mu = _unpack_class_freq(class_freq)
    if n_train is None:
        n_train = stats_n
    if name in LONG_TAIL_LOSS_NAMES:
        return long_tail_loss(name, freq, n_train, **overrides)
    if isinstance(overrides.get("mu"), str):
        if overrides["mu"] != "auto":
            raise ValueError(f"`mu` must be a number or 'auto', got {overrides['mu']!r}")
        if stats_mu is None:
            raise ValueError(
                "`mu='auto'` needs label statistics with r_db_mean and r_db_median (a LabelStats built "
                "from the training labels); with plain frequencies pass mu=rebalance_mu(labels)"
            )
        overrides["mu"] = stats_mu
    config = loss_config(name, dataset, compat, **overrides)
    return BalancedLoss(freq, n_train, config)


def _unpack_class_freq(class_freq: Any) -> tuple[Any, int | None, float | None]:
    """``(frequencies, n_train or None, mu or None)`` from an array or a LabelStats-like object."""
    if hasattr(class_freq, "class_freq") and hasattr(class_freq, "n_train"):
        mu = getattr(class_freq, "mu", None)
        return np.asarray(class_freq.class_freq), int(class_freq.n_train), mu
    if isinstance(class_freq, (Tensor, np.ndarray, list, tuple)):
        return class_freq, None, None
    raise ValueError(
        f"`class_freq` must be an array of label counts or a LabelStats, got {type(class_freq).__name__}"
    )
