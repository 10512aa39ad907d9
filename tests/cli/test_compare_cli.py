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
    assert "at least one loss or the SVM (`svm`)" in line
    line = one_line_error(cli("compare", "--dataset", "synthetic:tiny", "--losses", "db,db", "--out", out))
    assert "names a loss twice" in line
    (tmp_path / "file").write_text("x")
    line = one_line_error(
        cli("compare", "--dataset", "synthetic:tiny", "--losses", "db", "--out", tmp_path / "file")
    )
    assert "is not a directory" in line


def test_compare_real_models_in_two_processes_equals_one(tmp_path, cli, monkeypatch):
    """The real TF-IDF model and SVM; cells trained in 2 worker processes give what 1 process gives,
    and the workers' progress reaches the console's progress bar."""
    import sys

    from mlbalance.experiment import train

    calls = []

    class Recorder:
        def __call__(self, stage, done, total, **info):
            calls.append((stage, done, total, info))

        def close(self):
            pass

        def write(self, line):
            print(line, file=sys.stderr)

    monkeypatch.setattr("mlbalance.cli.compare.TqdmProgress", Recorder)
    out = tmp_path / "cmp"
    args = ("--dataset", "synthetic:tiny", "--losses", "db", "--svm", "--max-epochs", "2")
    result = cli("compare", *args, "--jobs", "2", "--out", out)
    assert result.code == 0, result.err
    runs = [(done, total, info) for stage, done, total, info in calls if stage == "runs"]
    assert runs[0] == (0, 2, {}) and runs[-1] == (2, 2, {})
    stages = {where.rsplit(" ", 1)[0] for _, _, info in runs for where in info.values()}
    assert {"epoch 1", "epoch 2"} <= stages  # the TF-IDF worker's epochs, as they happen
    assert {name for _, _, info in runs for name in info} == {"tfidf-db", "svm"}
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


def test_killing_compare_stops_its_workers(tmp_path):
    """kill -9 of `compare --jobs 2` leaves no worker training on as an orphan."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "cmp"
    parent = subprocess.Popen(
        [sys.executable, "-m", "mlbalance", "compare", "--dataset", "synthetic:small", "--losses", "bce,db",
         "--no-svm", "--max-epochs", "500", "--patience", "500", "--jobs", "2", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def workers():
        found = subprocess.run(["pgrep", "-f", "multiprocessing.spawn"], capture_output=True, text=True)
        mine = []
        for pid in map(int, found.stdout.split()):
            try:
                with open(f"/proc/{pid}/environ", "rb") as env, open(f"/proc/{pid}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                    if ppid == parent.pid or str(out).encode() in env.read():
                        mine.append(pid)
            except OSError:
                pass
        return mine

    def alive(pid):  # not gone and not a zombie
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    try:
        deadline = time.monotonic() + 120
        while not (out / "tfidf-bce" / "config.json").exists() or len(workers()) < 2:
            assert time.monotonic() < deadline and parent.poll() is None, "the workers did not start"
            time.sleep(0.5)
        pids = workers()
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while any(alive(pid) for pid in pids):
            assert time.monotonic() < deadline, f"workers {pids} outlived their parent"
            time.sleep(0.5)
    finally:
        if parent.poll() is None:
            parent.kill()
