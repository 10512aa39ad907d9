"""Typed configuration of a training run and of a comparison.

CLI flags and config files (YAML or TOML) only ever build the frozen dataclasses of this module:
:class:`TrainConfig` for ``mlbalance train`` and :class:`CompareConfig` for ``mlbalance compare``.
A config file is a flat mapping whose keys are the long flag names (``max-epochs`` or ``max_epochs``);
keys that are not run-level settings are model options, passed to the model's constructor
(:func:`mlbalance.config_files.load_config_file` reads one)::

    # reuters.yaml
    dataset: reuters21578
    data: ../shared/data/reuters21578.tar.gz
    model: tfidf
    loss: db
    seed: 1
    max-epochs: 30
    lr: 0.5

A ``model_options`` table may hold further constructor arguments, and ``data_options`` the keyword
arguments of :func:`mlbalance.data.load_corpus`. Flags given on the command line win over the file.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from mlbalance._checks import check_choice, check_float, check_int
from mlbalance.errors import ConfigError
from mlbalance.evaluation.thresholding import Thresholder, default_method, get_thresholder, option_names
from mlbalance.evaluation.thresholds import METHODS, ThresholdMethod
from mlbalance.models.registry import MODELS, build_model, model_parameters, model_takes_loss

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus
    from mlbalance.models.base import Classifier
    from mlbalance.progress import ProgressCallback

#: A model kind: one of :data:`MODEL_KINDS`.
ModelKind = str
SvmBackend = Literal["liblinear", "sgd"]

#: The model kinds of :data:`mlbalance.models.registry.MODELS`.
MODEL_KINDS: tuple[str, ...] = tuple(MODELS)
#: ``"auto"`` (the default: :func:`mlbalance.evaluation.thresholding.default_method` of the corpus) and the
#: thresholding methods (registered in :data:`mlbalance.evaluation.thresholds.METHOD_TABLE`).
THRESHOLD_METHODS: tuple[str, ...] = ("auto", *METHODS)
SVM_BACKENDS: tuple[str, ...] = get_args(SvmBackend)
#: The model kind of each SVM backend: one-vs-rest liblinear, or all labels at once (svm-sgd).
SVM_KINDS: dict[str, str] = {"liblinear": "svm", "sgd": "svm-sgd"}

#: Run-level keys of a config file (everything else is a model option).
#: The keys of a :class:`ThresholdConfig`, as flags/config-file keys.
THRESHOLD_KEYS = frozenset({"threshold", "top_k", "cv_folds", "fbr", "at_least_one", "threshold_value"})
RUN_KEYS = (
    frozenset({"dataset", "data", "data_options", "model", "loss", "seed", "model_options"}) | THRESHOLD_KEYS
)
COMPARE_KEYS = (RUN_KEYS - {"loss"}) | {"losses", "svm", "svm_options", "svm_backend", "seeds"}


def _check_json_ready(name: str, mapping: Mapping[str, Any]) -> None:
    try:
        json.dumps(dict(mapping))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"`{name}` must hold plain values (numbers, strings, lists): {exc}") from exc


#: The options of :class:`ThresholdConfig` that one method takes: field -> (flag name, method).
_METHOD_OPTIONS = {
    "k": ("top_k", "top-k"),
    "fbr": ("fbr", "per-label-cv"),
    "value": ("threshold_value", "fixed"),
}


@dataclass(frozen=True)
class ThresholdConfig:
    """How thresholds are tuned (``mlbalance.evaluation.thresholds`` explains each method).

    Attributes:
        method: ``"auto"`` (default: ``"grid"`` on the paper's and the synthetic corpora,
            ``"global-optimal"`` on any other; :func:`mlbalance.evaluation.thresholding.default_method`),
            ``"grid"`` (the paper's grid search of one global threshold), ``"global-optimal"``
            (the exact best global threshold), ``"per-label"`` (per label, on validation),
            ``"top-k"``, ``"per-label-cv"`` (per label, on out-of-fold training scores: ``cv_folds``
            extra fits of the model) or ``"micromacro-cv"`` (LibMultiLabel's thresholding, on the same
            out-of-fold scores) or ``"fixed"`` (one given threshold, no tuning).
        k: the number of labels per document for ``"top-k"`` (None: chosen on validation).
        cv_folds: folds of the out-of-fold scores for ``"per-label-cv"`` and ``"micromacro-cv"`` (>= 2).
        fbr: ``"per-label-cv"``: labels whose out-of-fold F1 is below this take the fallback threshold
            (None: chosen on validation).
        at_least_one: a document with no label above threshold gets its top-scoring label.
        value: ``"fixed"``: the threshold (None: the scores' decision point, probability 0.5 or
            decision value 0).
    """

    method: ThresholdMethod = "auto"
    k: int | None = None
    cv_folds: int = 3
    fbr: float | None = None
    at_least_one: bool = False
    value: float | None = None

    def __post_init__(self) -> None:
        check_choice("threshold", self.method, THRESHOLD_METHODS)
        taken = () if self.method == "auto" else option_names(self.method)
        for key, (flag, method) in _METHOD_OPTIONS.items():
            if getattr(self, key) is not None and key not in taken:
                raise ConfigError(f"`{flag}` applies only to threshold {method!r}, got {self.method!r}")
        if self.k is not None:
            check_int("top_k", self.k, 1)
        check_int("cv_folds", self.cv_folds, 2)
        if self.fbr is not None:
            check_float("fbr", self.fbr, 0.0, 1.0)
            object.__setattr__(self, "fbr", float(self.fbr))
        if not isinstance(self.at_least_one, bool):
            raise ConfigError(f"`at_least_one` must be true or false, got {self.at_least_one!r}")
        if self.value is not None:
            check_float("threshold_value", self.value)
            object.__setattr__(self, "value", float(self.value))

    def thresholder(self, corpus_name: str | None = None) -> Thresholder:
        """The :class:`~mlbalance.evaluation.thresholding.Thresholder` of these settings, ``"auto"``
        resolved for the corpus named ``corpus_name``
        (:func:`~mlbalance.evaluation.thresholding.default_method`)."""
        method = default_method(corpus_name) if self.method == "auto" else self.method
        settings = {"k": self.k, "fbr": self.fbr, "value": self.value, "at_least_one": self.at_least_one}
        taken = option_names(method)
        return get_thresholder(method, **{key: value for key, value in settings.items() if key in taken})

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> ThresholdConfig:
        """From flag names (``threshold``, ``top_k``, ``cv_folds``, ``fbr``, ``at_least_one``,
        ``threshold_value``); missing keys take their defaults, and so do keys set to None."""
        given = {
            "method": values.get("threshold"),
            "k": values.get("top_k"),
            "cv_folds": values.get("cv_folds"),
            "fbr": values.get("fbr"),
            "at_least_one": values.get("at_least_one"),
            "value": values.get("threshold_value"),
        }
        return cls(**{key: value for key, value in given.items() if value is not None})

    def to_values(self) -> dict[str, Any]:
        """The inverse of :meth:`from_values`."""
        return {
            "threshold": self.method,
            "top_k": self.k,
            "cv_folds": self.cv_folds,
            "fbr": self.fbr,
            "at_least_one": self.at_least_one,
            "threshold_value": self.value,
        }


@dataclass(frozen=True)
class DataConfig:
    """Where the corpus comes from: a source name or a path, the file it needs, loader options."""

    source: str
    data: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source:
            raise ConfigError(f"`dataset` must be a source name or a path, got {self.source!r}")
        if self.data is not None and not isinstance(self.data, str):
            raise ConfigError(f"`data` must be a path, got {self.data!r}")
        if not isinstance(self.options, Mapping):
            raise ConfigError(f"`data_options` must be a mapping, got {self.options!r}")
        _check_json_ready("data_options", self.options)
        object.__setattr__(self, "options", dict(self.options))

    @classmethod
    def of(
        cls,
        corpus_or_source: Corpus | str | Path,
        data: str | Path | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> tuple[Corpus | None, DataConfig]:
        """A loaded corpus (None for a source still to load) and its :class:`DataConfig`, from what
        :func:`mlbalance.train` takes: a :class:`~mlbalance.data.corpus.Corpus`, or a source name or
        path with the ``data`` file and loader ``options`` it needs."""
        from mlbalance.data.corpus import Corpus

        if isinstance(corpus_or_source, Corpus):
            if data is not None or options:
                raise ConfigError("`data` and `data_options` apply to a source name, not to a Corpus")
            return corpus_or_source, cls(corpus_or_source.name)
        return None, cls(str(corpus_or_source), None if data is None else str(data), dict(options or {}))

    def load(self, progress: ProgressCallback | None = None) -> Corpus:
        """The corpus (:func:`mlbalance.data.load_corpus`; ``progress`` told of generating or reading it)."""
        from mlbalance.data import load_corpus

        return load_corpus(self.source, self.data, progress=progress, **self.options)


def _check_seed(seed: Any) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"`seed` must be an integer >= 0, got {seed!r}")


def run_config_of(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A run's stored :class:`TrainConfig` dictionary as this version writes it: the loss of a model
    that takes none (``"db"`` in run directories of earlier versions) is None."""
    out = dict(stored)
    if "model" in out and out["model"] in MODEL_KINDS and not model_takes_loss(out["model"]):
        out["loss"] = None
    return out


def _check_options(options: Any) -> dict[str, Any]:
    if not isinstance(options, Mapping):
        raise ConfigError(f"`model_options` must be a mapping, got {options!r}")
    _check_json_ready("model_options", options)
    for key in options:
        if key in RUN_KEYS or key in {"losses", "svm"}:
            raise ConfigError(f"`{key}` is a run setting, not a model option")
    return dict(options)


@dataclass(frozen=True)
class TrainConfig:
    """One training run: data, model kind, loss, seed, thresholding and the model's own options.

    Attributes:
        data: the corpus.
        model: a model kind of :data:`MODEL_KINDS` (``"tfidf"``, ``"svm"``, ``"transformer"``, ...).
        loss: a loss name (``mlbalance.losses.ALL_LOSS_NAMES``); None for a model that takes no loss
            (the SVMs). Run directories written before this held ``"db"`` for the SVMs;
            :func:`run_config_of` reads them as None.
        seed: seeds the model (passed on where its constructor takes ``seed``).
        threshold: how thresholds are tuned on validation.
        model_options: further constructor arguments of the model (``max_epochs``, ``lr``, ...).
    """

    data: DataConfig
    model: ModelKind = "tfidf"
    loss: str | None = "db"
    seed: int = 0
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)
    model_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("model", self.model, MODEL_KINDS)
        if not model_takes_loss(self.model):
            if self.loss is not None:
                raise ConfigError(
                    f"model {self.model!r} takes no loss; leave out `loss` (--loss), got {self.loss!r}"
                )
        elif not isinstance(self.loss, str) or not self.loss:
            raise ConfigError(f"`loss` must be a loss name, got {self.loss!r}")
        _check_seed(self.seed)
        object.__setattr__(self, "model_options", _check_options(self.model_options))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build from a flat mapping of flag names (as read from a config file plus flags)."""
        values = normalise_keys(values)
        if "dataset" not in values or values["dataset"] is None:
            raise ConfigError("`dataset` is required (a source name or a path), e.g. 'reuters21578'")
        for key in ("losses", "svm"):
            if key in values:
                raise ConfigError(f"`{key}` is a setting of `compare`, not of `train`")
        model = values.get("model", "tfidf")
        check_choice("model", model, MODEL_KINDS)
        default_loss = "db" if model_takes_loss(model) else None
        options = dict(values.get("model_options") or {})
        options.update({k: v for k, v in values.items() if k not in RUN_KEYS})
        return cls(
            data=DataConfig(values["dataset"], values.get("data"), values.get("data_options") or {}),
            model=model,
            loss=values.get("loss") or default_loss,
            seed=values.get("seed", 0),
            threshold=ThresholdConfig.from_values(values),
            model_options=options,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (written to a run directory's ``config.json``)."""
        return dataclasses.asdict(self)

    def model_kwargs(self) -> dict[str, Any]:
        """Constructor arguments of :attr:`model`: its options, plus ``loss`` and ``seed`` for a model
        that takes them. (Models take the loss settings' dataset preset from the corpus unless a
        ``dataset`` option names one.)"""
        params = set(model_parameters(self.model))
        extra = {"loss": self.loss, "seed": self.seed}
        return {**self.model_options, **{key: value for key, value in extra.items() if key in params}}

    def build_model(self) -> Classifier:
        """A new unfitted model of these settings."""
        return build_model(self.model, **self.model_kwargs())


