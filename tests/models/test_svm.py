"""The SVM baseline: sklearn's decision values, constant scores for unfittable labels, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import LinearSVC

from mlbalance.data.corpus import Corpus, LabelSpace
from mlbalance.errors import ConfigError, RunError
from mlbalance.evaluation.monitor import best_global_micro_f1
from mlbalance.models.svm import NO_POSITIVE_SCORE, SvmClassifier


@pytest.fixture(scope="module")
def fitted(corpus):
    return SvmClassifier().fit(corpus)


def test_decision_values_match_sklearn(corpus, fitted):
    vec = TfidfVectorizer(dtype=np.float32)  # the paper's recipe: scikit-learn's default TF-IDF
    x_train = vec.fit_transform(corpus.train.texts)
    ovr = OneVsRestClassifier(LinearSVC(C=1.0, random_state=0)).fit(x_train, corpus.labels("train").toarray())
    expected = ovr.decision_function(vec.transform(corpus.test.texts))
    got = fitted.scores(corpus.test.texts)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert fitted.score_kind == "decision"


def test_learns_better_than_chance(corpus, fitted):
    y_val, y_test = corpus.labels("validation"), corpus.labels("test")
    _, shift = best_global_micro_f1(
        fitted.scores(corpus.validation.texts), y_val, grid=np.arange(-1, 1.01, 0.1)
    )
    assert best_global_micro_f1(fitted.scores(corpus.test.texts), y_test, grid=[shift])[0] > 0.8


def test_label_without_positive_gets_a_constant_very_negative_score(corpus):
    extended = Corpus(
        name="fixture+",
        train=corpus.train,
        validation=corpus.validation,
        test=corpus.test,
        label_space=LabelSpace((*corpus.label_space.names, "never-seen")),
        preset=corpus.preset,
        head_min=corpus.head_min,
        tail_max=corpus.tail_max,
    )
    model = SvmClassifier().fit(extended)
    scores = model.scores(corpus.test.texts)
    assert (scores[:, -1] == NO_POSITIVE_SCORE).all()
    assert model.constant_labels_ == 1
    assert (scores[:, :-1] > NO_POSITIVE_SCORE).all()


def test_save_load_identical_scores(tmp_path, corpus, fitted):
    fitted.save(tmp_path)
    loaded = SvmClassifier.load(tmp_path)
    np.testing.assert_array_equal(loaded.scores(corpus.test.texts), fitted.scores(corpus.test.texts))
    assert loaded.get_config() == fitted.get_config()
    assert loaded.label_space_ == fitted.label_space_
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".pkl", ".pickle", ".joblib")]


@pytest.mark.parametrize(
    ("option", "value"),
    [("C", 0.0), ("svm_loss", "log"), ("class_weight", "auto"), ("max_iter", 0), ("min_df", -1)],
)
def test_bad_config_raises_config_error_naming_value(option, value):
    with pytest.raises(ConfigError, match=rf"`{option}`.*{value!r}"):
        SvmClassifier(**{option: value})


def test_scores_before_fit():
    with pytest.raises(RunError, match="not fitted"):
        SvmClassifier().scores(["text"])


def test_out_of_fold_scores_come_from_models_that_did_not_see_the_document(corpus, fitted):
    from mlbalance.out_of_fold import out_of_fold_scores

    oof = out_of_fold_scores(SvmClassifier, corpus, folds=3, seed=0)
    in_sample = fitted.scores(corpus.train.texts)
    y = corpus.labels("train").toarray().astype(bool)
    assert oof.shape == in_sample.shape and oof.dtype == np.float32
    # Held-out documents score their true labels lower than the model that trained on them does.
    assert oof[y].mean() < in_sample[y].mean()
    with pytest.raises(ConfigError, match=r"`folds`.*1"):
        out_of_fold_scores(SvmClassifier, corpus, folds=1)


def test_cross_fit_keeps_each_fold_models_validation_medians(corpus):
    import dataclasses

    from mlbalance.out_of_fold import cross_fit, fold_assignment, out_of_fold_scores

    fits = cross_fit(SvmClassifier, corpus, folds=3, seed=1)
    np.testing.assert_array_equal(fits.scores, out_of_fold_scores(SvmClassifier, corpus, folds=3, seed=1))
    np.testing.assert_array_equal(fits.folds, fold_assignment(len(corpus.train), 3, seed=1))
    assert fits.validation_medians.shape == (3, len(corpus.label_space))
    keep = np.flatnonzero(fits.folds != 2)
    fold_model = SvmClassifier().fit(dataclasses.replace(corpus, train=corpus.train.subset(keep)))
    np.testing.assert_allclose(
        fits.validation_medians[2], np.median(fold_model.scores(corpus.validation.texts), axis=0)
    )
    assert cross_fit(SvmClassifier, corpus, folds=2, validation_medians=False).validation_medians is None
