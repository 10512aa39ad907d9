"""Corpus, Split and LabelSpace: encoding, decoding, validation."""

from __future__ import annotations

import numpy as np
import pytest

from mlbalance.data import Corpus, LabelSpace, Split
from mlbalance.errors import DataError


def reference_encode(space, labels):
    y = np.zeros((len(labels), len(space)), dtype=np.float32)
    for row, doc in enumerate(labels):
        for name in doc:
            if name in space.index:
                y[row, space.index[name]] = 1.0
    return y


def test_encode_matches_reference_and_round_trips():
    rng = np.random.default_rng(0)
    names = [f"l{i}" for i in range(40)]
    space = LabelSpace(names)
    labels = [tuple(rng.choice(names, size=rng.integers(0, 6))) for _ in range(300)]
    y = space.encode(labels)
    assert y.shape == (300, 40) and y.dtype == np.float32 and y.has_sorted_indices
    np.testing.assert_array_equal(y.toarray(), reference_encode(space, labels))
    decoded = space.decode(y)
    assert [sorted(set(d)) for d in labels] == [sorted(d) for d in decoded]


def test_encode_unknown_labels():
    space = LabelSpace(["a", "b"])
    with pytest.raises(DataError, match=r"document 1: label 'zz' is not in the label space \(2 labels\)"):
        space.encode([["a"], ["b", "zz"]])
    y = space.encode([["a", "zz"], ["zz"]], unknown="ignore")
    np.testing.assert_array_equal(y.toarray(), [[1, 0], [0, 0]])
    with pytest.raises(DataError, match="`unknown` must be"):
        space.encode([["a"]], unknown="skip")


def test_encode_empty_inputs():
    assert LabelSpace(["a"]).encode([]).shape == (0, 1)
    assert LabelSpace([]).encode([[], []]).shape == (2, 0)


def test_label_space_rejects_repeats():
    with pytest.raises(DataError, match=r"label names must be unique; repeated: \['a'\]"):
        LabelSpace(["a", "b", "a"])


def test_split_lengths_must_agree():
    with pytest.raises(DataError, match="as many texts, label lists and ids"):
        Split(texts=["a"], labels=[], ids=["1"])


def test_corpus_split_access(tiny):
    assert tiny.split("train") is tiny.train
    with pytest.raises(DataError, match="split must be one of"):
        tiny.split("dev")
    assert isinstance(tiny, Corpus)
    assert tiny.labels("test").shape == (len(tiny.test), len(tiny.label_space))
