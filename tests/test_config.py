"""Typed configuration and config files (mlbalance.config, mlbalance.config_files)."""

import pytest

from mlbalance.config import (
    CompareConfig,
    ConfigError,
    DataConfig,
    ThresholdConfig,
    TrainConfig,
    normalise_keys,
    parse_losses,
)
from mlbalance.config_files import load_config_file


def test_train_config_from_flat_mapping_splits_model_options():
    cfg = TrainConfig.from_mapping(
        {
            "dataset": "synthetic:tiny",
            "model": "tfidf",
            "loss": "focal",
            "max-epochs": 3,
            "lr": 0.5,
            "seed": 4,
        }
    )
    assert cfg.data == DataConfig("synthetic:tiny")
    assert cfg.loss == "focal"
    assert cfg.seed == 4
    assert cfg.model_options == {"max_epochs": 3, "lr": 0.5}
    assert cfg.threshold == ThresholdConfig("auto", None)


def test_train_config_defaults_and_round_trip_dict():
    cfg = TrainConfig(DataConfig("x.jsonl"))
    d = cfg.to_dict()
    assert d["model"] == "tfidf" and d["loss"] == "db" and d["seed"] == 0
    assert d["data"] == {"source": "x.jsonl", "data": None, "options": {}}
    assert d["threshold"] == {
        "method": "auto",
        "k": None,
        "cv_folds": 3,
        "fbr": None,
        "at_least_one": False,
        "value": None,
    }


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({}, "`dataset` is required"),
        (
            {"dataset": "d", "model": "bert"},
            r"`model` must be one of \('tfidf', 'svm', 'svm-sgd', 'transformer', 'embedding', 'hybrid', "
            r"'svm-hybrid'\), got 'bert'",
        ),
        ({"dataset": "d", "seed": -1}, r"`seed` must be an integer >= 0, got -1"),
        ({"dataset": "d", "seed": "1"}, r"`seed` must be an integer >= 0, got '1'"),
        ({"dataset": "d", "threshold": "best"}, r"`threshold` must be one of .*got 'best'"),
        ({"dataset": "d", "threshold": "grid", "top_k": 2}, "applies only to threshold 'top-k'"),
        ({"dataset": "d", "threshold": "grid", "threshold_value": 0.3}, "applies only to threshold 'fixed'"),
        ({"dataset": "d", "threshold": "fixed", "threshold_value": "x"}, "`threshold_value` must be a"),
        ({"dataset": "d", "threshold": "fixed", "threshold_value": float("nan")}, "must be a finite number"),
        ({"dataset": "d", "threshold": "top-k", "top_k": 0}, r"`top_k` must be an integer >= 1, got 0"),
        ({"dataset": "d", "losses": "all"}, "setting of `compare`"),
        ({"dataset": "d", "threshold": "per-label-cv", "cv_folds": 1}, r"`cv_folds` must be an integer >= 2"),
        ({"dataset": "d", "threshold": "per-label-cv", "fbr": 1.5}, r"`fbr` must be a number >= 0.0 and <="),
        ({"dataset": "d", "fbr": 0.2}, "applies only to threshold 'per-label-cv'"),
        ({"dataset": "d", "at_least_one": "yes"}, "`at_least_one` must be true or false"),
        ({"dataset": "d", "model_options": {"seed": 3}}, "`seed` is a run setting"),
        ({"dataset": "d", "max_epochs": object()}, "must hold plain values"),
    ],
)
def test_train_config_rejects_bad_values(values, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig.from_mapping(values)


def test_threshold_settings_are_run_keys_not_model_options():
    config = TrainConfig.from_mapping(
        {
            "dataset": "d",
            "threshold": "per-label-cv",
            "cv-folds": 5,
            "fbr": 0.3,
            "at-least-one": True,
            "lr": 2,
        }
    )
    assert (config.threshold.method, config.threshold.cv_folds) == ("per-label-cv", 5)
    assert (config.threshold.fbr, config.threshold.at_least_one) == (0.3, True)
    assert dict(config.model_options) == {"lr": 2}
    assert ThresholdConfig.from_values(config.threshold.to_values()) == config.threshold


def test_compare_config_resolves_losses_and_cells():
    cfg = CompareConfig.from_mapping({"dataset": "d", "losses": "bce, db", "svm": True, "max_epochs": 2})
    assert cfg.losses == ("bce", "db")
    assert cfg.train_config("db").model == "tfidf"
    assert cfg.train_config("db").model_options == {"max_epochs": 2}
    svm = cfg.train_config(None)
    assert svm.model == "svm"
    assert svm.model_options == {}  # the main model's options never change the baseline
    cfg = CompareConfig.from_mapping({"dataset": "d", "losses": "db", "svm": True, "svm_options": {"C": 0.5}})
    assert cfg.train_config(None).model_options == {"C": 0.5}


def test_compare_config_rejects():
    with pytest.raises(ConfigError, match=r"at least one loss or the SVM \(`svm`\)"):
        CompareConfig(DataConfig("d"), losses=(), svm=False)
    with pytest.raises(ConfigError, match="names a loss twice"):
        CompareConfig(DataConfig("d"), losses=("db", "db"))
    with pytest.raises(ConfigError, match="add the SVM with --svm"):
        CompareConfig(DataConfig("d"), model="svm", losses=("db",))
    with pytest.raises(ConfigError, match="takes `losses`"):
        CompareConfig.from_mapping({"dataset": "d", "loss": "db"})


def test_parse_losses():
    from mlbalance.losses import LOSS_NAMES

    assert parse_losses("all") == tuple(LOSS_NAMES)
    assert parse_losses("ALL") == tuple(LOSS_NAMES)
    assert parse_losses("bce,db") == ("bce", "db")
    assert parse_losses(["focal"]) == ("focal",)
    assert parse_losses(None) == ()
    with pytest.raises(ConfigError, match=r"unknown loss 'dbb'; choose from"):
        parse_losses("bce,dbb")


def test_seeds_of_a_comparison():
    cfg = CompareConfig.from_mapping({"dataset": "d", "losses": "db", "svm": True, "seeds": "2, 0,1"})
    assert cfg.seeds == (2, 0, 1) and cfg.all_seeds == (2, 0, 1)
    assert cfg.train_config("db", 1).seed == 1 and cfg.train_config(None, 2).seed == 2
    one = CompareConfig.from_mapping({"dataset": "d", "losses": "db", "seed": 4})
    assert one.seeds == () and one.all_seeds == (4,) and one.train_config("db").seed == 4
    assert CompareConfig.from_mapping({"dataset": "d", "losses": "db", "seeds": [3, 5]}).seeds == (3, 5)
    for bad, message in (("0,a", "comma-separated integers"), ([1, -1], "integers >= 0"), ("1,1", "twice")):
        with pytest.raises(ConfigError, match=message):
            CompareConfig.from_mapping({"dataset": "d", "losses": "db", "seeds": bad})


def test_normalise_keys_rejects_duplicates():
    assert normalise_keys({"max-epochs": 1}) == {"max_epochs": 1}
    with pytest.raises(ConfigError, match="given twice"):
        normalise_keys({"max-epochs": 1, "max_epochs": 2})


def test_yaml_and_toml_files_give_the_same_config(tmp_path):
    yaml_path = tmp_path / "c.yaml"
    yaml_path.write_text(
        "dataset: synthetic:tiny\nmodel: tfidf\nloss: cb\nseed: 2\nmax-epochs: 4\n"
        "model_options:\n  hidden: 16\nthreshold: per-label\n"
    )
    toml_path = tmp_path / "c.toml"
    toml_path.write_text(
        'dataset = "synthetic:tiny"\nmodel = "tfidf"\nloss = "cb"\nseed = 2\nmax-epochs = 4\n'
        'threshold = "per-label"\n[model_options]\nhidden = 16\n'
    )
    a = TrainConfig.from_mapping(load_config_file(yaml_path))
    b = TrainConfig.from_mapping(load_config_file(toml_path))
    assert a == b
    assert a.model_options == {"hidden": 16, "max_epochs": 4}
    assert a.threshold.method == "per-label"


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("c.yaml", "dataset: [unclosed\n", "is not valid YAML"),
        ("c.toml", "dataset = \n", "is not valid TOML"),
        ("c.yaml", "- a\n- b\n", "expected a mapping of settings, got list"),
        ("c.json", "{}", r"expected a \.yaml, \.yml or \.toml file"),
    ],
)
def test_bad_config_files(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config_file(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match=r"c\.yaml does not exist"):
        load_config_file(tmp_path / "c.yaml")


def test_empty_yaml_is_an_empty_mapping(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("")
    assert load_config_file(path) == {}
