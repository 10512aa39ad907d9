"""Fixtures shared across test folders (each area keeps its own in ``tests/<area>/conftest.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlbalance.data.corpus import Corpus, LabelSpace, Split
from mlbalance.models.base import Classifier


class KeywordClassifier(Classifier):
    """A fast stand-in model for run-directory and CLI plumbing tests.

    A label scores 0.9 on a text that contains its name as a word, else its training prior.
    """

    name = "tfidf"
    score_kind = "probability"

    def __init__(self, loss: str = "db", seed: int = 0, max_epochs: int = 1, lr: float = 0.1) -> None:
        self.loss = loss
        self.seed = seed
        self.max_epochs = max_epochs
        self.lr = lr

    def get_config(self):
        return {"loss": self.loss, "seed": self.seed, "max_epochs": self.max_epochs, "lr": self.lr}

    def _fit(self, corpus, progress, checkpoints, resume):
        progress("fit", 1, 1)
        self.prior_ = (self.stats_.class_freq / max(self.stats_.n_train, 1)).astype(np.float32)
        self.history_ = [{"epoch": 1}]

    def scores(self, texts, *, progress=None):
        names = self.label_space_.names
        out = np.tile(self.prior_, (len(texts), 1))
        for i, text in enumerate(texts):
            words = set(text.split())
            for j, name in enumerate(names):
                if name in words:
                    out[i, j] = 0.9
        return out

    def save(self, directory):
        directory = Path(directory)
        np.savez(directory / "prior.npz", prior=self.prior_)
        (directory / "fake.json").write_text(
            json.dumps({"config": self.get_config(), "stats": self.stats_.to_dict()})
        )

    @classmethod
    def load(cls, directory):
        from mlbalance.data.stats import LabelStats

        directory = Path(directory)
        meta = json.loads((directory / "fake.json").read_text())
        model = cls(**meta["config"])
        model.stats_ = LabelStats.from_dict(meta["stats"])
        model.label_space_ = LabelSpace(model.stats_.names)
        with np.load(directory / "prior.npz", allow_pickle=False) as data:
            model.prior_ = data["prior"]
        model.history_ = []
        return model


def keyword_corpus(n: int = 60, seed: int = 0) -> Corpus:
    """Documents whose words include the names of their labels (plus noise words)."""
    rng = np.random.default_rng(seed)
    names = ["alpha", "beta", "gamma", "delta"]
    freq = np.array([0.6, 0.3, 0.15, 0.05])

    def split(count: int, prefix: str) -> Split:
        texts, labels = [], []
        for _ in range(count):
            chosen = tuple(name for name, p in zip(names, freq) if rng.random() < p) or ("alpha",)
            noise = [f"w{int(k)}" for k in rng.integers(0, 30, 6)]
            texts.append(" ".join([*chosen, *noise]))
            labels.append(chosen)
        return Split(texts, labels, [f"{prefix}{i}" for i in range(count)])

    return Corpus(
        name="keywords",
        train=split(n, "tr"),
        validation=split(n // 2, "va"),
        test=split(n // 2, "te"),
        label_space=LabelSpace(names),
        head_min=10,
        tail_max=3,
    )


@pytest.fixture(autouse=True)
def checkpoint_every_epoch(monkeypatch):
    """Tests interrupt training at chosen epochs: a checkpoint after each (also in subprocesses)."""
    monkeypatch.setenv("MLBALANCE_CHECKPOINT_EVERY_S", "0")


@pytest.fixture
def fake_tfidf(monkeypatch):
    """Make the registry's ``tfidf`` kind the fast :class:`KeywordClassifier`."""
    from mlbalance.models import registry

    real = registry.model_class

    def model_class(kind):
        return KeywordClassifier if kind == "tfidf" else real(kind)

    monkeypatch.setattr(registry, "model_class", model_class)
    return KeywordClassifier


@pytest.fixture
def small_keyword_corpus():
    return keyword_corpus()


@pytest.fixture(scope="session")
def tfidf_run(tmp_path_factory) -> Path:
    """A finished run of the real TF-IDF model on ``synthetic:tiny`` (3 epochs), for other processes."""
    from mlbalance.cli import main

    out = tmp_path_factory.mktemp("tfidf-run") / "run"
    code = main(["train", "--dataset", "synthetic:tiny", "--model", "tfidf", "--loss", "db",
                 "--max-epochs", "3", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    return out
