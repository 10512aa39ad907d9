"""Synthetic long-tailed multi-label corpora with co-occurring labels and learnable texts.

The generator, seeded and vectorised:

1. **Label frequencies** follow a Zipf-like curve ``w_i ∝ (i + 1 + shift)^(-zipf) · exp(-decay · i / C)``
   with a floor, so the head is steep and the tail long but not empty.
2. **Labels per document**: ``1 + Poisson(cardinality - 1)`` (capped). The first label is drawn from
   ``w``; each further label comes, with probability ``group_prob``, from the first label's
   **co-occurrence group** (labels are dealt into groups at random, so groups mix head and tail
   labels), otherwise from ``w`` again. Repeats within a document collapse.
3. **Texts** are pseudo-words: every label owns ``signal_words`` words of its own and every group a few
   shared words; a document draws ``words_per_label`` words from each of its labels' vocabularies and a
   group word, then background words from a Zipf-distributed common vocabulary (``noise_words``).
   With ``confusion`` probability a signal word of a random absent label is added, so the task is
   learnable but not trivially separable.

Presets (:data:`PRESETS`): ``tiny`` and ``small`` for tests, ``reuters-like`` (10,788 documents, 90
labels, ≈1.24 labels each) and ``pubmed-like`` (224,897 documents, 18,211 labels, ≈12.3 labels each).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from mlbalance._atomic import atomic_open
from mlbalance.data.corpus import Corpus, LabelSpace, Split
from mlbalance.data.stats import DATASET_GROUPING
from mlbalance.errors import ConfigError, DataError

log = logging.getLogger(__name__)

_CONSONANTS = np.array(list("bdfgklmnprstvz"))
_VOWELS = np.array(list("aeiou"))


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of :func:`generate`; see the module docstring for their roles."""

    n_docs: int
    n_labels: int
    cardinality: float = 1.24
    max_labels: int = 15
    zipf: float = 1.2
    shift: float = 0.0
    decay: float = 0.0
    floor: float = 0.0
    group_size: int = 4
    group_prob: float = 0.6
    validation: int | float = 0.15
    test: int | float = 0.2
    signal_words: int = 6
    group_words: int = 3
    words_per_label: int = 3
    noise_words: int = 20
    common_vocab: int = 2000
    confusion: float = 0.1
    preset: str = "reuters"
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.n_docs >= 3, "n_docs", ">= 3"),
            (self.n_labels >= 1, "n_labels", ">= 1"),
            (self.cardinality >= 1.0, "cardinality", ">= 1"),
            (self.max_labels >= 1, "max_labels", ">= 1"),
            (self.zipf >= 0, "zipf", ">= 0"),
            (self.shift >= 0, "shift", ">= 0"),
            (self.decay >= 0, "decay", ">= 0"),
            (self.floor >= 0, "floor", ">= 0"),
            (self.group_size >= 1, "group_size", ">= 1"),
            (0 <= self.group_prob <= 1, "group_prob", "in [0, 1]"),
            (0 <= self.confusion <= 1, "confusion", "in [0, 1]"),
            (self.signal_words >= 1, "signal_words", ">= 1"),
            (self.words_per_label >= 1, "words_per_label", ">= 1"),
            (self.noise_words >= 0, "noise_words", ">= 0"),
            (self.common_vocab >= 1, "common_vocab", ">= 1"),
            (self.preset in DATASET_GROUPING, "preset", f"one of {tuple(DATASET_GROUPING)}"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise ConfigError(f"`{name}` must be {expected}, got {getattr(self, name)!r}")


#: Named configurations: small ones for tests, and the two paper-sized ones.
PRESETS: dict[str, SyntheticConfig] = {
    "tiny": SyntheticConfig(n_docs=600, n_labels=20, cardinality=1.5, zipf=1.1, floor=0.004, group_size=4),
    "small": SyntheticConfig(n_docs=3000, n_labels=50, cardinality=1.4, zipf=1.2, floor=0.001, group_size=5),
    "reuters-like": SyntheticConfig(
        n_docs=10_788,
        n_labels=90,
        cardinality=1.24,
        zipf=1.0,
        decay=2.5,
        floor=0.0001,
        group_size=4,
        group_prob=0.7,
        validation=1000,
        test=3019,
    ),
    "pubmed-like": SyntheticConfig(
        n_docs=224_897,
        n_labels=18_211,
        cardinality=12.3,
        max_labels=40,
        zipf=1.4,
        shift=30.0,
        group_size=12,
        group_prob=0.5,
        validation=5000,
        test=5000,
        signal_words=4,
        group_words=2,
        words_per_label=1,
        noise_words=40,
        common_vocab=20_000,
        confusion=0.2,
        preset="pubmed",
    ),
}


def pseudo_words(n: int, offset: int = 0) -> np.ndarray:
    """``n`` distinct pronounceable pseudo-words (letters only), the ``offset``-th onwards."""
    idx = np.arange(offset, offset + n, dtype=np.int64)
    n_syll = len(_CONSONANTS) * len(_VOWELS)
    # A bijection of [0, 70**3) (the multiplier is coprime with 70**3) spreads consecutive indices over
    # all syllables, so small vocabularies do not share endings.
    low = (idx % n_syll**3) * 104_729 % n_syll**3
    parts = []
    rest = low + (idx // n_syll**3) * n_syll**3
    for _ in range(4):
        digit = rest % n_syll
        parts.append(np.char.add(_CONSONANTS[digit // len(_VOWELS)], _VOWELS[digit % len(_VOWELS)]))
        rest //= n_syll
    # Three syllables cover 70**3 = 343,000 words; a fourth is added only past that, keeping words distinct.
    words = np.char.add(np.char.add(parts[0], parts[1]), parts[2])
    extra = idx >= n_syll**3
    if extra.any():
        words = words.astype(object)
        words[extra] = np.char.add(words[extra].astype(str), parts[3][extra])
    return words.astype(str)


def _split_size(value: int | float, n: int, name: str) -> int:
    size = round(value * n) if isinstance(value, float) else int(value)
    if size < 1 or size >= n:
        raise ConfigError(f"`{name}` must leave between 1 and {n - 1} documents, got {value!r}")
    return size


def _draw_labels(cfg: SyntheticConfig, rng: np.random.Generator) -> tuple[sp.csr_matrix, np.ndarray]:
    """The ``(n_docs, n_labels)`` label matrix and the group of each label."""
    n, c = cfg.n_docs, cfg.n_labels
    rank = np.arange(c, dtype=np.float64)
    weights = (rank + 1.0 + cfg.shift) ** (-cfg.zipf) * np.exp(-cfg.decay * rank / c)
    weights /= weights.sum()
    weights = np.maximum(weights, cfg.floor)
    weights /= weights.sum()
    cdf = np.cumsum(weights)
    cdf[-1] = 1.0
    # Groups: a random deal of labels into groups of group_size.
    n_groups = max(1, int(np.ceil(c / cfg.group_size)))
    group_of = rng.permutation(np.arange(c) % n_groups)
    # Within-group sampling via one monotone array: group g occupies (g, g + 1].
    order = np.lexsort((np.arange(c), group_of))
    g_sorted = group_of[order]
    w_sorted = weights[order]
    g_tot = np.bincount(g_sorted, weights=w_sorted, minlength=n_groups)
    within = np.cumsum(w_sorted) - np.concatenate([[0.0], np.cumsum(g_tot)])[g_sorted]
    g_cdf = g_sorted + within / g_tot[g_sorted]
    g_end = np.searchsorted(g_sorted, np.arange(n_groups), side="right") - 1
    g_cdf[g_end] = np.arange(n_groups) + 1.0

    k = 1 + rng.poisson(cfg.cardinality - 1.0, size=n)
    k = np.minimum(k, min(cfg.max_labels, c))
    first = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), c - 1)
    rows = np.repeat(np.arange(n), k - 1)
    n_extra = rows.shape[0]
    from_group = rng.random(n_extra) < cfg.group_prob
    group_rows = group_of[first[rows]]

    def draw(where: np.ndarray, in_group: np.ndarray) -> np.ndarray:
        out = np.minimum(np.searchsorted(cdf, rng.random(where.shape[0]), side="right"), c - 1)
        grp = group_rows[where[in_group]]
        pos = np.searchsorted(g_cdf, grp + rng.random(grp.shape[0]), side="right")
        out[in_group] = order[np.minimum(pos, g_end[grp])]
        return out

    all_rows = np.concatenate([np.arange(n), rows])
    all_cols = np.concatenate([first, draw(np.arange(n_extra), from_group)])
    # A label drawn twice for a document is drawn again (from its group for a few rounds, then from
    # the global curve), so the mean number of labels stays near ``cardinality``.
    for round_ in range(12):
        keys = all_rows.astype(np.int64) * c + all_cols
        _, first_pos = np.unique(keys, return_index=True)
        dup = np.ones(keys.shape[0], dtype=bool)
        dup[first_pos] = False
        dup_extra = np.flatnonzero(dup[n:])
        if dup_extra.shape[0] == 0:
            break
        in_group = from_group[dup_extra] & (round_ < 3)
        all_cols[n + dup_extra] = draw(dup_extra, in_group)
    y = sp.csr_matrix((np.ones(all_rows.shape[0], dtype=np.float32), (all_rows, all_cols)), shape=(n, c))
    y.sum_duplicates()
    y.data[:] = 1.0
    return y, group_of


def _texts(
    cfg: SyntheticConfig, y: sp.csr_matrix, group_of: np.ndarray, rng: np.random.Generator
) -> list[str]:
    """One pseudo-word text per row of ``y``."""
    n, c = y.shape
    n_groups = int(group_of.max()) + 1
    label_base = 0
    group_base = c * cfg.signal_words
    common_base = group_base + n_groups * cfg.group_words
    vocab = pseudo_words(common_base + cfg.common_vocab)
    # Shuffle which pseudo-word plays which role, so nothing is readable from the spelling.
    vocab = vocab[rng.permutation(vocab.shape[0])]

    per_doc = np.diff(y.indptr)
    doc_of_pos = np.repeat(np.arange(n), per_doc)
    labels = y.indices
    # Signal words: words_per_label per (doc, label) from the label's own words.
    sig_rows = np.repeat(doc_of_pos, cfg.words_per_label)
    sig_ids = label_base + np.repeat(labels, cfg.words_per_label) * cfg.signal_words
    sig_ids = sig_ids + rng.integers(0, cfg.signal_words, size=sig_ids.shape[0])
    # One group word per (doc, label).
    grp_ids = (
        group_base + group_of[labels] * cfg.group_words + rng.integers(0, cfg.group_words, labels.shape[0])
    )
    # Confusing words of random labels.
    conf_mask = rng.random(n) < cfg.confusion
    conf_rows = np.flatnonzero(conf_mask)
    conf_ids = rng.integers(0, c, conf_rows.shape[0]) * cfg.signal_words + rng.integers(
        0, cfg.signal_words, conf_rows.shape[0]
    )
    # Background words, Zipf over the common vocabulary.
    n_noise = rng.poisson(cfg.noise_words, size=n) + 1
    noise_rows = np.repeat(np.arange(n), n_noise)
    common_w = 1.0 / np.arange(1, cfg.common_vocab + 1)
    common_cdf = np.cumsum(common_w / common_w.sum())
    common_cdf[-1] = 1.0
    noise_ids = common_base + np.minimum(
        np.searchsorted(common_cdf, rng.random(noise_rows.shape[0]), side="right"), cfg.common_vocab - 1
    )
    rows = np.concatenate([sig_rows, doc_of_pos, conf_rows, noise_rows])
    ids = np.concatenate([sig_ids, grp_ids, conf_ids, noise_ids])
    # Shuffle word order inside each document: sort by row plus a random fraction.
    order = np.argsort(rows + rng.random(rows.shape[0]), kind="stable")
    words = list(map(vocab.tolist().__getitem__, ids[order].tolist()))
    bounds = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]).tolist()
    return [" ".join(words[bounds[i] : bounds[i + 1]]) for i in range(n)]


def generate(
    config: SyntheticConfig, name: str = "synthetic", progress: Callable[..., None] | None = None
) -> Corpus:
    """A seeded synthetic :class:`Corpus` (train/validation/test) following ``config``.

    All ``n_labels`` labels are in the label space; a rare label may end up with no training
    document (``n_i = 0``), which the metadata reports.
    """
    rng = np.random.default_rng(config.seed)
    report = progress or (lambda *args, **kwargs: None)
    report("generate", 0, 3, step="labels")
    y, group_of = _draw_labels(config, rng)
    report("generate", 1, 3, step="texts")
    texts = _texts(config, y, group_of, rng)
    report("generate", 2, 3, step="splits")
    names = tuple(f"L{i:0{len(str(config.n_labels - 1))}d}" for i in range(config.n_labels))
    n = config.n_docs
    n_test = _split_size(config.test, n, "test")
    n_val = _split_size(config.validation, n - n_test, "validation")
    perm = rng.permutation(n)
    parts = {
        "test": perm[:n_test],
        "validation": perm[n_test : n_test + n_val],
        "train": perm[n_test + n_val :],
    }
    splits: dict[str, Split] = {}
    for split, idx in parts.items():
        idx = np.sort(idx)
        sub = y[idx]
        cols = sub.indices.tolist()
        bounds = sub.indptr.tolist()
        labels = [tuple(map(names.__getitem__, cols[bounds[i] : bounds[i + 1]])) for i in range(len(idx))]
        splits[split] = Split(texts=[texts[i] for i in idx], labels=labels, ids=[f"doc{i}" for i in idx])
    report("generate", 3, 3)
    train_freq = np.asarray(y[parts["train"]].sum(axis=0)).ravel()
    grouping = DATASET_GROUPING[config.preset]
    return Corpus(
        name=name,
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        label_space=LabelSpace(names),
        preset=config.preset,
        head_min=grouping["head_min"],
        tail_max=grouping["tail_max"],
        doc_bins=grouping["doc_bins"],
        metadata={
            "generator": "mlbalance.data.synthetic",
            "config": {k: v for k, v in config.__dict__.items()},
            "labels_without_train_docs": int((train_freq == 0).sum()),
            "groups": group_of.tolist(),
        },
    )


def load_synthetic(preset: str, progress: Callable[..., None] | None = None, **overrides: Any) -> Corpus:
    """The synthetic corpus of a named preset, with any :class:`SyntheticConfig` field overridden.

    Args:
        preset: one of :data:`PRESETS` (``tiny``, ``small``, ``reuters-like``, ``pubmed-like``).
        progress: a ``ProgressCallback(stage, done, total, **info)`` told of the generation steps.
        **overrides: e.g. ``seed=1``, ``n_docs=1000``.
    """
    if preset not in PRESETS:
        raise DataError(f"unknown synthetic preset {preset!r}; expected one of {sorted(PRESETS)}")
    fields = set(SyntheticConfig.__dataclass_fields__)
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ConfigError(f"unknown synthetic option(s) {unknown}; valid: {sorted(fields)}")
    config = replace(PRESETS[preset], **overrides)
    return generate(config, name=f"synthetic:{preset}", progress=progress)


def write_bioasq_file(
    path: str | os.PathLike[str],
    n_articles: int,
    *,
    n_labels: int = 2000,
    cardinality: float = 12.3,
    words: int = 200,
    years: tuple[int, int] = (2010, 2021),
    block: int = 5000,
    seed: int = 0,
) -> int:
    """Write a synthetic file in the BioASQ Task A JSON format, block by block (flat memory).

    Articles carry ``pmid``, ``title``, ``abstractText``, ``meshMajor``, ``year`` and ``journal``; years
    are uniform over ``years``. Used by the tests and by ``benchmarks/data.py``.

    Returns:
        The file size in bytes.
    """
    if n_articles < 1:
        raise ConfigError(f"`n_articles` must be >= 1, got {n_articles}")
    base = SyntheticConfig(
        n_docs=max(3, min(block, n_articles)),
        n_labels=n_labels,
        cardinality=cardinality,
        max_labels=40,
        zipf=0.9,
        group_size=8,
        noise_words=words,
        common_vocab=20_000,
        words_per_label=1,
        preset="pubmed",
    )
    rng = np.random.default_rng(seed)
    mesh = np.asarray([f"Term {w.capitalize()}" for w in pseudo_words(n_labels, offset=500_000)])
    written = 0
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write('{"articles":[\n')
        for start in range(0, n_articles, block):
            cfg = replace(base, n_docs=max(3, min(block, n_articles - start)), seed=seed * 1_000_003 + start)
            block_rng = np.random.default_rng(cfg.seed)
            y, group_of = _draw_labels(cfg, block_rng)
            texts = _texts(cfg, y, group_of, block_rng)
            year = rng.integers(years[0], years[1] + 1, size=cfg.n_docs)
            for i in range(min(cfg.n_docs, n_articles - start)):
                title, _, abstract = texts[i].partition(" ")
                article = {
                    "journal": "Synthetic J",
                    "meshMajor": mesh[y.indices[y.indptr[i] : y.indptr[i + 1]]].tolist(),
                    "year": str(year[i]),
                    "abstractText": abstract,
                    "pmid": str(10_000_000 + start + i),
                    "title": title.capitalize() + ".",
                }
                if written:
                    handle.write(",\n")
                handle.write(json.dumps(article))
                written += 1
        handle.write("\n]}\n")
    return Path(path).stat().st_size
