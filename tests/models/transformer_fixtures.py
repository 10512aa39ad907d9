"""Tiny corpora and tiny random-weight BERT encoders for the transformer tests (CPU, no network).

Usable from a test module (``from tests.models.transformer_fixtures import ...`` is avoided: the
helpers are imported by path-free name because the test folder is on ``sys.path`` under pytest) and
from the subprocess scripts the tests launch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlbalance.data.corpus import Corpus, LabelSpace, Split

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_corpus(n_train: int = 160, n_val: int = 32, n_test: int = 32, seed: int = 0) -> Corpus:
    """A long-tailed corpus of 6 labels whose words reveal the labels (learnable in a few epochs).

    Each label owns two words; a document carries 1–2 labels (frequencies fall geometrically),
    and says its labels' words three times among noise words, 4–24 words long, so lengths vary.
    """
    rng = np.random.default_rng(seed)
    names = [f"L{i}" for i in range(6)]
    label_words = {name: [f"{name.lower()}w{j}" for j in range(2)] for name in names}
    noise = [f"noise{j}" for j in range(20)]
    prior = 0.5 ** np.arange(len(names))
    prior /= prior.sum()

    def split(n: int, prefix: str) -> Split:
        texts, labels, ids = [], [], []
        for k in range(n):
            n_labels = 1 + int(rng.random() < 0.3)
            chosen = sorted(set(rng.choice(names, size=n_labels, p=prior).tolist()))
            length = int(rng.integers(4, 25))
            words = list(rng.choice(noise, size=length))
            for name in chosen:
                for _ in range(3):
                    words[int(rng.integers(0, length))] = str(rng.choice(label_words[name]))
            texts.append(" ".join(words))
            labels.append(tuple(chosen))
            ids.append(f"{prefix}{k}")
        return Split(texts, labels, ids)

    train, validation, test = split(n_train, "tr"), split(n_val, "va"), split(n_test, "te")
    return Corpus(
        name="tiny",
        train=train,
        validation=validation,
        test=test,
        label_space=LabelSpace(names),
        preset="reuters",
        head_min=20,
        tail_max=5,
    )


def make_tiny_encoder(folder: str | Path, corpus: Corpus, dropout: float = 0.1, seed: int = 0) -> Path:
    """Save a random 1-layer BERT (hidden 16) and a word-level tokenizer of ``corpus`` to ``folder``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = Path(folder)
    words = sorted(
        {
            w
            for split in (corpus.train, corpus.validation, corpus.test)
            for t in split.texts
            for w in t.split()
        }
    )
    vocab = {tok: i for i, tok in enumerate(SPECIAL + words)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# ---------------------------------------------------------------------- subprocess entry point
# python transformer_fixtures.py ENCODER_DIR OUT_JSON [--checkpoint DIR] [--resume] [--kill-at EPOCH:STEP]
# Trains the tiny model (under ``torchrun`` too) and writes history, best epoch and test scores.

TRAIN_OPTIONS = {
    "loss": "bce",
    "batch_size": 8,
    "lr": 1e-2,
    "max_epochs": 5,
    "patience": 5,
    "max_length": 40,
    "pooling": "mean",
    "schedule": "linear",
    "warmup_ratio": 0.2,
    "precision": "fp32",
}


def _main(argv: list[str] | None = None) -> None:
    import argparse
    import json
    import os
    import signal

    import torch

    from mlbalance.models.transformer import TransformerClassifier

    parser = argparse.ArgumentParser()
    parser.add_argument("encoder")
    parser.add_argument("out")
    parser.add_argument("--checkpoint")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--kill-at")
    parser.add_argument("--grad-accum", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    corpus = tiny_corpus()
    kill_epoch, kill_step = map(int, args.kill_at.split(":")) if args.kill_at else (None, None)

    epochs_trained: set[int] = set()

    def progress(stage: str, done: int, total: int | None, **info: object) -> None:
        if stage.startswith("epoch "):
            epochs_trained.add(int(stage.split()[1]))
        if stage == f"epoch {kill_epoch}" and done == kill_step:
            os.kill(os.getpid(), signal.SIGKILL)  # die mid-epoch, as a crash or an OOM kill would

    clf = TransformerClassifier(encoder=args.encoder, grad_accum=args.grad_accum, **TRAIN_OPTIONS)
    clf.fit(corpus, progress=progress, checkpoint_dir=args.checkpoint, resume=args.resume)
    if int(os.environ.get("RANK", "0")) == 0:
        result = {
            "history": clf.history_,
            "best_epoch": clf.best_epoch_,
            "epochs_trained": sorted(epochs_trained),
            "world_size": clf.world_size_,
            "test_scores": clf.scores(corpus.test.texts).tolist(),
        }
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(result, handle)


if __name__ == "__main__":
    _main()
