"""``tune``: trials scored on validation, the best trained again into OUT/best, resumable study."""

import csv
import json

import pytest

from mlbalance.errors import ConfigError, RunError

optuna = pytest.importorskip("optuna", reason="the tune extra is not installed")


def read_trials(out):
    with (out / "trials.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_tune_picks_the_best_validation_trial_and_resumes(tmp_path):
    from mlbalance import load_run
    from mlbalance.tune import tune

    out = tmp_path / "tune"
    seen = []
    result = tune("synthetic:tiny", out, trials=5, on_trial=lambda *a: seen.append(a))
    rows = read_trials(out)
    assert [int(r["trial"]) for r in rows] == [0, 1, 2, 3, 4] and [a[0] for a in seen] == [1, 2, 3, 4, 5]
    finished = [r for r in rows if r["state"] == "complete"]
    best_row = max(finished, key=lambda r: float(r["objective"]))
    assert result.best_value == pytest.approx(float(best_row["objective"]))
    assert seen[-1][2] == pytest.approx(result.best_value)  # best so far, as the progress bar shows
    best = load_run(out / "best")  # a normal run directory
    assert best.config["model"] == best_row["model"]
    assert best.config["threshold"]["method"] == best_row["threshold"]
    (val,) = [r for r in best.metrics if r["split"] == "validation" and r["group"] == "total"]
    assert val["micro_f1"] == pytest.approx(float(best_row["val_micro_f1"]))  # the refit is identical
    # ranked by the mean of the cross-fitted validation micro- and macro-F1 (thresholds tuned without
    # the documents they predict)
    cross_fitted = (float(best_row["cross_fitted_micro_f1"]) + float(best_row["cross_fitted_macro_f1"])) / 2
    assert result.best_value == pytest.approx(cross_fitted)
    md = (out / "tune.md").read_text()
    assert "## Chosen settings" in md and "## Leaderboard" in md and (out / "plots" / "tune.png").is_file()

    again = tune("synthetic:tiny", out, trials=7)  # continues the study: two more trials
    rows_again = read_trials(out)
    assert len(rows_again) == 7 and rows_again[:5] == rows
    assert again.best_value >= result.best_value


def test_a_new_tune_starts_from_the_defaults_and_the_readme_recipe(tmp_path):
    from mlbalance import train
    from mlbalance.tune import tune

    out = tmp_path / "tune"
    tune("synthetic:tiny", out, trials=4, scoring="validation")
    rows = read_trials(out)
    assert [(r["model"], r["loss"], r["threshold"], r["at_least_one"]) for r in rows] == [
        ("tfidf", "db", "grid", "False"),
        ("svm", "", "grid", "False"),
        ("tfidf", "cb-ntr", "micromacro-cv", "True"),
        ("svm", "", "micromacro-cv", "True"),
    ]
    for row, kind in zip(rows[:2], ("tfidf", "svm")):  # the first two are `train` with no flags
        run = train("synthetic:tiny", model=kind)
        (val,) = [r for r in run.metrics if r["split"] == "validation" and r["group"] == "total"]
        assert float(row["val_micro_f1"]) == pytest.approx(val["micro_f1"], abs=1e-12)


def test_a_trial_running_when_the_budget_is_spent_stops_at_its_next_report(tmp_path):
    import sqlite3

    from mlbalance.tune import tune

    out = tmp_path / "tune"
    with pytest.raises(RunError, match=r"no trial of the tune .* finished"):
        tune("synthetic:tiny", out, budget=0.01, trials=None, models=["tfidf"])
    with sqlite3.connect(out / "study.db") as db:
        states = [state for (state,) in db.execute("SELECT state FROM trials ORDER BY number")]
    assert states[0] == "PRUNED" and "RUNNING" not in states  # stopped, not left running


def test_tune_refuses_another_setting_in_the_same_folder_and_bad_arguments(tmp_path):
    from mlbalance.tune import tune

    out = tmp_path / "tune"
    tune("synthetic:tiny", out, trials=1, models=["svm"])
    with pytest.raises(RunError, match="holds a tune of another setting"):
        tune("synthetic:tiny", out, trials=2, models=["svm"], objective="macro")
    for kwargs, message in (
        ({"objective": "f1"}, "`objective` must be one of"),
        ({"models": ["transformer"]}, "`models` must be some of"),
        ({"budget": None, "trials": None}, "give a `budget`"),
        ({"budget": -1}, "`budget` must be a number of seconds > 0"),
        ({"trials": 0}, "`trials` must be an integer >= 1"),
        ({"thresholds": ["top-k"]}, "`thresholds` must be some of"),
    ):
        with pytest.raises(ConfigError, match=message):
            tune("synthetic:tiny", tmp_path / "other", **kwargs)


def test_svm_trials_store_no_loss_and_tfidf_trials_their_loss_options():
    from mlbalance.config import DataConfig
    from mlbalance.tune import suggest_config

    data = DataConfig("synthetic:tiny")
    fixed = {"model": "svm", "threshold": "grid", "at_least_one": False, "min_df": 1, "ngram_max": 1}
    fixed["C"] = 0.5
    svm = suggest_config(optuna.trial.FixedTrial(fixed), data, ["svm"], 0)
    assert svm.model == "svm" and svm.model_options == {"min_df": 1, "ngram_range": (1, 1), "C": 0.5}
    params = {"model": "tfidf", "threshold": "per-label", "at_least_one": True, "min_df": 2, "ngram_max": 2,
              "loss": "cb-ntr", "lr_scale": 1.0, "max_epochs": 12, "patience": 4, "cb_beta": 0.99,
              "ntr_lambda": 2.0, "ntr_kappa": 0.05}  # fmt: skip
    tfidf = suggest_config(optuna.trial.FixedTrial(params), data, ["tfidf"], 3)
    assert tfidf.loss == "cb-ntr" and tfidf.seed == 3 and tfidf.threshold.at_least_one
    assert tfidf.model_options["loss_options"] == {"cb_beta": 0.99, "ntr_lambda": 2.0, "ntr_kappa": 0.05}
    assert tfidf.model_options["lr"] == 3000.0 and tfidf.model_options["ngram_range"] == (1, 2)


def test_cli_tune(tmp_path, capsys):
    from mlbalance.cli import main

    out = tmp_path / "t"
    args = ["tune", "--dataset", "synthetic:tiny", "--out", str(out), "--trials", "2", "--models", "svm",
            "--scoring", "validation"]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "2 trials (2 finished)" in err and f"leaderboard in {out / 'tune.md'}" in err
    assert json.loads((out / "best" / "config.json").read_text())["run"]["model"] == "svm"


def test_trials_that_trail_after_their_first_epochs_are_pruned(tmp_path):
    from mlbalance.tune import tune

    out = tmp_path / "tune"
    tune("synthetic:tiny", out, trials=7, models=["tfidf"], objective="mean")
    rows = read_trials(out)
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert pruned, rows  # the seeded search prunes trials 5 and 6 here
    for r in pruned:
        assert r["objective"] == "" and int(r["pruned_after"]) >= 3 and r["val_micro_f1"] == ""


def test_a_killed_tune_keeps_its_finished_trials_and_continues(tmp_path):
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    out = tmp_path / "tune"
    args = [sys.executable, "-m", "mlbalance", "tune", "--dataset", "synthetic:tiny", "--out", str(out),
            "--models", "tfidf", "--trials", "40"]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finished():  # read-only: opening the study with Optuna would write its schema
        if not (out / "study.db").exists():
            return []
        try:
            with sqlite3.connect(f"file:{out / 'study.db'}?mode=ro", uri=True) as db:
                return [n for (n,) in db.execute("SELECT number FROM trials WHERE state = 'COMPLETE'")]
        except sqlite3.OperationalError:  # no tables yet, or locked by the writer
            return []

    deadline = time.monotonic() + 120
    while len(finished()) < 2:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = finished()
    assert not (out / "best").exists()  # killed before the end: no best/ yet, nothing half-written
    from mlbalance.tune import tune

    result = tune("synthetic:tiny", out, trials=len(kept) + 3, models=["tfidf"])
    assert set(kept) <= set(finished()) and (out / "best" / "COMPLETE").is_file()
    assert len(result.trials) >= len(kept) + 2  # the new trials were added to the old study


def test_the_thresholdings_searched_can_be_restricted(tmp_path):
    from mlbalance.tune import tune

    out = tmp_path / "tune"
    tune("synthetic:tiny", out, trials=4, models=["svm"], thresholds=["per-label-cv", "micromacro-cv"])
    assert {r["threshold"] for r in read_trials(out)} <= {"per-label-cv", "micromacro-cv"}
    with pytest.raises(RunError, match="holds a tune of another setting"):
        tune("synthetic:tiny", out, trials=5, models=["svm"])  # all five thresholdings: another search


def test_the_encoder_models_are_searched_with_fixed_options(tmp_path):
    import importlib.util
    from pathlib import Path

    pytest.importorskip("transformers")
    path = Path(__file__).resolve().parent / "models" / "transformer_fixtures.py"
    spec = importlib.util.spec_from_file_location("transformer_fixtures_for_tune", path)
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    corpus = fixtures.tiny_corpus(n_train=96, n_val=32, n_test=32)
    encoder = fixtures.make_tiny_encoder(tmp_path / "encoder", corpus)
    from mlbalance.tune import tune

    fixed = {"encoder": str(encoder), "max_length": 32, "cache_dir": str(tmp_path / "vectors")}
    result = tune(corpus, tmp_path / "tune", trials=4, models=["svm-hybrid", "hybrid"], model_options=fixed,
                  thresholds=["grid", "global-optimal"])  # fmt: skip
    rows = read_trials(tmp_path / "tune")
    assert {r["model"] for r in rows} <= {"svm-hybrid", "hybrid"} and all(r["embedding_weight"] for r in rows)
    assert result.best.model.encoder == str(encoder) and (tmp_path / "tune" / "best" / "COMPLETE").is_file()
    with pytest.raises(ConfigError, match=r"no searched model .* takes the option"):
        tune(corpus, tmp_path / "other", trials=1, models=["svm"], model_options={"encoder": str(encoder)})


def test_the_ray_engine_runs_the_same_study_on_a_local_ray(tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    from mlbalance.tune import tune

    out = tmp_path / "tune"
    seen = []
    result = tune("synthetic:tiny", out, trials=3, models=["svm", "tfidf"], engine="ray",
                  on_trial=lambda *a: seen.append(a))  # fmt: skip
    rows = read_trials(out)
    assert len(rows) == 3 and all(r["state"] == "complete" and r["val_micro_f1"] for r in rows)
    assert [a[0] for a in seen] == [1, 2, 3] and (out / "best" / "COMPLETE").is_file()
    assert result.best_value == pytest.approx(max(float(r["objective"]) for r in rows))
    again = tune("synthetic:tiny", out, trials=5, models=["svm", "tfidf"])  # the same study, on Optuna
    assert len(again.trials) == 5 and [r["trial"] for r in again.trials[:3]] == [0, 1, 2]


def test_the_ray_engine_prunes_trials_that_trail_after_their_first_epochs(tmp_path):
    """The Optuna engine's pruning test on Ray, one trial at a time: the same study prunes the same
    trials (the seeded search draws the same configurations)."""
    pytest.importorskip("ray", reason="the ray extra is not installed")
    from mlbalance.tune import tune

    on_ray, on_optuna = tmp_path / "ray", tmp_path / "optuna"
    tune("synthetic:tiny", on_ray, trials=7, models=["tfidf"], objective="mean", engine="ray",
         concurrent_trials=1)  # fmt: skip
    tune("synthetic:tiny", on_optuna, trials=7, models=["tfidf"], objective="mean")
    rows, expected = read_trials(on_ray), read_trials(on_optuna)
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert pruned, rows
    for r in pruned:
        assert r["objective"] == "" and int(r["pruned_after"]) >= 3 and r["val_micro_f1"] == ""
    assert [(r["state"], r["pruned_after"]) for r in rows] == [
        (r["state"], r["pruned_after"]) for r in expected
    ]


def test_the_command_line_runs_the_ray_engine(tmp_path, capsys):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    from mlbalance.cli import main

    out = tmp_path / "tune"
    args = ["tune", "--dataset", "synthetic:tiny", "--out", str(out), "--models", "svm", "--trials", "2",
            "--engine", "ray", "--concurrent-trials", "1", "-o", "max_iter=500"]  # fmt: skip
    assert main(args) == 0
    rows = read_trials(out)
    assert len(rows) == 2 and all(r["state"] == "complete" for r in rows)
    assert json.loads((out / "best" / "config.json").read_text())["run"]["model_options"]["max_iter"] == 500
