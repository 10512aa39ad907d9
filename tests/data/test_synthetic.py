"""Synthetic corpora: seeded, long-tailed, co-occurring, and learnable."""

from __future__ import annotations

import numpy as np
import pytest

from mlbalance.data import load_corpus
from mlbalance.data.synthetic import PRESETS, SyntheticConfig, generate, pseudo_words
from mlbalance.errors import ConfigError, DataError


def test_tiny_shape(tiny):
    assert len(tiny.train) + len(tiny.validation) + len(tiny.test) == 600
    assert len(tiny.label_space) == 20
    assert tiny.preset == "reuters"
    assert tiny.name == "synthetic:tiny"
    stats = tiny.stats()
    sizes = stats.group_sizes()
    assert all(sizes[g] > 0 for g in ("head", "medium", "tail")), sizes
    assert 1.2 < stats.label_cardinality < 1.6
    assert all(len(labels) >= 1 for labels in tiny.train.labels)
    assert all(len(set(labels)) == len(labels) for labels in tiny.train.labels)


def test_long_tail(tiny):
    freq = np.sort(tiny.stats().class_freq)[::-1]
    assert freq[0] > 10 * max(freq[-1], 1)


def test_seeded_and_reproducible(tiny):
    again = load_corpus("synthetic:tiny")
    assert again.train == tiny.train and again.test == tiny.test
    other = load_corpus("synthetic:tiny", seed=1)
    assert other.train.texts != tiny.train.texts


def test_labels_co_occur_within_groups(tiny):
    groups = np.asarray(tiny.metadata["groups"])
    y = tiny.labels("train").toarray()
    co = y.T @ y
    np.fill_diagonal(co, 0)
    same = groups[:, None] == groups[None, :]
    np.fill_diagonal(same, False)
    # Per label pair, documents sharing a group co-occur far more often than across groups.
    assert co[same].mean() > 3 * co[~same].mean()


def test_texts_carry_label_signal(tiny):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.multiclass import OneVsRestClassifier

    vec = TfidfVectorizer()
    x_train = vec.fit_transform(tiny.train.texts)
    y_train = tiny.labels("train").toarray()
    keep = y_train.sum(axis=0) > 0
    clf = OneVsRestClassifier(LogisticRegression(C=10, max_iter=200)).fit(x_train, y_train[:, keep])
    pred = clf.predict_proba(vec.transform(tiny.test.texts)) > 0.3
    y_test = tiny.labels("test").toarray()[:, keep]
    assert f1_score(y_test, pred, average="micro") > 0.6
    # The same model on shuffled labels learns nothing.
    rng = np.random.default_rng(0)
    clf_null = OneVsRestClassifier(LogisticRegression(C=10, max_iter=200)).fit(
        x_train, y_train[rng.permutation(len(y_train))][:, keep]
    )
    pred_null = clf_null.predict_proba(vec.transform(tiny.test.texts)) > 0.3
    assert f1_score(y_test, pred_null, average="micro") < 0.4


def test_small_preset():
    corpus = load_corpus("synthetic:small")
    assert len(corpus.label_space) == 50
    assert sum(len(s) for s in (corpus.train, corpus.validation, corpus.test)) == 3000


def test_presets_match_the_paper_sizes():
    assert PRESETS["reuters-like"].n_docs == 10_788 and PRESETS["reuters-like"].n_labels == 90
    assert PRESETS["pubmed-like"].n_docs == 224_897 and PRESETS["pubmed-like"].n_labels == 18_211
    assert PRESETS["pubmed-like"].preset == "pubmed"


def test_reuters_like_profile():
    corpus = load_corpus("synthetic:reuters-like")
    assert (len(corpus.validation), len(corpus.test)) == (1000, 3019)
    stats = corpus.stats()
    assert stats.label_cardinality == pytest.approx(1.24, abs=0.03)
    sizes = stats.group_sizes()
    assert all(20 <= sizes[g] <= 40 for g in sizes), sizes


def test_pseudo_words_distinct():
    words = pseudo_words(5000)
    assert len(set(words.tolist())) == 5000
    assert all(w.isalpha() for w in words[:100])


def test_bad_options():
    with pytest.raises(DataError, match="unknown synthetic preset 'huge'"):
        load_corpus("synthetic:huge")
    with pytest.raises(ConfigError, match=r"unknown synthetic option\(s\) \['colour'\]"):
        load_corpus("synthetic:tiny", colour=1)
    with pytest.raises(ConfigError, match="`group_prob` must be in"):
        SyntheticConfig(n_docs=10, n_labels=2, group_prob=2.0)
    with pytest.raises(ConfigError, match="`test` must leave between"):
        generate(SyntheticConfig(n_docs=10, n_labels=2, test=10))
    with pytest.raises(DataError, match="takes no data path"):
        load_corpus("synthetic:tiny", data="x")


def test_progress_callback():
    calls = []
    load_corpus(
        "synthetic:tiny", progress=lambda stage, done, total, **info: calls.append((stage, done, total))
    )
    assert calls[0] == ("generate", 0, 3) and calls[-1] == ("generate", 3, 3)
