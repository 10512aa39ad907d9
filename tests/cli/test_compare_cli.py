"""``mlbalance compare``."""

import json

import pytest

from conftest import one_line_error


def test_compare_two_losses_writes_report_and_resumes(tmp_path, cli, fake_tfidf):
    out = tmp_path / "cmp"
    args = ("compare", "--dataset", "synthetic:tiny", "--losses", "bce,db", "--no-svm", "--out", out)
    result = cli(*args)
    assert result.code == 0, result.err
    assert "Table 2" in result.out and "| tfidf | bce |" in result.out and "| tfidf | db |" in result.out
    rows = json.loads((out / "results.json").read_text())
    assert {(r["model"], r["loss"]) for r in rows} == {("tfidf", "bce"), ("tfidf", "db")}
    assert {r["split"] for r in rows} == {"validation", "test"}
    for name in (
        "results.md",
        "results.csv",
        "plots/f1_by_group.png",
        "tfidf-bce/COMPLETE",
        "tfidf-db/COMPLETE",
    ):
        assert (out / name).exists(), name
    again = cli(*args)
    assert again.code == 0
    assert "[1/2] tfidf-bce: reusing the finished run" in again.err
    assert json.loads((out / "results.json").read_text()) == rows


def test_compare_config_file(tmp_path, cli, fake_tfidf):
    config = tmp_path / "cmp.toml"
    config.write_text('dataset = "synthetic:tiny"\nlosses = ["focal"]\nsvm = false\nmax-epochs = 2\n')
    out = tmp_path / "cmp"
    assert cli("compare", "--config", config, "--out", out).code == 0
    run = json.loads((out / "tfidf-focal" / "config.json").read_text())["run"]
    assert run["model_options"] == {"max_epochs": 2} and run["loss"] == "focal"


def test_compare_bad_input(tmp_path, cli, fake_tfidf):
    out = tmp_path / "cmp"
    line = one_line_error(
        cli("compare", "--dataset", "synthetic:tiny", "--losses", "", "--no-svm", "--out", out)
    )
    assert "at least one loss or --svm" in line
    line = one_line_error(cli("compare", "--dataset", "synthetic:tiny", "--losses", "db,db", "--out", out))
    assert "names a loss twice" in line
    (tmp_path / "file").write_text("x")
    line = one_line_error(
        cli("compare", "--dataset", "synthetic:tiny", "--losses", "db", "--out", tmp_path / "file")
    )
    assert "is not a directory" in line


@pytest.mark.slow  # two spawned worker processes import torch and scikit-learn: ~20 s of CPU
def test_compare_real_models_in_two_processes_equals_one(tmp_path, cli):
    """The real TF-IDF model and SVM; cells trained in 2 worker processes give what 1 process gives."""
    from mlbalance.experiment import train

    out = tmp_path / "cmp"
    args = ("--dataset", "synthetic:tiny", "--losses", "db", "--svm", "--max-epochs", "2")
    result = cli("compare", *args, "--jobs", "2", "--out", out)
    assert result.code == 0, result.err
    rows = json.loads((out / "results.json").read_text())
    totals = [(r["model"], r["loss"]) for r in rows if r["split"] == "test" and r["group"] == "total"]
    assert totals == [("tfidf", "db"), ("svm", None)]
    assert "| svm | - |" in result.out
    alone = train("synthetic:tiny", model="tfidf", loss="db", max_epochs=2)
    parallel = [r for r in rows if r["loss"] == "db"]
    assert parallel == json.loads(json.dumps(alone.metrics))


def test_compare_seeds_with_real_models_report_their_spread(tmp_path, cli):
    import numpy as np

    out = tmp_path / "cmp"
    args = ("--dataset", "synthetic:tiny", "--losses", "bce", "--no-svm", "--max-epochs", "2")
    args += ("--seeds", "0,1,2")
    result = cli("compare", *args, "--out", out)
    assert result.code == 0, result.err
    by_seed = json.loads((out / "results_by_seed.json").read_text())
    rows = json.loads((out / "results.json").read_text())
    pick = [r["macro_f1"] for r in by_seed if r["split"] == "test" and r["group"] == "total"]
    (total,) = [r for r in rows if r["split"] == "test" and r["group"] == "total"]
    assert len(pick) == 3 and len(set(pick)) > 1  # the seeds give different models
    assert total["macro_f1_std"] == pytest.approx(np.std(pick, ddof=1))
    assert f"± {100 * total['macro_f1_std']:.2f}" in result.out
    line = one_line_error(cli("compare", *args[:-1], "0,x", "--out", out))
    assert "`seeds` must be comma-separated integers" in line


def test_compare_refuses_a_folder_that_holds_no_comparison(tmp_path, cli, fake_tfidf):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "results.md").write_text("my notes")
    args = ("compare", "--dataset", "synthetic:tiny", "--losses", "db", "--no-svm", "--out", mine)
    line = one_line_error(cli(*args))
    assert "holds no comparison (no compare.json)" in line and "--overwrite" in line
    assert sorted(p.name for p in mine.iterdir()) == ["results.md"]
    assert (mine / "results.md").read_text() == "my notes"
    assert cli(*args, "--overwrite").code == 0
    assert (mine / "compare.json").is_file() and (mine / "tfidf-db" / "COMPLETE").is_file()
    assert cli(*args).code == 0  # now a comparison: reruns resume in it
