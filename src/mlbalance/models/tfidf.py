"""TF-IDF features → a PyTorch head (linear or one hidden layer) trained with any balancing loss.

Features stay sparse end to end: scikit-learn's TF-IDF matrix (float32 CSR) is fed batch by batch to
an :class:`~torch.nn.EmbeddingBag` in ``"sum"`` mode with the TF-IDF values as per-sample weights —
exactly ``X_batch @ W`` without densifying ``X``. Labels stay ``scipy.sparse`` until a batch needs them
dense. Training runs through :func:`mlbalance.training.run_training`: early stopping on validation
micro-F1 (at the best global threshold), the best epoch kept, per-epoch checkpoints and resume.

Example:
    >>> from mlbalance.data import load_corpus  # doctest: +SKIP
    >>> model = TfidfClassifier(loss="db").fit(load_corpus("synthetic:tiny"))  # doctest: +SKIP
    >>> probabilities = model.scores(["oil prices rise"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from mlbalance._checks import check_choice, check_float, check_int, check_texts
from mlbalance.errors import ConfigError, RunError
from mlbalance.evaluation.monitor import PAPER_PROBABILITY_GRID, best_global_micro_f1, macro_f1_at
from mlbalance.models.base import WEIGHTS_FILE, Classifier, ProgressCallback, no_progress, save_weights
from mlbalance.models.features import TfidfConfig, TfidfFeatures
from mlbalance.models.lazy_adam import LazyAdam
from mlbalance.models.lazy_sgd import LazySGD
from mlbalance.training import TrainingConfig, run_training

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus
    from mlbalance.data.stats import LabelStats

logger = logging.getLogger(__name__)

SCORE_BATCH = 2048
#: The SGD learning rate when ``lr`` is None: 3000 (measured best on Reuters-21578 for the paper's
#: losses) and 300 for ASL, whose clipped negative term stops pushing a confidently wrong negative
#: down: at 3000 the first steps drive every score to 1 and training never recovers (Reuters test
#: micro-F1 69.0 at 3000, 87.8 at 1000, 87.6 at 300; on ``synthetic:tiny`` 1000 still collapses and
#: 300 does not; docs/losses.md).
SGD_LR: dict[str, float] = {"asl": 300.0}
DEFAULT_SGD_LR = 3000.0
#: The optimisers of the head (``optimizer``).
OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw", "lazy-adam")
#: The AdamW (and lazy Adam) learning rate when ``lr`` is None.
DEFAULT_ADAMW_LR = 1e-3
#: ``hidden="auto"``: a hidden layer of :data:`AUTO_HIDDEN_WIDTH` units when a linear head would hold
#: more than this many weights (features × labels, 200 MB of float32; each weight also has a gradient
#: and a momentum, and a checkpoint holds weights and momentum), else the linear head. Reuters-21578
#: (about 14,000 × 90) stays linear; PubMed-size (100,000 × 18,211: 7.3 GB of weights) gets the layer.
AUTO_HIDDEN_ABOVE = 50_000_000
AUTO_HIDDEN_WIDTH = 256


def head_width(hidden: int | str | None, n_features: int, n_labels: int) -> int | None:
    """The hidden width a head of ``hidden`` (None, ``"auto"`` or a width) has on ``n_features`` ×
    ``n_labels`` (None: linear)."""
    if hidden != "auto":
        return hidden  # type: ignore[return-value]
    return AUTO_HIDDEN_WIDTH if n_features * n_labels > AUTO_HIDDEN_ABOVE else None


class TfidfHead(nn.Module):
    """Logits from sparse TF-IDF rows: ``X @ W + b``, or ``relu(X @ W1 + b1) @ W2 + b2``.

    ``forward`` takes one batch in CSR form: column ``indices``, row ``offsets`` and the TF-IDF
    ``values`` (all 1-D tensors), as produced by :func:`csr_batch`.
    """

    def __init__(
        self,
        n_features: int,
        n_labels: int,
        hidden: int | None = None,
        dropout: float = 0.0,
        sparse: bool = False,
    ) -> None:
        super().__init__()
        width = hidden if hidden else n_labels
        # sparse=True: the first layer's gradient holds only the rows of the batch's terms (LazySGD).
        self.embed = nn.EmbeddingBag(n_features, width, mode="sum", sparse=sparse)
        self.bias = nn.Parameter(torch.zeros(width))
        if hidden:
            # Rows of X have unit L2 norm, so the effective fan-in is ~1: keep the first layer's
            # outputs at unit scale.
            nn.init.normal_(self.embed.weight, std=(2.0 / (1 + hidden)) ** 0.5)
            self.dropout = nn.Dropout(dropout)
            self.out: nn.Linear | None = nn.Linear(hidden, n_labels)
        else:
            nn.init.zeros_(self.embed.weight)
            self.out = None

    @torch.no_grad()
    def start_at_prior(self, class_freq: np.ndarray, n_train: int) -> None:
        """Set the output bias to each label's training prior log-odds (``label_prior``)."""
        from mlbalance.losses.functional import label_prior

        prior = label_prior(class_freq, n_train)
        (self.bias if self.out is None else self.out.bias).copy_(torch.log(prior) - torch.log1p(-prior))

    def forward(self, indices: torch.Tensor, offsets: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        h = self.embed(indices, offsets, per_sample_weights=values) + self.bias
        if self.out is None:
            return h
        return self.out(self.dropout(torch.relu(h)))


def csr_batch(x: sp.csr_matrix, rows: np.ndarray | slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The rows of ``x`` as ``(indices, offsets, values)`` tensors for :class:`TfidfHead`."""
    sub = x[rows]
    indices = torch.from_numpy(sub.indices.astype(np.int64, copy=False))
    offsets = torch.from_numpy(sub.indptr[:-1].astype(np.int64, copy=False))
    values = torch.from_numpy(np.ascontiguousarray(sub.data, dtype=np.float32))
    return indices, offsets, values


class TfidfClassifier(Classifier):
    """TF-IDF features with a linear (or one-hidden-layer) head trained with a balancing loss.

    Args:
        loss: a loss preset of :mod:`mlbalance.losses` (``"bce"``, ``"focal"``, ``"cb"``, ``"r-focal"``,
            ``"ntr-focal"``, ``"db-nofocal"``, ``"cb-ntr"``, ``"db"``).
        dataset: the loss settings' dataset (``"reuters"``, ``"pubmed"``); None takes the corpus preset.
        loss_options: overrides of the loss preset's settings (e.g. ``{"gamma": 1.0}``).
        ngram_range, max_features, min_df, max_df, sublinear_tf, stop_words: TF-IDF settings
            (scikit-learn's meaning; see :class:`~mlbalance.models.features.TfidfConfig`).
        hidden: None for a linear head, the width of one ReLU hidden layer, or ``"auto"`` (the
            default): a layer of 256 units when a linear head would hold more than 50 M weights
            (:data:`AUTO_HIDDEN_ABOVE`; features × labels), else linear. ``hidden_width_`` says which.
        dropout: dropout on the hidden layer (ignored without one).
        bias_init: the output bias at the start: ``"zero"`` (every label at p = 0.5) or ``"prior"``
            (each label's training prior log-odds ``log(p_i / (1 − p_i))``, as the transformer starts).
        optimizer: ``"sgd"`` (with ``momentum``), ``"adamw"`` (decoupled ``weight_decay``) or
            ``"lazy-adam"`` (``torch.optim.SparseAdam`` on the sparse first layer, which then moves only
            the rows of a batch's terms, and AdamW on the rest; :mod:`~mlbalance.models.lazy_adam`;
            ``weight_decay`` applies to the output layer only). ``lr`` None: 1e-3 for both Adams.
        lr: learning rate (None: :data:`SGD_LR` of the loss, else 3000, for SGD; 1e-3 for AdamW). The
            losses average over batch × labels, so the gradient of each label's weights is small and
            SGD needs a large rate: 3000 was best on Reuters-21578 (with unigrams, batch 32;
            docs/models.md), 300 and 1000 under-trained the tail.
        momentum: SGD momentum (Nesterov).
        weight_decay: L2 for SGD, decoupled weight decay for AdamW.
        batch_size: training documents per step.
        max_epochs, patience: the early-stopping rule (stop after ``patience`` epochs without a
            better validation ``monitor``; the best epoch's weights are kept).
        monitor: what early stopping maximises on validation: ``"micro_f1"`` (the paper's rule) or
            ``"macro_f1"`` (at the same best global threshold; it weighs the rare labels as much as
            the frequent ones, so training runs on while the tail still improves).
        val_threshold: how validation micro-F1 is measured for early stopping: ``"optimal"`` (the best
            global threshold) or ``"paper-grid"`` (best of 0.40, 0.41, ..., 0.60, as the paper).
        seed: seeds initialisation and the order of the batches.
        num_threads: PyTorch threads while training and scoring (restored afterwards); None keeps
            the process setting. The head's operations are small, so one thread is fastest: more
            threads mostly add synchronisation, and on a busy machine they slow training down by an
            order of magnitude (benchmarks/tfidf.py, BENCHMARKS.md).
    """

    name: ClassVar[str] = "tfidf"
    score_kind: ClassVar[Literal["probability", "decision"]] = "probability"
    needs_validation: ClassVar[bool] = True
    #: Whether the features include TF-IDF (and the TF-IDF settings are arguments).
    uses_tfidf: ClassVar[bool] = True
    fitted_attribute: ClassVar[str] = "head_"

    def __init__(
        self,
        loss: str = "db",
        dataset: str | None = None,
        loss_options: dict[str, Any] | None = None,
        ngram_range: Sequence[int] = (1, 1),
        max_features: int | None = None,
        min_df: int | float = 2,
        max_df: int | float = 1.0,
        sublinear_tf: bool = True,
        stop_words: str | None = None,
        hidden: int | Literal["auto"] | None = "auto",
        dropout: float = 0.0,
        bias_init: Literal["zero", "prior"] = "zero",
        optimizer: Literal["sgd", "adamw", "lazy-adam"] = "sgd",
        lr: float | None = None,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        batch_size: int = 32,
        max_epochs: int = 40,
        patience: int = 5,
        val_threshold: Literal["optimal", "paper-grid"] = "optimal",
        monitor: Literal["micro_f1", "macro_f1"] = "micro_f1",
        seed: int = 0,
        num_threads: int | None = 1,
    ) -> None:
        self._store(locals())

    # ------------------------------------------------------------------ configuration
    def _validate(self) -> None:
        if not isinstance(self.loss, str) or not self.loss:
            raise ConfigError(f"`loss` must be a loss preset name, got {self.loss!r}")
        if self.dataset not in (None, "reuters", "pubmed"):
            raise ConfigError(f"`dataset` must be one of ('reuters', 'pubmed', None), got {self.dataset!r}")
        if self.loss_options is not None and not isinstance(self.loss_options, dict):
            raise ConfigError(f"`loss_options` must be a mapping or None, got {self.loss_options!r}")
        if self.uses_tfidf:
            TfidfConfig.of(self)  # validates the TF-IDF settings
        if self.hidden is not None and self.hidden != "auto":
            if isinstance(self.hidden, str):
                raise ConfigError(f"`hidden` must be an integer >= 1, 'auto' or None, got {self.hidden!r}")
            check_int("hidden", self.hidden, minimum=1)
        check_float("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        check_choice("bias_init", self.bias_init, ("zero", "prior"))
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.lr is not None:
            check_float("lr", self.lr, low=0.0, low_open=True)
        check_float("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        check_float("weight_decay", self.weight_decay, low=0.0)
        check_int("batch_size", self.batch_size, minimum=1)
        if self.val_threshold not in ("optimal", "paper-grid"):
            raise ConfigError(
                f"`val_threshold` must be one of ('optimal', 'paper-grid'), got {self.val_threshold!r}"
            )
        if self.monitor not in ("micro_f1", "macro_f1"):
            raise ConfigError(f"`monitor` must be one of ('micro_f1', 'macro_f1'), got {self.monitor!r}")
        self._training_config()  # validates max_epochs, patience, seed
        if self.num_threads is not None:
            check_int("num_threads", self.num_threads, minimum=1)

    def _make_features(self) -> TfidfFeatures:
        """A new featuriser (subclasses with other features override this and :meth:`_load_features`)."""
        return TfidfFeatures(TfidfConfig.of(self))

    def _load_features(self, directory: Path) -> TfidfFeatures:
        return TfidfFeatures.load(directory)

    def _training_config(self) -> TrainingConfig:
        return TrainingConfig(
            max_epochs=self.max_epochs,
            patience=self.patience,
            seed=self.seed,
            monitor="val_" + getattr(self, "monitor", "micro_f1"),
        )

    # ------------------------------------------------------------------ training
    def _fit(self, corpus: Corpus, progress: ProgressCallback, checkpoints: Path | None, resume: bool):
        """Fit the featuriser on ``corpus.train``, then train the head with early stopping.

        Raises:
            ConfigError: an unknown loss, or a checkpoint of another configuration on resume.
        """
        loss_fn = make_loss(self.loss, self.stats_, self.dataset or corpus.preset, self.loss_options)

        progress("featurise", 0, 2)
        self.features_ = self._make_features()
        x_train = self.features_.fit_transform(corpus.train.texts, progress)
        progress("featurise", 1, 2)
        x_val = self.features_.transform(corpus.validation.texts, progress)
        progress("featurise", 2, 2)
        y_train = corpus.labels("train")
        y_val = corpus.labels("validation")

        torch.manual_seed(self.seed)
        lazy = self.optimizer == "lazy-adam" or (self.optimizer == "sgd" and self.weight_decay == 0.0)
        self.hidden_width_ = head_width(self.hidden, x_train.shape[1], len(self.label_space_))
        self.head_ = TfidfHead(
            x_train.shape[1], len(self.label_space_), self.hidden_width_, self.dropout, sparse=lazy
        )
        if self.bias_init == "prior":
            self.head_.start_at_prior(self.stats_.class_freq, self.stats_.n_train)
        optimizer = self._make_optimizer(self.head_, lazy)
        n_train = x_train.shape[0]
        n_batches = -(-n_train // self.batch_size)
        grid = PAPER_PROBABILITY_GRID if self.val_threshold == "paper-grid" else None

        def train_epoch(epoch: int) -> dict[str, float]:
            self.head_.train()
            order = np.random.default_rng([self.seed, epoch]).permutation(n_train)
            total = 0.0
            for b in range(n_batches):
                rows = order[b * self.batch_size : (b + 1) * self.batch_size]
                targets = torch.from_numpy(y_train[rows].toarray())
                batch = csr_batch(x_train, rows)
                if isinstance(optimizer, LazySGD):
                    optimizer.prepare(batch[0])
                logits = self.head_(*batch)
                loss = loss_fn(logits, targets)
                if not torch.isfinite(loss):
                    raise RunError(
                        f"training diverged in epoch {epoch}, batch {b + 1}: the loss is {loss.item()}; "
                        f"lower `lr` (now {self.learning_rate})"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(rows)
                progress(
                    f"epoch {epoch}", b + 1, n_batches, loss=total / min(n_train, (b + 1) * self.batch_size)
                )
            if isinstance(optimizer, LazySGD):
                optimizer.finalize()
            return {"train_loss": total / n_train}

        def validate(epoch: int) -> dict[str, float]:
            scores = self._scores_from_features(x_val)
            f1, threshold = best_global_micro_f1(scores, y_val, grid=grid)
            row = {"val_micro_f1": f1, "val_threshold": threshold}
            if self.monitor == "macro_f1":
                row["val_macro_f1"] = macro_f1_at(scores, y_val, threshold)
            return row

        fingerprint = {
            "model": self.name,
            # max_epochs may change on resume (run_training checks it separately).
            "config": {k: v for k, v in self.get_config().items() if k not in ("max_epochs", "num_threads")},
            "n_features": int(x_train.shape[1]),
            "labels": len(self.label_space_),
            "n_train": int(n_train),
        }
        with torch_threads(self.num_threads):
            result = run_training(
                self._training_config(),
                model=self.head_,
                optimizer=optimizer,
                train_epoch=train_epoch,
                validate=validate,
                checkpoint_dir=checkpoints,
                resume=resume,
                progress=progress,
                fingerprint=fingerprint,
            )
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.best_val_micro_f1_ = result.best_score
        self.val_threshold_ = next(
            (row["val_threshold"] for row in result.history if row["epoch"] == result.best_epoch), None
        )
        self.head_.eval()

    @property
    def learning_rate(self) -> float:
        """``lr``, or the default of the optimizer and loss when it is None."""
        if self.lr is not None:
            return float(self.lr)
        if self.optimizer in ("adamw", "lazy-adam"):
            return DEFAULT_ADAMW_LR
        return SGD_LR.get(self.loss, DEFAULT_SGD_LR)

    def _make_optimizer(self, head: TfidfHead, lazy: bool) -> torch.optim.Optimizer | LazySGD | LazyAdam:
        if self.optimizer == "lazy-adam":
            return LazyAdam([head.embed.weight], self._adamw_groups(head, sparse=True), lr=self.learning_rate)
        if lazy:
            dense = [p for n, p in head.named_parameters() if n != "embed.weight"]
            return LazySGD(
                [head.embed.weight], dense, lr=self.learning_rate, momentum=self.momentum, nesterov=True
            )
        if self.optimizer == "sgd":
            return torch.optim.SGD(
                head.parameters(),
                lr=self.learning_rate,
                momentum=self.momentum,
                nesterov=self.momentum > 0,
                weight_decay=self.weight_decay,
            )
        return torch.optim.AdamW(self._adamw_groups(head, sparse=False), lr=self.learning_rate)

    def _adamw_groups(self, head: TfidfHead, sparse: bool) -> list[dict[str, Any]]:
        """AdamW's parameter groups: weights with ``weight_decay``, biases without (``sparse``: without
        the first layer, which lazy Adam's ``SparseAdam`` takes)."""
        named = [(n, p) for n, p in head.named_parameters() if not (sparse and n == "embed.weight")]
        return [
            {"params": [p for n, p in named if not n.endswith("bias")], "weight_decay": self.weight_decay},
            {"params": [p for n, p in named if n.endswith("bias")], "weight_decay": 0.0},
        ]

    # ------------------------------------------------------------------ inference
    def scores(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Sigmoid probabilities, float32, shape ``(len(texts), n_labels)``."""
        self._check_fitted()
        texts = check_texts(texts)
        progress = progress or no_progress
        x = self.features_.transform(texts, progress)
        with torch_threads(self.num_threads):
            return self._scores_from_features(x, progress)

    def _scores_from_features(self, x: sp.csr_matrix, progress: ProgressCallback = no_progress) -> np.ndarray:
        n = x.shape[0]
        out = np.empty((n, len(self.label_space_)), dtype=np.float32)
        was_training = self.head_.training
        self.head_.eval()
        total = -(-n // SCORE_BATCH)
        with torch.no_grad():
            for b, start in enumerate(range(0, n, SCORE_BATCH)):
                stop = min(start + SCORE_BATCH, n)
                out[start:stop] = torch.sigmoid(self.head_(*csr_batch(x, slice(start, stop)))).numpy()
                progress("score", b + 1, total)
        self.head_.train(was_training)
        return out

    # ------------------------------------------------------------------ persistence
    def _save(self, directory: Path) -> dict[str, Any]:
        """``model.safetensors`` (the head) and the featuriser (``features.json``/``.npy``)."""
        save_weights(directory / WEIGHTS_FILE, self.head_.state_dict())
        self.features_.save(directory)
        return {
            "n_features": self.features_.n_features,
            "hidden_width": self.hidden_width_,
            "best_epoch": getattr(self, "best_epoch_", None),
            "best_val_micro_f1": getattr(self, "best_val_micro_f1_", None),
            "val_threshold": getattr(self, "val_threshold_", None),
        }

    def _load(self, directory: Path, meta: dict[str, Any]) -> None:
        self.features_ = self._load_features(directory)
        # run directories of earlier versions have no "hidden_width": their `hidden` is the width
        self.hidden_width_ = meta.get("hidden_width", self.hidden)
        n_features, n_labels = int(meta["n_features"]), len(self.label_space_)
        self.head_ = TfidfHead(n_features, n_labels, self.hidden_width_, self.dropout)
        load_head(self.head_, directory / WEIGHTS_FILE, "TF-IDF head")
        self.best_epoch_ = meta.get("best_epoch")
        self.best_val_micro_f1_ = meta.get("best_val_micro_f1")
        self.val_threshold_ = meta.get("val_threshold")


def load_head(head: nn.Module, path: Path, what: str) -> None:
    """Read ``head``'s weights from the safetensors file ``path`` and put it in eval mode."""
    from safetensors.torch import load_file

    try:
        head.load_state_dict(load_file(str(path)))
    except (OSError, RuntimeError) as exc:
        raise RunError(f"cannot read the {what} weights {path}: {exc}") from exc
    head.eval()


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` PyTorch intra-op threads (None: unchanged); restore them after."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_loss(
    name: str, stats: LabelStats, dataset: str | None, options: dict[str, Any] | None = None
) -> nn.Module:
    """The balancing loss ``name`` for ``stats`` (``mlbalance.losses.get_loss``).

    Raises:
        ConfigError: an unknown loss name or option.
    """
    from mlbalance.losses import get_loss

    try:
        return get_loss(name, stats, dataset=dataset, **(options or {}))
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"loss {name!r}: {exc}") from exc
