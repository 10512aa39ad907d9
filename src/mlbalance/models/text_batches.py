"""Tokenised texts, length-bucketed batches and dynamic padding for transformer models.

Texts are tokenised once into a :class:`TokenizedTexts` (one flat ``int32`` array of token ids plus
offsets), kept in memory and optionally on disk, keyed by the tokenizer, ``max_length`` and the texts.
Batches are index lists; :func:`collate` pads each batch only to its own longest document.

Batching for training (:func:`train_steps`) is a pure function of ``(seed, epoch)`` — which makes an
interrupted run resumable exactly — and is laid out for any number of processes:

* the training set is shuffled, cut into pools of ``batch_size * bucket_batches`` documents, each pool
  is sorted by length and cut into batches (length bucketing: documents of similar length share a
  batch, so little padding is computed), and the batches are shuffled again;
* a batch of ``batch_size`` documents is one forward pass *summed over all processes*: process ``r``
  of ``w`` takes ``batch[r::w]``. ``grad_accum`` consecutive batches form one optimiser step.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlbalance._atomic import atomic_open

log = logging.getLogger(__name__)

#: Batches per length-sorting pool: large enough to group similar lengths, small enough to stay random.
BUCKET_BATCHES = 50


@dataclass(frozen=True)
class TokenizedTexts:
    """Token ids of many texts, stored flat.

    Attributes:
        ids: all token ids, concatenated (int32).
        offsets: ``offsets[i]:offsets[i+1]`` are the ids of text ``i`` (int64, length ``n + 1``).
        pad_id: the tokenizer's padding id.
    """

    ids: np.ndarray
    offsets: np.ndarray
    pad_id: int

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Number of tokens of each text (special tokens included)."""
        return np.diff(self.offsets)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash that changes when the tokenizer's vocabulary, rules or special tokens change."""
    h = hashlib.sha256()
    h.update(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        h.update(backend.to_str().encode())
    else:  # slow tokenizers: the vocabulary and the special tokens
        h.update(repr(sorted(tokenizer.get_vocab().items())).encode())
    h.update(repr(sorted(map(str, tokenizer.all_special_tokens))).encode())
    h.update(repr(getattr(tokenizer, "do_lower_case", None)).encode())
    return h.hexdigest()


def cache_key(tokenizer: Any, max_length: int, texts: Sequence[str]) -> str:
    """Key of a tokenisation: tokenizer fingerprint + ``max_length`` + the texts, hashed."""
    h = hashlib.sha256()
    h.update(tokenizer_fingerprint(tokenizer).encode())
    h.update(f"|max_length={max_length}|n={len(texts)}|".encode())
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


class TokenCache:
    """Tokenises texts once: an in-memory dictionary, backed by ``.npz`` files in ``directory``."""

    def __init__(self, directory: str | Path | None = None, max_items: int = 8) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.max_items = max_items
        self._memory: dict[str, TokenizedTexts] = {}

    def tokenize(
        self, tokenizer: Any, texts: Sequence[str], max_length: int, chunk_size: int = 2048
    ) -> TokenizedTexts:
        """Token ids of ``texts`` (truncated to ``max_length``, special tokens added)."""
        texts = list(texts)
        key = cache_key(tokenizer, max_length, texts)
        hit = self._memory.get(key)
        if hit is not None:
            return hit
        path = self.directory / f"tokens-{key[:32]}.npz" if self.directory is not None else None
        if path is not None and path.exists():
            try:
                with np.load(path) as data:
                    hit = TokenizedTexts(data["ids"], data["offsets"], int(data["pad_id"]))
                log.debug("token cache hit %s", path)
            except (OSError, KeyError, ValueError) as exc:  # a damaged file is rebuilt
                log.warning("ignoring unreadable token cache %s: %s", path, exc)
        if hit is None:
            hit = tokenize_texts(tokenizer, texts, max_length, chunk_size)
            if path is not None:
                with atomic_open(path, "wb") as handle:
                    np.savez(handle, ids=hit.ids, offsets=hit.offsets, pad_id=np.int64(hit.pad_id))
        if len(self._memory) >= self.max_items:
            self._memory.pop(next(iter(self._memory)))
        self._memory[key] = hit
        return hit


def tokenize_texts(
    tokenizer: Any, texts: Sequence[str], max_length: int, chunk_size: int = 2048
) -> TokenizedTexts:
    """Tokenise ``texts`` with truncation, without padding, into a :class:`TokenizedTexts`."""
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = 0
    pieces: list[np.ndarray] = []
    lengths = np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), chunk_size):
        chunk = list(texts[start : start + chunk_size])
        encoded = tokenizer(
            chunk,
            truncation=True,
            max_length=max_length,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        for j, ids in enumerate(encoded):
            lengths[start + j] = len(ids)
        pieces.extend(np.asarray(ids, dtype=np.int32) for ids in encoded)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    return TokenizedTexts(ids=ids, offsets=offsets, pad_id=int(pad_id))


def collate(
    tokens: TokenizedTexts, indices: Sequence[int] | np.ndarray, pad_to: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``input_ids`` and ``attention_mask`` (int64, ``(len(indices), width)``) of a batch.

    ``width`` is the batch's longest document (dynamic padding), or ``pad_to`` when given.
    """
    idx = np.asarray(indices, dtype=np.int64)
    starts = tokens.offsets[idx]
    lengths = tokens.offsets[idx + 1] - starts
    width = int(pad_to if pad_to is not None else (lengths.max() if len(idx) else 0))
    cols = np.arange(width)
    mask = cols[None, :] < lengths[:, None]
    input_ids = np.full((len(idx), width), tokens.pad_id, dtype=np.int64)
    input_ids[mask] = tokens.ids[(starts[:, None] + cols[None, :])[mask]]
    return input_ids, mask.astype(np.int64)


def train_steps(
    lengths: np.ndarray,
    batch_size: int,
    grad_accum: int,
    seed: int,
    epoch: int,
    *,
    bucketing: bool = True,
    world_size: int = 1,
    bucket_batches: int = BUCKET_BATCHES,
) -> list[list[np.ndarray]]:
    """The optimiser steps of one epoch: each a list of ``grad_accum`` (or fewer) global batches.

    Every document of the training set appears exactly once. A final batch smaller than
    ``world_size`` is merged into the one before it, so every process gets at least one document of
    every batch. Deterministic in ``(seed, epoch)``.
    """
    n = len(lengths)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    batches: list[np.ndarray] = []
    if bucketing:
        pool = batch_size * bucket_batches
        for start in range(0, n, pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
        # a pool's last batch may be short; shuffling the batches spreads them out
        batches = [batches[i] for i in rng.permutation(len(batches))]
    else:
        batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    small = [b for b in batches if len(b) < world_size]
    if small:
        batches = [b for b in batches if len(b) >= world_size]
        if not batches:
            raise ValueError(f"the training set ({n} documents) is smaller than the number of processes")
        batches[-1] = np.concatenate([batches[-1], *small])
    return [batches[i : i + grad_accum] for i in range(0, len(batches), grad_accum)]


def eval_batches(
    lengths: np.ndarray, batch_size: int, rank: int = 0, world_size: int = 1
) -> list[np.ndarray]:
    """Batches of this process's share of documents for scoring, longest first.

    Documents are sorted by length and dealt round-robin to processes (``order[rank::world_size]``),
    so every document is scored by exactly one process.
    """
    order = np.argsort(-np.asarray(lengths), kind="stable")[rank::world_size]
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
