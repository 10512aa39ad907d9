"""Typed configuration of a training run and of a comparison, and config-file loading.

CLI flags and config files (YAML or TOML) only ever build the frozen dataclasses of this module:
:class:`TrainConfig` for ``mlbalance train`` and :class:`CompareConfig` for ``mlbalance compare``.
A config file is a flat mapping whose keys are the long flag names (``max-epochs`` or ``max_epochs``);
keys that are not run-level settings are model options, passed to the model's constructor::

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
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from mlbalance._checks import check_choice
from mlbalance.errors import ConfigError
from mlbalance.evaluation.thresholds import METHODS, ThresholdMethod
from mlbalance.models.registry import MODELS, model_takes_loss

#: A model kind: one of :data:`MODEL_KINDS`.
ModelKind = str
SvmBackend = Literal["liblinear", "sgd"]

#: The model kinds of :data:`mlbalance.models.registry.MODELS`.
MODEL_KINDS: tuple[str, ...] = tuple(MODELS)
#: ``"auto"`` (the default: :func:`mlbalance.experiment.default_threshold_method` of the corpus) and the
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


@dataclass(frozen=True)
class ThresholdConfig:
    """How thresholds are tuned (``mlbalance.evaluation.thresholds`` explains each method).

    Attributes:
        method: ``"auto"`` (default: ``"grid"`` on the paper's and the synthetic corpora,
            ``"global-optimal"`` on any other; :func:`mlbalance.experiment.default_threshold_method`),
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
        if self.k is not None and (not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1):
            raise ConfigError(f"`top_k` must be an integer >= 1, got {self.k!r}")
        if self.k is not None and self.method != "top-k":
            raise ConfigError(f"`top_k` applies only to threshold 'top-k', got threshold {self.method!r}")
        if isinstance(self.cv_folds, bool) or not isinstance(self.cv_folds, int) or self.cv_folds < 2:
            raise ConfigError(f"`cv_folds` must be an integer >= 2, got {self.cv_folds!r}")
        if self.fbr is not None:
            if isinstance(self.fbr, bool) or not isinstance(self.fbr, (int, float)) or not 0 <= self.fbr <= 1:
                raise ConfigError(f"`fbr` must be a number in [0, 1], got {self.fbr!r}")
            if self.method != "per-label-cv":
                raise ConfigError(f"`fbr` applies only to threshold 'per-label-cv', got {self.method!r}")
            object.__setattr__(self, "fbr", float(self.fbr))
        if not isinstance(self.at_least_one, bool):
            raise ConfigError(f"`at_least_one` must be true or false, got {self.at_least_one!r}")
        if self.value is not None:
            if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
                raise ConfigError(f"`threshold_value` must be a number, got {self.value!r}")
            if not math.isfinite(self.value):
                raise ConfigError(f"`threshold_value` must be finite, got {self.value!r}")
            if self.method != "fixed":
                raise ConfigError(f"`threshold_value` applies only to threshold 'fixed', got {self.method!r}")
            object.__setattr__(self, "value", float(self.value))

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


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) config file as a flat mapping.

    Keys are normalised (dashes → underscores). Relative paths in the file are resolved against the
    working directory, as on the command line.

    Raises:
        ConfigError: the file is missing, unreadable, malformed or not a mapping.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".yaml", ".yml", ".toml"}:
        raise ConfigError(
            f"config file {path}: expected a .yaml, .yml or .toml file, got {suffix or 'no suffix'!r}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ModuleNotFoundError:
                raise ConfigError("TOML config files need Python >= 3.11 or the 'tomli' package") from None
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of settings, got {type(data).__name__}")
    try:
        return normalise_keys(data)
    except ConfigError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
