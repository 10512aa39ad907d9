"""Every model is a scikit-learn estimator: get_params / set_params, and clone gives an unfitted copy."""

import inspect

import pytest
from sklearn.base import clone

from mlbalance.models.registry import MODELS, build_model, model_class, model_parameters


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_get_params_clone_and_set_params(kind):
    model = build_model(kind)
    params = model.get_params()
    assert sorted(params) == sorted(model_parameters(kind))
    defaults = {
        name: p.default
        for name, p in inspect.signature(model_class(kind).__init__).parameters.items()
        if name != "self"
    }
    assert params == defaults
    copy = clone(model)
    assert type(copy) is type(model) and copy is not model and copy.get_params() == params
    first = sorted(params)[0]
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(no_such_option=1)
    assert model.set_params(**{first: params[first]}) is model


def test_clone_of_a_fitted_model_is_unfitted_with_the_same_settings(small_keyword_corpus):
    model = build_model("tfidf", loss="focal", max_epochs=2, hidden=8, min_df=1)
    model.fit(small_keyword_corpus)
    copy = clone(model)
    assert not hasattr(copy, "label_space_") and hasattr(model, "label_space_")
    assert copy.get_params() == model.get_params() and copy.get_params()["hidden"] == 8
    assert clone(model.set_params(lr=5.0)).lr == 5.0
