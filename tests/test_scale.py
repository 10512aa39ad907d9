"""Scale, in CI size: a pubmed-like corpus of 20,000 documents × 2,000 labels end to end.

The full-size runs (224,897 × 18,211) live in ``benchmarks/scale.py``; here the same path is taken at
a size the suite can afford, and memory bounds are checked by construction (dtypes, sparsity, the
peak of traced allocations), never by timing.
"""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from mlbalance.cli import main
from mlbalance.config import CompareConfig
from mlbalance.data import load_corpus
from mlbalance.errors import ConfigError
from mlbalance.evaluation import evaluate, tune_thresholds
from mlbalance.models.linear_svm import LinearSvmClassifier, squared_hinge
from mlbalance.models.registry import build_model
from mlbalance.models.tfidf import TfidfClassifier

N_DOCS, N_LABELS = 20_000, 2_000


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(
        "synthetic:pubmed-like", n_docs=N_DOCS, n_labels=N_LABELS, validation=1000, test=1000, seed=3
    )


@pytest.fixture(scope="module")
def tfidf_db(corpus):
    model = TfidfClassifier(
        loss="db", hidden=64, optimizer="adamw", lr=3e-3, batch_size=512, max_features=20_000, max_epochs=1
    )
    return model.fit(corpus)


def test_labels_and_features_stay_sparse_float32(corpus, tfidf_db):
    y = corpus.labels("train")
    assert sp.issparse(y) and y.dtype == np.float32
    assert y.nnz < 0.02 * y.shape[0] * y.shape[1]
    x = tfidf_db.features_.transform(corpus.test.texts[:50])
    assert sp.issparse(x) and x.dtype == np.float32


def test_one_epoch_of_db_then_every_table(corpus, tfidf_db):
    assert len(tfidf_db.history_) == 1
    n_params = sum(p.numel() for p in tfidf_db.head_.parameters())
    # Hidden layer: parameters grow with features + labels, not with their product.
    assert n_params < tfidf_db.features_.n_features * N_LABELS / 10
    s_val = tfidf_db.scores(corpus.validation.texts)
    s_test = tfidf_db.scores(corpus.test.texts)
    assert s_val.dtype == np.float32 and s_test.shape == (1000, N_LABELS)
    thresholds = tune_thresholds(s_val, corpus.labels("validation"), method="grid")
    rows = evaluate(s_test, corpus.labels("test"), tfidf_db.stats_, thresholds, split="test")
    groups = [r["group"] for r in rows]
    assert groups[:4] == ["total", "head", "medium", "tail"]
    assert len(groups) == 4 + len(corpus.doc_bins)  # the Table 3 tertiles
    # One epoch learns something: better than predicting nothing (micro-F1 0).
    assert rows[0]["micro_f1"] > 0.05


def test_evaluation_allocates_less_than_one_dense_float64_matrix(corpus):
    y = corpus.labels("test")
    rng = np.random.default_rng(0)
    scores = rng.random(y.shape, dtype=np.float32) * 0.6
    scores[y.nonzero()] += 0.35
    stats = corpus.stats()
    thresholds = tune_thresholds(scores, y, method="grid")
    tracemalloc.start()
    try:
        evaluate(scores, y, stats, thresholds, split="test")
        tune_thresholds(scores, y, method="grid")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < scores.size * 8  # a float64 copy of the scores alone would be this big


def test_squared_hinge_matches_its_definition():
    z = torch.tensor([[2.0, -0.5, 0.3], [-3.0, 0.9, 1.0]])
    t = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    # y=+1: max(0, 1-z)^2 ; y=-1: max(0, 1+z)^2
    expected = torch.tensor([0.0 + 0.25 + 0.49, 0.0 + 0.01 + 4.0])
    torch.testing.assert_close(squared_hinge(z, t), expected)


def test_svm_sgd_close_to_liblinear_objective_on_a_small_problem():
    """All labels at once reaches the one-vs-rest LinearSVC solution's objective within 3 %."""
    small = load_corpus("synthetic:tiny", seed=1)
    liblinear = build_model("svm", C=1.0).fit(small)
    sgd = LinearSvmClassifier(C=1.0, max_epochs=30, lr=0.1, batch_size=64).fit(small)
    x = liblinear.features_.transform(small.train.texts)
    y = small.labels("train")
    fit = np.diff(y.tocsc().indptr) > 0

    def objective(coef, intercept):
        z = x @ coef[fit].T + intercept[fit]
        margin = np.clip(1.0 - (2.0 * y[:, fit].toarray() - 1.0) * z, 0.0, None)
        return (margin**2).sum() + 0.5 * ((coef[fit] ** 2).sum() + (intercept[fit] ** 2).sum())

    ref = objective(liblinear.coef_, liblinear.intercept_)
    got = objective(sgd.head_.embed.weight.detach().numpy().T, sgd.head_.bias.detach().numpy())
    assert ref <= got * (1 + 1e-3)  # liblinear is the exact optimum
    assert got < ref * 1.03
    s = sgd.scores(small.test.texts)
    assert s.dtype == np.float32 and s.shape == (len(small.test), len(small.label_space))


def test_svm_sgd_constant_scores_for_labels_without_positives():
    small = load_corpus("synthetic:tiny", seed=0)
    x = sp.random(60, 30, density=0.2, format="csr", dtype=np.float32, random_state=0)
    y = sp.csr_matrix(
        np.c_[np.ones((60, 1)), np.zeros((60, 1)), (np.arange(60) % 2)[:, None]].astype(np.float32)
    )
    model = LinearSvmClassifier(max_epochs=2)
    model.label_space_, model.stats_ = small.label_space, small.stats()
    model.fit_features(x, y)
    scores = model.decision_function(x)
    assert np.all(scores[:, 0] == 1000.0) and np.all(scores[:, 1] == -1000.0)


def test_svm_sgd_saves_and_loads(tmp_path):
    small = load_corpus("synthetic:tiny", seed=0)
    model = LinearSvmClassifier(max_epochs=2).fit(small)
    model.save(tmp_path)
    again = LinearSvmClassifier.load(tmp_path)
    np.testing.assert_array_equal(again.scores(small.test.texts), model.scores(small.test.texts))
    assert again.get_config() == model.get_config()


def test_compare_cli_with_the_sgd_svm_backend(tmp_path, capsys):
    code = main(
        [
            "compare",
            "--dataset",
            "synthetic:tiny",
            "--losses",
            "bce",
            "--svm",
            "--svm-backend",
            "sgd",
            "--max-epochs",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert (tmp_path / "svm-sgd" / "COMPLETE").exists() and (tmp_path / "tfidf-bce" / "COMPLETE").exists()
    rows = json.loads((tmp_path / "results.json").read_text())
    svm_rows = [r for r in rows if r["model"] == "svm-sgd" and r["split"] == "test" and r["group"] == "total"]
    assert len(svm_rows) == 1 and svm_rows[0]["loss"] is None
    assert "svm-sgd" in capsys.readouterr().out


def test_svm_backend_must_be_known():
    with pytest.raises(
        ConfigError, match=r"`svm_backend` must be one of \('liblinear', 'sgd'\), got 'lbfgs'"
    ):
        CompareConfig.from_mapping({"dataset": "synthetic:tiny", "losses": "bce", "svm_backend": "lbfgs"})
