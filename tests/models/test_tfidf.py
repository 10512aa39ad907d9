"""The TF-IDF model: learns, is deterministic, saves and loads, stops early, resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mlbalance.errors import ConfigError, DataError, RunError
from mlbalance.evaluation.monitor import best_global_micro_f1
from mlbalance.models.tfidf import TfidfClassifier

FAST = {"loss": "bce", "lr": 20.0, "max_epochs": 8, "patience": 3, "seed": 3}


@pytest.fixture(scope="module")
def fitted(corpus):
    return TfidfClassifier(**FAST).fit(corpus)


def test_training_reduces_loss_and_beats_chance(corpus, fitted):
    losses = [row["train_loss"] for row in fitted.history_]
    assert losses[-1] < 0.5 * losses[0]
    y_test = corpus.labels("test")
    scores = fitted.scores(corpus.test.texts)
    assert scores.dtype == np.float32 and scores.shape == y_test.shape
    assert ((scores >= 0) & (scores <= 1)).all()
    test_f1 = best_global_micro_f1(scores, y_test, grid=[fitted.val_threshold_])[0]
    # Chance: predicting every label's training prior as a score, at its best threshold.
    prior = np.asarray(corpus.labels("train").mean(axis=0), dtype=np.float32)
    chance = best_global_micro_f1(np.repeat(prior, y_test.shape[0], axis=0), y_test)[0]
    assert test_f1 > 0.8 > chance + 0.3


def test_deterministic_with_a_seed(corpus, fitted):
    again = TfidfClassifier(**FAST).fit(corpus)
    np.testing.assert_array_equal(again.scores(corpus.test.texts), fitted.scores(corpus.test.texts))
    assert again.history_ == fitted.history_
    other = TfidfClassifier(**{**FAST, "seed": 4}).fit(corpus)
    assert not np.array_equal(other.scores(corpus.test.texts), fitted.scores(corpus.test.texts))


def test_save_load_identical_scores_without_pickle(tmp_path, corpus, fitted):
    fitted.save(tmp_path)
    assert {"model.json", "model.safetensors", "features.json", "features_idf.npy"} <= {
        p.name for p in tmp_path.iterdir()
    }
    loaded = TfidfClassifier.load(tmp_path)
    np.testing.assert_array_equal(loaded.scores(corpus.test.texts), fitted.scores(corpus.test.texts))
    assert loaded.get_config() == fitted.get_config()
    assert loaded.label_space_ == fitted.label_space_
    assert loaded.best_epoch_ == fitted.best_epoch_
    np.testing.assert_array_equal(loaded.stats_.class_freq, fitted.stats_.class_freq)
    np.load(tmp_path / "features_idf.npy", allow_pickle=False)
    json.loads((tmp_path / "model.json").read_text())


def test_load_refuses_other_model(tmp_path, corpus, fitted):
    fitted.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["model"] = "svm"
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(RunError, match="tfidf"):
        TfidfClassifier.load(tmp_path)


def test_early_stopping_keeps_argmax_epoch(corpus):
    # A large rate overshoots, so validation F1 is not monotone and the best epoch is not the last.
    model = TfidfClassifier(loss="bce", lr=400.0, momentum=0.95, max_epochs=12, patience=3, seed=1).fit(
        corpus
    )
    f1s = [row["val_micro_f1"] for row in model.history_]
    assert model.best_epoch_ == 1 + int(np.argmax(f1s))
    assert sum(row["best"] for row in model.history_) >= 1
    # The weights held are those of the best epoch: re-scoring validation gives its F1 back.
    val = model.scores(corpus.validation.texts)
    assert best_global_micro_f1(val, corpus.labels("validation"))[0] == pytest.approx(max(f1s), abs=1e-9)
    if model.best_epoch_ < len(f1s):
        assert len(f1s) - model.best_epoch_ <= 3


def test_early_stopping_on_macro_f1_keeps_its_argmax_epoch(corpus):
    model = TfidfClassifier(
        loss="bce", lr=400.0, momentum=0.95, max_epochs=8, patience=3, seed=1, monitor="macro_f1"
    ).fit(corpus)
    macro = [row["val_macro_f1"] for row in model.history_]
    assert model.best_epoch_ == 1 + int(np.argmax(macro))
    assert model.get_config()["monitor"] == "macro_f1"


class Interrupt(Exception):
    pass


def assert_resume_equals(full, config, corpus, tmp_path):
    """A fit of ``config`` stopped in epoch 3 and resumed from its checkpoint equals ``full``."""

    def stop_in_epoch_3(stage, done, total, **info):
        if stage == "epoch 3" and done == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        TfidfClassifier(**config).fit(corpus, checkpoint_dir=tmp_path, progress=stop_in_epoch_3)
    assert (tmp_path / "checkpoint.pt").exists()
    resumed = TfidfClassifier(**config).fit(corpus, checkpoint_dir=tmp_path, resume=True)
    assert resumed.history_ == full.history_
    np.testing.assert_array_equal(resumed.scores(corpus.test.texts), full.scores(corpus.test.texts))


def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path, corpus):
    config = {**FAST, "hidden": 16, "dropout": 0.2, "max_epochs": 5, "patience": 5}
    full = TfidfClassifier(**config).fit(corpus)
    assert_resume_equals(full, config, corpus, tmp_path)


def test_resume_refuses_another_configuration(tmp_path, corpus):
    TfidfClassifier(**{**FAST, "max_epochs": 1}).fit(corpus, checkpoint_dir=tmp_path)
    with pytest.raises(ConfigError, match="lr"):
        TfidfClassifier(**{**FAST, "lr": 1.0}).fit(corpus, checkpoint_dir=tmp_path, resume=True)


def test_auto_head_width_follows_the_size_of_a_linear_head():
    from mlbalance.models.tfidf import AUTO_HIDDEN_ABOVE, AUTO_HIDDEN_WIDTH, head_width

    assert head_width("auto", 14_000, 90) is None  # Reuters-sized: linear
    assert head_width("auto", 100_000, 18_211) == AUTO_HIDDEN_WIDTH  # PubMed-sized: 1.8 G weights
    assert head_width("auto", AUTO_HIDDEN_ABOVE, 1) is None
    assert head_width("auto", AUTO_HIDDEN_ABOVE + 1, 1) == AUTO_HIDDEN_WIDTH
    assert head_width(None, 10**6, 10**5) is None and head_width(32, 10, 2) == 32


def test_auto_hidden_builds_the_layer_above_the_bound_and_loads_back(tmp_path, corpus, fitted, monkeypatch):
    import mlbalance.models.tfidf as tfidf

    assert fitted.hidden == "auto" and fitted.hidden_width_ is None and fitted.head_.out is None
    monkeypatch.setattr(tfidf, "AUTO_HIDDEN_ABOVE", 10)  # this corpus's linear head is far larger
    model = TfidfClassifier(**{**FAST, "max_epochs": 2}).fit(corpus)
    assert model.hidden_width_ == tfidf.AUTO_HIDDEN_WIDTH
    assert model.head_.out is not None and model.head_.out.in_features == tfidf.AUTO_HIDDEN_WIDTH
    model.save(tmp_path)
    monkeypatch.setattr(tfidf, "AUTO_HIDDEN_ABOVE", 50_000_000)  # loading reads the width it was saved with
    loaded = TfidfClassifier.load(tmp_path)
    assert loaded.hidden_width_ == tfidf.AUTO_HIDDEN_WIDTH
    np.testing.assert_array_equal(loaded.scores(corpus.test.texts), model.scores(corpus.test.texts))


def test_a_run_saved_without_hidden_width_loads_with_its_hidden_setting(tmp_path, corpus):
    model = TfidfClassifier(**{**FAST, "hidden": 8, "max_epochs": 1}).fit(corpus)
    model.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["hidden_width"] == 8
    del meta["hidden_width"]  # as an earlier version wrote it
    (tmp_path / "model.json").write_text(json.dumps(meta))
    loaded = TfidfClassifier.load(tmp_path)
    np.testing.assert_array_equal(loaded.scores(corpus.test.texts), model.scores(corpus.test.texts))


@pytest.mark.parametrize("hidden", [None, 8])
def test_prior_bias_start_is_the_training_log_odds(hidden):
    from mlbalance.models.tfidf import TfidfHead

    counts, n_train = np.array([0, 1, 5, 99, 100]), 100
    head = TfidfHead(20, 5, hidden)
    head.start_at_prior(counts, n_train)
    bias = (head.bias if hidden is None else head.out.bias).detach().double().numpy()
    p = np.clip(counts, 0.5, n_train - 0.5) / n_train
    np.testing.assert_allclose(bias, np.log(p / (1 - p)), rtol=1e-6)
    # an input without terms scores each label at its prior
    empty = torch.zeros(0, dtype=torch.long)
    if hidden is None:
        scores = torch.sigmoid(head(empty, torch.zeros(1, dtype=torch.long), empty.float()))
        np.testing.assert_allclose(scores.detach().double().numpy()[0], p, rtol=1e-5)


def test_hidden_layer_and_adamw_train(corpus):
    model = TfidfClassifier(
        loss="bce", hidden=32, optimizer="adamw", lr=0.1, weight_decay=0.01, max_epochs=5, seed=0
    ).fit(corpus)
    assert model.best_val_micro_f1_ > 0.7
    assert model.head_.out is not None


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("lr", -1.0),
        ("optimizer", "adam"),
        ("hidden", 0),
        ("hidden", "wide"),
        ("bias_init", "ones"),
        ("ngram_range", (2, 1)),
        ("batch_size", 0),
        ("max_epochs", 0),
        ("patience", -2),
        ("momentum", 1.5),
        ("min_df", 0),
        ("val_threshold", "median"),
        ("monitor", "loss"),
        ("dataset", "imdb"),
    ],
)
def test_bad_config_raises_config_error_naming_value(option, value):
    with pytest.raises(ConfigError, match=rf"`{option}`.*{value!r}".replace("(", r"\(").replace(")", r"\)")):
        TfidfClassifier(**{option: value})


def test_unknown_loss_is_a_config_error(corpus):
    with pytest.raises(ConfigError, match="no-such-loss"):
        TfidfClassifier(loss="no-such-loss", max_epochs=1).fit(corpus)


def test_scores_before_fit_and_empty_validation(corpus):
    with pytest.raises(RunError, match="not fitted"):
        TfidfClassifier().scores(["text"])
    from dataclasses import replace

    from mlbalance.data.corpus import Split

    empty = replace(corpus, validation=Split([], [], []))
    with pytest.raises(DataError, match="validation"):
        TfidfClassifier(**FAST).fit(empty)


@pytest.mark.parametrize(("hidden", "nesterov"), [(None, True), (None, False), (8, True)])
def test_lazy_sgd_equals_dense_sgd(corpus, hidden, nesterov):
    import torch

    from mlbalance.models.features import TfidfFeatures
    from mlbalance.models.lazy_sgd import LazySGD
    from mlbalance.models.tfidf import TfidfHead, csr_batch

    x = TfidfFeatures().fit_transform(corpus.train.texts)
    y = corpus.labels("train")
    torch.manual_seed(0)
    lazy = TfidfHead(x.shape[1], y.shape[1], hidden, sparse=True)
    torch.manual_seed(0)
    dense = TfidfHead(x.shape[1], y.shape[1], hidden, sparse=False)
    rest = [p for n, p in lazy.named_parameters() if n != "embed.weight"]
    opt_lazy = LazySGD([lazy.embed.weight], rest, lr=5.0, momentum=0.9, nesterov=nesterov)
    opt_dense = torch.optim.SGD(dense.parameters(), lr=5.0, momentum=0.9, nesterov=nesterov)
    rng = np.random.default_rng(0)
    for _ in range(30):
        batch = csr_batch(x, rng.choice(x.shape[0], 8, replace=False))
        opt_lazy.prepare(batch[0])
        target = torch.from_numpy(y[rng.choice(x.shape[0], 8)].toarray())
        for model, opt in ((lazy, opt_lazy), (dense, opt_dense)):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(*batch), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
    opt_lazy.finalize()
    for a, b in zip(lazy.parameters(), dense.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # Momentum buffers agree too (they carry on into the next epoch and into checkpoints).
    torch.testing.assert_close(opt_lazy.buffers[0], opt_dense.state[dense.embed.weight]["momentum_buffer"])


def test_divergence_is_reported(corpus):
    with pytest.raises(RunError, match=r"diverged.*lr"):
        TfidfClassifier(loss="bce", lr=1e38, max_epochs=2, seed=0).fit(corpus)


def test_lazy_adam_moves_only_the_rows_a_batch_uses_as_adam_does():
    """Against a float64 re-derivation: rows a batch uses take Adam's bias-corrected step (the step
    count is the optimiser's, not the row's); rows it does not use keep weights and moments."""
    from mlbalance.models.lazy_adam import LazyAdam

    torch.manual_seed(0)
    embed = torch.nn.EmbeddingBag(6, 3, mode="sum", sparse=True)
    out = torch.nn.Linear(3, 2)
    optimizer = LazyAdam([embed.weight], [{"params": list(out.parameters()), "weight_decay": 0.0}], lr=0.1)
    w = embed.weight.detach().double().numpy().copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.1
    batches = [[0, 1, 1], [2, 3], [0, 3]]  # rows 4 and 5 are never used
    for t, rows in enumerate(batches, start=1):
        optimizer.zero_grad()
        ids = torch.tensor(rows)
        out(embed(ids, torch.tensor([0]))).pow(2).sum().backward()
        g = embed.weight.grad.coalesce()
        used = g.indices()[0].numpy()
        grad = g.values().double().numpy()
        optimizer.step()
        m[used] = b1 * m[used] + (1 - b1) * grad
        v[used] = b2 * v[used] + (1 - b2) * grad**2
        step = lr * (m[used] / (1 - b1**t)) / (np.sqrt(v[used] / (1 - b2**t)) + eps)
        w[used] -= step
        np.testing.assert_allclose(embed.weight.detach().double().numpy(), w, rtol=1e-5, atol=1e-6)
    assert (m[4:] == 0).all()


def test_lazy_adam_trains_and_resumes_to_the_uninterrupted_run(tmp_path, corpus):
    config = {**FAST, "optimizer": "lazy-adam", "lr": 0.1, "hidden": 16, "max_epochs": 4, "patience": 4}
    full = TfidfClassifier(**config).fit(corpus)
    dense = TfidfClassifier(**{**config, "optimizer": "adamw"}).fit(corpus)
    lazy_f1, dense_f1 = full.history_[-1]["val_micro_f1"], dense.history_[-1]["val_micro_f1"]
    assert lazy_f1 > 0.8 and abs(lazy_f1 - dense_f1) < 0.05  # learns as dense AdamW does
    assert_resume_equals(full, config, corpus, tmp_path)
