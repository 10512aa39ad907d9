"""Frozen-encoder featurisers and the embedding / hybrid models, on tiny random-weight encoders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from transformer_fixtures import make_tiny_encoder, tiny_corpus

from mlbalance.errors import ConfigError
from mlbalance.models.encoders import checkpoint_pooling
from mlbalance.models.features import TfidfConfig
from mlbalance.models.hybrid import EmbeddingClassifier, HybridClassifier
from mlbalance.models.registry import build_model, load_model, model_parameters, save_model
from mlbalance.models.sentence_encoder import SentenceEncoder, text_hashes
from mlbalance.models.tfidf import TfidfClassifier


@pytest.fixture(scope="module")
def corpus():
    return tiny_corpus()


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory, corpus):
    return make_tiny_encoder(tmp_path_factory.mktemp("tiny-bert"), corpus)


def sentence_transformers_folder(folder, mode="mean", normalize=True):
    """Declare a pooling in the sentence-transformers layout, as the offline MiniLM does."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append(
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
        )
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    flags = {
        f"pooling_mode_{m}": key == mode
        for m, key in (("mean_tokens", "mean"), ("cls_token", "cls"), ("max_tokens", "max"))
    }
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(flags))
    return folder  # fmt: skip


def reference_vectors(folder, texts, mode, normalize, max_length=64):
    """One text at a time, no padding, the pooling written out: what the encoder must give."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    out = []
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
            result = model(**ids)
            states = result.last_hidden_state[0]
            vector = {"mean": states.mean(0), "cls": states[0], "max": states.max(0).values,
                      "pooler": result.pooler_output[0]}[mode]  # fmt: skip
            out.append((vector / vector.norm() if normalize else vector).numpy())
    return np.stack(out)


@pytest.mark.parametrize(("mode", "normalize"), [("mean", True), ("cls", False), ("max", True)])
def test_pooling_follows_the_checkpoint_and_matches_a_reference(tmp_path, corpus, mode, normalize):
    # float32 against a float32 reference (bfloat16 agrees to cosine 0.99995 on Reuters: BENCHMARKS.md)
    folder = make_tiny_encoder(tmp_path / "enc", corpus)
    sentence_transformers_folder(folder, mode, normalize)
    assert checkpoint_pooling(folder, has_pooler=True)[0].mode == mode
    texts = corpus.train.texts[:12]
    encoder = SentenceEncoder(str(folder), max_length=64, batch_size=5, cache_dir=False, precision="float32")
    got = encoder.encode(texts)
    assert encoder.settings()["pooling"] == mode and encoder.settings()["normalize"] is normalize
    np.testing.assert_allclose(got, reference_vectors(folder, texts, mode, normalize), rtol=1e-4, atol=1e-5)


def test_without_a_declared_pooling_auto_takes_the_pooler(encoder_dir, corpus):
    encoder = SentenceEncoder(str(encoder_dir), max_length=64, cache_dir=False, precision="float32")
    assert encoder.settings()["pooling"] == "pooler" and "pooler" in encoder.settings()["pooling_source"]
    texts = corpus.train.texts[:4]
    np.testing.assert_allclose(
        encoder.encode(texts), reference_vectors(encoder_dir, texts, "pooler", False), rtol=1e-4, atol=1e-5
    )
    with pytest.raises(ConfigError, match="`pooling` must be one of"):
        SentenceEncoder(str(encoder_dir), pooling="avg")


def test_the_cache_encodes_each_text_once(tmp_path, encoder_dir, corpus, monkeypatch):
    texts = corpus.train.texts[:20]
    first = SentenceEncoder(str(encoder_dir), max_length=64, cache_dir=tmp_path / "cache")
    calls = []
    real = SentenceEncoder._encode
    monkeypatch.setattr(
        SentenceEncoder, "_encode", lambda self, t, p: calls.append(len(t)) or real(self, t, p)
    )
    a = first.encode(texts + texts[:3])  # a repeated text is encoded once
    again = SentenceEncoder(str(encoder_dir), max_length=64, cache_dir=tmp_path / "cache")  # a new process
    b = again.encode(texts[5:] + corpus.test.texts[:4])
    assert calls == [20, 4]
    np.testing.assert_array_equal(b[:15], a[5:20])
    other = SentenceEncoder(str(encoder_dir), max_length=8, cache_dir=tmp_path / "cache")  # another key
    other.encode(texts[:2])
    assert calls == [20, 4, 2]
    for shard in (tmp_path / "cache").rglob("*.npz"):
        shard.write_bytes(b"damaged")
    SentenceEncoder(str(encoder_dir), max_length=64, cache_dir=tmp_path / "cache").encode(texts[:3])
    assert calls[-1] == 3  # a damaged shard is ignored and its texts encoded again
    assert len(set(text_hashes(["a", "b", "a"]).tolist())) == 2


@pytest.mark.parametrize("cls", [EmbeddingClassifier, HybridClassifier])
def test_the_models_train_save_load_and_predict_alike(tmp_path, encoder_dir, corpus, cls):
    model = cls("bce", encoder=str(encoder_dir), max_length=64, cache_dir=tmp_path / "cache", max_epochs=6,
                lr=300.0, seed=1)  # fmt: skip
    model.fit(corpus)
    scores = model.scores(corpus.test.texts)
    assert scores.shape == (len(corpus.test), 6) and np.isfinite(scores).all()
    save_model(model, tmp_path / "saved")
    loaded = load_model(tmp_path / "saved")
    assert type(loaded) is cls and loaded.get_config() == model.get_config()
    loaded.cache_dir = False  # predicting needs no cache
    loaded.features_.encoder.cache_dir = False
    np.testing.assert_allclose(loaded.scores(corpus.test.texts), scores, rtol=1e-5, atol=1e-6)
    assert model.pooling_used()["pooling"] == "pooler"


def test_the_hybrid_features_are_tfidf_beside_the_weighted_vector(tmp_path, encoder_dir, corpus):
    hybrid = HybridClassifier("bce", encoder=str(encoder_dir), max_length=64, cache_dir=False,
                              embedding_weight=0.5, min_df=1)  # fmt: skip
    features = hybrid._make_features()
    x = features.fit_transform(corpus.train.texts)
    tfidf = TfidfConfig.of(TfidfClassifier("bce", min_df=1))
    from mlbalance.models.features import TfidfFeatures

    plain = TfidfFeatures(tfidf).fit_transform(corpus.train.texts)
    vectors = SentenceEncoder(str(encoder_dir), max_length=64, cache_dir=False).encode(corpus.train.texts)
    assert sp.issparse(x) and x.shape == (len(corpus.train), plain.shape[1] + 16)
    np.testing.assert_allclose(x[:, : plain.shape[1]].toarray(), plain.toarray(), rtol=1e-6)
    np.testing.assert_allclose(x[:, plain.shape[1] :].toarray(), 0.5 * vectors, rtol=1e-5, atol=1e-6)


def test_registry_arguments_and_errors(encoder_dir):
    assert {"encoder", "max_length", "embedding_weight", "lr", "hidden"} <= set(model_parameters("embedding"))
    assert "min_df" in model_parameters("hybrid") and "min_df" not in model_parameters("embedding")
    model = build_model("hybrid", loss="cb-ntr", encoder=str(encoder_dir), min_df=1, lr=100.0)
    assert model.get_config()["min_df"] == 1 and model.get_config()["lr"] == 100.0
    with pytest.raises(ConfigError, match="takes"):
        build_model("embedding", min_df=1)
    with pytest.raises(ConfigError, match="no TF-IDF features: min_df"):
        EmbeddingClassifier(min_df=1)
    with pytest.raises(ConfigError, match="embedding_weight"):
        HybridClassifier(embedding_weight=0)


def test_train_and_compare_take_the_new_models(tmp_path, encoder_dir, corpus):
    import mlbalance

    options = {"encoder": str(encoder_dir), "max_length": 64, "cache_dir": str(tmp_path / "cache")}
    run = mlbalance.train(corpus, model="hybrid", loss="db", threshold="global-optimal", out=tmp_path / "run",
                          max_epochs=8, **options)  # fmt: skip
    total = next(r for r in run.metrics if r["split"] == "test" and r["group"] == "total")
    assert total["micro_f1"] > 0.6, total  # the tiny corpus's words reveal its labels
    assert mlbalance.load_run(tmp_path / "run").predict(corpus.test.texts[:3]) == run.predict(
        corpus.test.texts[:3]
    )
    result = mlbalance.compare(
        corpus, model="embedding", losses="bce,zlpr", svm=False, max_epochs=2, **options
    )
    assert {r["model"] for r in result.rows} == {"embedding"}


def test_auto_precision_is_resolved_once_and_saved(tmp_path, encoder_dir, corpus, monkeypatch):
    from mlbalance.models import sentence_encoder

    for native in ("bfloat16", "float32"):
        monkeypatch.setattr(sentence_encoder, "native_precision", lambda native=native: native)
        model = EmbeddingClassifier("bce", encoder=str(encoder_dir), max_length=32, cache_dir=False,
                                    max_epochs=1)  # fmt: skip
        assert model.get_config()["precision"] == "auto"
        model.fit(corpus)
        assert model.pooling_used()["precision"] == native  # what the saved encoder settings hold
        save_model(model, tmp_path / native)
    monkeypatch.setattr(sentence_encoder, "native_precision", lambda: "float32")
    loaded = load_model(tmp_path / "bfloat16")  # loaded where bfloat16 is not native: encodes as trained
    assert loaded.features_.encoder.precision == "bfloat16"


def test_the_svm_over_hybrid_features_is_linearsvc_on_them(tmp_path, encoder_dir, corpus):
    from sklearn.svm import LinearSVC

    from mlbalance.models.hybrid_svm import HybridSvmClassifier

    model = build_model("svm-hybrid", encoder=str(encoder_dir), max_length=64, cache_dir=tmp_path / "cache",
                        min_df=1, C=0.5)  # fmt: skip
    assert isinstance(model, HybridSvmClassifier) and not model.takes_loss
    model.fit(corpus)
    x_train = model.features_.transform(corpus.train.texts)
    x_test = model.features_.transform(corpus.test.texts)
    y = corpus.labels("train").toarray()
    reference = np.column_stack([
        LinearSVC(C=0.5, dual="auto", random_state=0).fit(x_train, y[:, j]).decision_function(x_test)
        for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)
    ])  # fmt: skip
    learnable = [j for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
    scores = model.scores(corpus.test.texts)
    np.testing.assert_allclose(scores[:, learnable], reference, rtol=1e-4, atol=1e-4)
    save_model(model, tmp_path / "saved")
    loaded = load_model(tmp_path / "saved")
    assert type(loaded) is HybridSvmClassifier and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded.scores(corpus.test.texts), scores, rtol=1e-5, atol=1e-6)
