"""The shared argument checks: accepted values pass, others raise ConfigError naming the value."""

import numpy as np
import pytest

from mlbalance._checks import check_choice, check_float, check_int
from mlbalance.errors import ConfigError


@pytest.mark.parametrize("value", [1, 5, np.int64(3)])
def test_check_int_accepts(value):
    check_int("n", value, minimum=1)


@pytest.mark.parametrize("value", [0, -2, 1.5, "3", True, None])
def test_check_int_rejects(value):
    with pytest.raises(ConfigError, match=rf"`n` must be an integer >= 1, got {value!r}"):
        check_int("n", value, minimum=1)


def test_check_float_bounds():
    check_float("lr", 0.1, low=0.0, low_open=True)
    check_float("p", 0.0, low=0.0, high=1.0, high_open=True)
    check_float("x", np.float32(2.5))
    with pytest.raises(ConfigError, match=r"`lr` must be a number > 0.0, got 0.0"):
        check_float("lr", 0.0, low=0.0, low_open=True)
    with pytest.raises(ConfigError, match=r"`p` must be a number >= 0.0 and < 1.0, got 1.0"):
        check_float("p", 1.0, low=0.0, high=1.0, high_open=True)
    with pytest.raises(ConfigError, match=r"`x` must be a finite number, got nan"):
        check_float("x", float("nan"))
    with pytest.raises(ConfigError, match=r"`x` must be a finite number, got 'a'"):
        check_float("x", "a")


def test_check_choice():
    check_choice("kind", "svm", ("tfidf", "svm"))
    with pytest.raises(ConfigError, match=r"`kind` must be one of \('tfidf', 'svm'\), got 'bert'"):
        check_choice("kind", "bert", ("tfidf", "svm"))
