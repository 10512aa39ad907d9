"""The :class:`Classifier` protocol every model follows (with the progress callback it is given).

A classifier is fitted on a :class:`~mlbalance.data.corpus.Corpus` (train, validation used for early
stopping), turns texts into a score matrix ``(n_docs, n_labels)`` — probabilities or decision values —
and saves itself into / loads itself from a directory. Thresholds and metrics never care which model
made the scores.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import numpy as np
from sklearn.base import BaseEstimator

from mlbalance.errors import DataError, RunError
from mlbalance.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus, LabelSpace
    from mlbalance.data.stats import LabelStats

ScoreKind = Literal["probability", "decision"]
#: The weights file of every model (safetensors).
WEIGHTS_FILE = "model.safetensors"
C = TypeVar("C", bound="Classifier")


class Classifier(BaseEstimator, ABC):
    """Base class of mlbalance models (scikit-learn style: ``__init__`` stores its arguments and checks them).

    Subclasses declare :attr:`name`, :attr:`score_kind`, :attr:`takes_loss` and
    :attr:`needs_validation` as class data, store their arguments with ``self._store(locals())``, check
    them in :meth:`_validate`, and implement :meth:`_fit`, :meth:`scores`, :meth:`save` and
    :meth:`load`. After ``fit`` they hold ``label_space_`` and ``stats_`` (the training split's
    :class:`LabelStats`), and ``history_`` (one dict per epoch, possibly empty).
    Being a scikit-learn ``BaseEstimator``, every model has ``get_params`` / ``set_params`` and works
    with ``sklearn.base.clone`` (an unfitted copy with the same constructor arguments).
    """

    name: ClassVar[str]
    score_kind: ClassVar[ScoreKind] = "probability"
    #: Whether the model is trained with a loss preset (``loss``); the SVMs are not.
    takes_loss: ClassVar[bool] = True
    #: Whether :meth:`fit` needs validation documents (for early stopping).
    needs_validation: ClassVar[bool] = False

    label_space_: LabelSpace
    stats_: LabelStats
    history_: list[dict[str, Any]]

    def _store(self, arguments: Mapping[str, Any]) -> None:
        """The body of a subclass's ``__init__`` (``self._store(locals())``): keep each constructor
        argument as given (a list as a tuple), then :meth:`_validate` them, so a bad value fails when
        the model is built, long before training."""
        for name in self._get_param_names():
            value = arguments[name]
            setattr(self, name, tuple(value) if isinstance(value, list) else value)
        self._validate()

    def _validate(self) -> None:
        """Check the constructor arguments; raise :class:`~mlbalance.errors.ConfigError` naming one."""

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, JSON-ready (``type(self)(**get_config())`` rebuilds it)."""
        return {name: _json_ready(value) for name, value in self.get_params(deep=False).items()}

    def fit(
        self,
        corpus: Corpus,
        *,
        progress: ProgressCallback | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
    ) -> Classifier:
        """Train on ``corpus.train`` (``corpus.validation`` for early stopping); return ``self``.

        The arguments are checked again (``set_params`` may have changed them), then the model's
        ``_fit`` runs with ``label_space_`` and ``stats_`` set. Models trained in epochs write a
        checkpoint into ``checkpoint_dir`` (when given) and, with ``resume=True``, continue from the
        checkpoint found there.

        Raises:
            ConfigError: a bad constructor argument.
            DataError: no training documents, or no validation documents for a model that needs them.
        """
        self._validate()
        if len(corpus.train) == 0:
            raise DataError(f"corpus {corpus.name!r} has no training documents")
        if self.needs_validation and len(corpus.validation) == 0:
            raise DataError(
                f"corpus {corpus.name!r} has no validation documents; the {self.name} model needs them "
                "for early stopping"
            )
        self.label_space_ = corpus.label_space
        self.stats_ = corpus.stats()
        self.history_ = []
        directory = None if checkpoint_dir is None else Path(checkpoint_dir)
        self._fit(corpus, progress or no_progress, directory, resume)
        return self

    @abstractmethod
    def _fit(self, corpus: Corpus, progress: ProgressCallback, checkpoints: Path | None, resume: bool):
        """:meth:`fit` after its checks: train, setting the fitted attributes (``history_`` too)."""

    @abstractmethod
    def scores(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Scores of shape ``(len(texts), n_labels)``, float32, columns in ``label_space_`` order."""

    #: The version of the model's file format (``model.json``'s ``"format"``).
    format_version: ClassVar[int] = 1
    #: The attribute a fitted model has (``save`` refuses an unfitted one).
    fitted_attribute: ClassVar[str] = "label_space_"

    def save(self, directory: str | Path) -> None:
        """Write the fitted model into ``directory``: its files (:meth:`_save`) and ``model.json``
        (kind, format, constructor arguments, labels, label statistics, history and the entries
        :meth:`_save` returns), each atomically; ``model.json`` last."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        extra = self._save(directory)
        write_model_json(directory, self, self.format_version, history=self.history_, **extra)

    @classmethod
    def load(cls, directory: str | Path) -> Classifier:
        """Read a model written by :meth:`save` (JSON, ``.npy`` and safetensors; no pickle).

        Raises:
            RunError: ``model.json`` is missing, of another kind or format, or a file is damaged.
        """
        directory = Path(directory)
        meta = read_model_json(directory, cls.name, cls.format_version)
        model = model_from_json(cls, meta)
        model.history_ = list(meta.get("history") or [])
        model._load(directory, meta)
        return model

    def _save(self, directory: Path) -> dict[str, Any]:
        """Write the weights and featuriser into ``directory``; return the model's ``model.json`` entries."""
        raise NotImplementedError(f"{type(self).__name__} does not define how it is saved")

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        """Read what :meth:`_save` wrote (``meta``: the parsed ``model.json``) into this unfitted model."""
        raise NotImplementedError(f"{type(self).__name__} does not define how it is loaded")

    def _check_fitted(self) -> None:
        """Raise :class:`RunError` on a model that was not fitted."""
        if not hasattr(self, self.fitted_attribute):
            raise RunError(f"this {type(self).__name__} is not fitted; call fit(corpus) first")


def save_weights(path: Path, tensors: Mapping[str, Any]) -> None:
    """Write ``tensors`` (torch tensors or NumPy arrays, one kind) as one safetensors file, atomically."""
    from mlbalance._atomic import atomic_save

    if all(isinstance(t, np.ndarray) for t in tensors.values()):
        from safetensors.numpy import save_file as save_numpy

        arrays = {name: np.ascontiguousarray(t) for name, t in tensors.items()}
        atomic_save(path, lambda tmp: save_numpy(arrays, tmp))
    else:
        from safetensors.torch import save_file as save_torch

        state = {name: t.detach().contiguous() for name, t in tensors.items()}
        atomic_save(path, lambda tmp: save_torch(state, tmp))


def _json_ready(value: Any) -> Any:
    """A constructor argument as JSON holds it: tuples as lists, paths as strings."""
    if isinstance(value, tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def read_model_json(directory: str | Path, kind: str, format_version: int = 1) -> dict[str, Any]:
    """Read ``directory/model.json`` and check it describes a ``kind`` model of ``format_version``.

    Raises:
        RunError: the file is missing, not JSON, or of another model kind or format.
    """
    path = Path(directory) / "model.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("model") != kind or meta.get("format") != format_version:
        raise RunError(f"{path} does not describe a {kind} model of format {format_version}")
    return meta


def write_model_json(directory: str | Path, model: Classifier, format_version: int = 1, **extra: Any) -> None:
    """Write ``directory/model.json`` atomically: kind, format, config, labels, label stats, ``extra``."""
    from mlbalance._atomic import atomic_write_json

    meta = {
        "format": format_version,
        "model": model.name,
        "config": model.get_config(),
        "labels": list(model.label_space_.names),
        "label_stats": model.stats_.to_dict(),
        **extra,
    }
    atomic_write_json(Path(directory) / "model.json", meta)


def model_from_json(cls: type[C], meta: dict[str, Any]) -> C:
    """An unfitted ``cls`` built from ``meta["config"]``, with its label space and statistics restored."""
    from mlbalance.data.corpus import LabelSpace
    from mlbalance.data.stats import LabelStats

    model = cls(**meta["config"])
    model.label_space_ = LabelSpace(meta["labels"])
    model.stats_ = LabelStats.from_dict(meta["label_stats"])
    return model
