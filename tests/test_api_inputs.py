"""The Python API checks its inputs: a clear TypeError naming the argument, and [] gives an empty result."""

import numpy as np
import pytest

from mlbalance import load_run


@pytest.fixture(scope="module")
def run(tfidf_run):
    return load_run(tfidf_run)


def test_no_text_is_an_empty_result(run):
    assert run.predict([]) == []
    labels, scores = run.predict_with_scores([])
    assert labels == [] and scores.shape == (0, len(run.labels))
    assert run.model.scores([]).shape == (0, len(run.labels))
    assert run.scores(iter([])).dtype == np.float32


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("one text", r"`texts` must be a list of strings, got a single str; pass \[texts\] for one text"),
        (b"bytes", r"`texts` must be a list of strings, got a single bytes"),
        ([None], r"`texts\[0\]` must be a string, got NoneType: None"),
        (["fine", 3], r"`texts\[1\]` must be a string, got int: 3"),
        (5, r"`texts` must be a list of strings, got int"),
    ],
)
def test_wrong_texts_are_a_type_error_naming_the_argument(run, texts, message):
    for call in (run.predict, run.scores, run.predict_with_scores, run.model.scores):
        with pytest.raises(TypeError, match=message):
            call(texts)


def test_a_tuple_or_generator_of_texts_is_fine(run):
    texts = ["pugega takege", "vapigo titefe"]
    assert run.predict(tuple(texts)) == run.predict(texts) == run.predict(t for t in texts)