@dataclass(frozen=True)
class CompareConfig:
    """A comparison: one model trained with several losses, optionally beside the SVM baseline.

    Attributes:
        data: the corpus.
        model: the model every loss trains (``"tfidf"`` or ``"transformer"``).
        losses: loss preset names, in report order.
        svm: also train the paper's TF-IDF + linear SVM baseline.
        seed, threshold, model_options: as in :class:`TrainConfig` (model options apply to ``model``
            only).
        seeds: train every cell once per seed (reported as mean and standard deviation); empty:
            once, with ``seed``.
        svm_options: constructor arguments of the SVM (default: its own defaults, the paper's recipe).
        svm_backend: ``"liblinear"`` (one-vs-rest ``LinearSVC``, model ``svm``) or ``"sgd"`` (all labels
            at once, model ``svm-sgd``; for many labels).
    """

    data: DataConfig
    model: ModelKind = "tfidf"
    losses: tuple[str, ...] = ()
    svm: bool = False
    seed: int = 0
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)
    model_options: Mapping[str, Any] = field(default_factory=dict)
    svm_options: Mapping[str, Any] = field(default_factory=dict)
    svm_backend: SvmBackend = "liblinear"
    seeds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_choice("model", self.model, MODEL_KINDS)
        check_choice("svm_backend", self.svm_backend, SVM_BACKENDS)
        if not model_takes_loss(self.model):
            raise ConfigError(
                "`model` of a comparison must be 'tfidf', 'transformer', 'embedding' or 'hybrid'; add the "
                "SVM with --svm"
            )
        if isinstance(self.losses, str) or not all(isinstance(x, str) and x for x in self.losses):
            raise ConfigError(f"`losses` must be a list of loss names, got {self.losses!r}")
        object.__setattr__(self, "losses", tuple(self.losses))
        if len(set(self.losses)) != len(self.losses):
            raise ConfigError(f"`losses` names a loss twice: {list(self.losses)}")
        if not self.losses and not self.svm:
            raise ConfigError("a comparison needs at least one loss or the SVM (`svm`)")
        if not isinstance(self.svm, bool):
            raise ConfigError(f"`svm` must be true or false, got {self.svm!r}")
        _check_seed(self.seed)
        object.__setattr__(self, "seeds", parse_seeds(self.seeds))
        object.__setattr__(self, "model_options", _check_options(self.model_options))
        object.__setattr__(self, "svm_options", _check_options(self.svm_options))

    @property
    def all_seeds(self) -> tuple[int, ...]:
        """The seeds every cell trains with: :attr:`seeds`, or just :attr:`seed`."""
        return self.seeds or (self.seed,)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> CompareConfig:
        """Build from a flat mapping of flag names (as read from a config file plus flags)."""
        values = normalise_keys(values)
        if "dataset" not in values or values["dataset"] is None:
            raise ConfigError("`dataset` is required (a source name or a path), e.g. 'reuters21578'")
        if "loss" in values:
            raise ConfigError("`loss` is a setting of `train`; a comparison takes `losses`")
        options = dict(values.get("model_options") or {})
        options.update({k: v for k, v in values.items() if k not in COMPARE_KEYS})
        return cls(
            data=DataConfig(values["dataset"], values.get("data"), values.get("data_options") or {}),
            model=values.get("model", "tfidf"),
            losses=parse_losses(values.get("losses", "all")),
            svm=values.get("svm", False),
            seed=values.get("seed", 0),
            threshold=ThresholdConfig.from_values(values),
            model_options=options,
            svm_options=values.get("svm_options") or {},
            svm_backend=values.get("svm_backend", "liblinear"),
            seeds=values.get("seeds") or (),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def train_config(self, loss: str | None, seed: int | None = None) -> TrainConfig:
        """The :class:`TrainConfig` of one cell: ``loss`` with :attr:`model`, or the SVM for None,
        with ``seed`` (default :attr:`seed`)."""
        return TrainConfig(
            data=self.data,
            model=SVM_KINDS[self.svm_backend] if loss is None else self.model,  # type: ignore[arg-type]
            loss=loss,
            seed=self.seed if seed is None else seed,
            threshold=self.threshold,
            model_options=self.svm_options if loss is None else self.model_options,
        )


def parse_seeds(value: str | Sequence[int] | None) -> tuple[int, ...]:
    """``"0,1,2"`` or ``[0, 1, 2]`` → ``(0, 1, 2)``; ``""``/None → ``()``.

    Raises:
        ConfigError: a value that is not an integer >= 0, or a seed given twice.
    """
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        try:
            seeds = tuple(int(p) for p in parts)
        except ValueError:
            message = f"`seeds` must be comma-separated integers >= 0, e.g. 0,1,2; got {value!r}"
            raise ConfigError(message) from None
    elif isinstance(value, (list, tuple)):
        seeds = tuple(value)
    else:
        raise ConfigError(f"`seeds` must be comma-separated integers >= 0 or a list, got {value!r}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"`seeds` must be integers >= 0, got {seed!r} in {value!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"`seeds` names a seed twice: {list(seeds)}")
    return seeds


def parse_losses(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"all"`` → the paper's eight presets; ``"a,b"`` → ``("a", "b")``; a list is kept; ``""``/None → none.

    Raises:
        ConfigError: a name that is not a loss preset (when the losses module is available).
    """
    if value is None:
        return ()
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return tuple(_loss_names() or ())
        names = tuple(part.strip() for part in value.split(",") if part.strip())
    elif isinstance(value, Sequence):
        names = tuple(value)
    else:
        raise ConfigError(f"`losses` must be 'all', a comma-separated string or a list, got {value!r}")
    known = _loss_names(every=True)
    if known is not None:
        for name in names:
            if name not in known:
                raise ConfigError(f"unknown loss {name!r}; choose from {known} or 'all' (the paper's eight)")
    return names


def _loss_names(every: bool = False) -> tuple[str, ...] | None:
    """The paper's presets (``every``: and the losses after the paper), None without the losses."""
    try:
        from mlbalance.losses import ALL_LOSS_NAMES, LOSS_NAMES
    except ImportError:  # the losses package is optional to this module's callers
        return None
    return tuple(ALL_LOSS_NAMES if every else LOSS_NAMES)


def normalise_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    """Keys with dashes become underscores (``max-epochs`` → ``max_epochs``)."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"a configuration must be a mapping of settings, got {type(values).__name__}")
    out: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise ConfigError(f"configuration keys must be strings, got {key!r}")
        norm = key.strip().replace("-", "_")
        if norm in out:
            raise ConfigError(f"setting {key!r} is given twice")
        out[norm] = value
    return out
