"""``mlbalance evaluate``."""

import json

import numpy as np

from conftest import one_line_error


def test_evaluate_prints_tables(cli, trained_run):
    result = cli("evaluate", trained_run)
    assert result.code == 0, result.err
    assert "Table 2 — test" in result.out and "Table 3 — test" in result.out


def test_evaluate_json_equals_metrics_file(cli, trained_run):
    stored = json.loads((trained_run / "metrics.json").read_text())
    result = cli("evaluate", trained_run, "--json")
    assert json.loads(result.out) == stored
    test_only = json.loads(cli("evaluate", trained_run, "--json", "--split", "test").out)
    assert test_only == [r for r in stored if r["split"] == "test"]
    assert {"model", "loss", "split", "group", "micro_f1", "macro_f1", "threshold"} <= set(test_only[0])


def test_rescore_reproduces_the_stored_metrics(cli, trained_run):
    stored = json.loads((trained_run / "metrics.json").read_text())
    result = cli("evaluate", trained_run, "--rescore", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == stored


def test_threshold_is_retuned_and_stored(cli, trained_run):
    result = cli("evaluate", trained_run, "--threshold", "per-label", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert {r["threshold_method"] for r in rows} == {"per-label"}
    assert json.loads((trained_run / "thresholds.json").read_text())["method"] == "per-label"
    assert json.loads((trained_run / "metrics.json").read_text()) == rows


def test_per_label_cv_flags_reach_the_stored_thresholds(cli, trained_run):
    result = cli(
        "evaluate", trained_run, "--threshold", "per-label-cv", "--cv-folds", "2", "--fbr", "0.3",
        "--at-least-one", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert {r["threshold_method"] for r in json.loads(result.out)} == {"per-label-cv"}
    stored = json.loads((trained_run / "thresholds.json").read_text())
    assert (stored["method"], stored["fbr"], stored["at_least_one"]) == ("per-label-cv", 0.3, True)
    config = json.loads((trained_run / "config.json").read_text())
    assert config["run"]["threshold"]["cv_folds"] == 2
    bad = cli("evaluate", trained_run, "--threshold", "grid", "--fbr", "0.3")
    assert "`fbr` applies only to threshold 'per-label-cv'" in one_line_error(bad)


def test_micromacro_thresholds_from_the_cli(cli, trained_run):
    result = cli("evaluate", trained_run, "--threshold", "micromacro-cv", "--cv-folds", "2", "--json")
    assert result.code == 0, result.err
    assert {r["threshold_method"] for r in json.loads(result.out)} == {"micromacro-cv"}
    stored = json.loads((trained_run / "thresholds.json").read_text())
    assert stored["method"] == "micromacro-cv" and len(stored["per_label"]) > 0
    bad = cli("evaluate", trained_run, "--threshold", "micromacro-cv", "--fbr", "0.3")
    assert "`fbr` applies only to threshold 'per-label-cv'" in one_line_error(bad)


def test_unfinished_or_missing_run(tmp_path, cli, trained_run):
    (trained_run / "COMPLETE").unlink()
    assert "unfinished run" in one_line_error(cli("evaluate", trained_run))
    assert "no run directory at" in one_line_error(cli("evaluate", tmp_path / "missing"))


def test_fixed_threshold_from_the_cli(tmp_path, cli, trained_run):
    result = cli("evaluate", trained_run, "--threshold", "fixed", "--threshold-value", "0.3", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert {(r["threshold_method"], r["threshold"]) for r in rows} == {("fixed", float(np.float32(0.3)))}
    assert {"p@1", "ndcg@3", "psp@5"} <= set(rows[0])
    line = one_line_error(cli("evaluate", trained_run, "--threshold", "grid", "--threshold-value", "0.3"))
    assert "applies only to threshold 'fixed'" in line
    out = tmp_path / "fixed"
    trained = cli("train", "--dataset", "synthetic:tiny", "--threshold", "fixed", "--out", out, "--quiet")
    assert trained.code == 0, trained.err
    assert json.loads((out / "thresholds.json").read_text())["value"] == 0.5


def test_an_svm_run_is_retuned_and_one_of_an_earlier_version_too(cli, tmp_path):
    out = tmp_path / "svm"
    assert cli("train", "--dataset", "synthetic:tiny", "--model", "svm", "--out", out).code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["run"]["loss"] is None  # the SVM takes no loss; none is stored
    config["run"]["loss"] = "db"  # what earlier versions stored for the SVM
    (out / "config.json").write_text(json.dumps(config))
    result = cli("evaluate", out, "--threshold", "global-optimal", "--json")
    assert result.code == 0, result.err
    assert {(r["loss"], r["threshold_method"]) for r in json.loads(result.out)} == {(None, "global-optimal")}
    assert json.loads((out / "config.json").read_text())["run"]["loss"] is None
    args = ("--dataset", "synthetic:tiny", "--model", "svm", "--loss", "db", "--out", tmp_path / "x")
    refused = cli("train", *args)
    assert refused.code != 0 and "takes no loss" in one_line_error(refused)
