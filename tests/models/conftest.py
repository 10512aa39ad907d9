"""A small long-tailed multi-label corpus for the model tests, built from the data classes alone."""

from __future__ import annotations

import numpy as np
import pytest

from mlbalance.data.corpus import Corpus, LabelSpace, Split


def make_corpus(n_docs: int = 420, n_labels: int = 12, seed: int = 0) -> Corpus:
    """Documents whose words reveal their labels, with Zipf-like label frequencies.

    Every label owns four words; a document carries one to three labels and, for each, two of its
    words, plus six background words. Splits are 60 % / 20 % / 20 %.
    """
    rng = np.random.default_rng(seed)
    freq = 1.0 / np.arange(1, n_labels + 1) ** 1.1
    freq /= freq.sum()
    background = [f"common{i}" for i in range(60)]
    texts, labels = [], []
    for _ in range(n_docs):
        k = min(1 + rng.poisson(0.4), 3)
        chosen = sorted(set(rng.choice(n_labels, size=k, p=freq).tolist()))
        words = [f"w{lab}x{j}" for lab in chosen for j in rng.choice(4, size=2)]
        words += rng.choice(background, size=6).tolist()
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(tuple(f"L{lab:02d}" for lab in chosen))
    ids = [f"d{i}" for i in range(n_docs)]
    a, b = int(0.6 * n_docs), int(0.8 * n_docs)

    def split(lo: int, hi: int) -> Split:
        return Split(texts=texts[lo:hi], labels=labels[lo:hi], ids=ids[lo:hi])

    train = split(0, a)
    space = LabelSpace.from_labels(train.labels)
    return Corpus(
        name="fixture",
        train=train,
        validation=split(a, b),
        test=split(b, n_docs),
        label_space=space,
        preset="reuters",
        head_min=30,
        tail_max=8,
    )


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return make_corpus()
