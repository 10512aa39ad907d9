"""Killed at a random instant (SIGKILL), a command leaves a run that loads or a clean refusal that says
how to mend it; mending gives what an uninterrupted command gives."""

import json
import random
import shutil
import signal
import subprocess
import sys
import time

from mlbalance.errors import RunError
from mlbalance.runs import load_run

#: The command that made the ``tfidf_run`` fixture: its metrics are the uninterrupted result.
TRAIN = ["train", "--dataset", "synthetic:tiny", "--model", "tfidf", "--loss", "db", "--max-epochs", "3",
         "--quiet"]  # fmt: skip


def mlbalance(*args):
    return subprocess.Popen([sys.executable, "-m", "mlbalance", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip


def kill_when(process, ready, delay):
    """SIGKILL ``process`` ``delay`` seconds after ``ready()`` holds (or when it has ended)."""
    deadline = time.monotonic() + 120
    while not ready() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()


def test_train_killed_mid_run_resumes_to_the_uninterrupted_result(tmp_path, tfidf_run):
    reference = tfidf_run
    rng = random.Random(7)
    for attempt in range(1):
        out = tmp_path / f"run{attempt}"
        checkpoint = out / "checkpoint" / "checkpoint.pt"
        kill_when(mlbalance(*TRAIN, "--out", out), checkpoint.exists, rng.uniform(0.0, 0.6))
        try:
            load_run(out)
        except RunError as exc:
            assert "--resume" in str(exc), exc  # the refusal names the command that mends it
            resumed = subprocess.run([sys.executable, "-m", "mlbalance", *TRAIN, "--out", out, "--resume"])
            assert resumed.returncode == 0
        got = json.loads((out / "metrics.json").read_text())
        assert got == json.loads((reference / "metrics.json").read_text())


def test_evaluate_killed_at_any_instant_leaves_old_or_new_thresholds(tmp_path, tfidf_run):
    new = tmp_path / "new"
    shutil.copytree(tfidf_run, new)
    assert subprocess.run([sys.executable, "-m", "mlbalance", "evaluate", new, "--threshold", "per-label"],
                          stdout=subprocess.DEVNULL).returncode == 0  # fmt: skip
    states = {
        json.dumps(load_run(folder).thresholds.to_dict(), sort_keys=True): folder.name
        for folder in (tfidf_run, new)
    }
    rng = random.Random(3)
    seen = set()
    for attempt in range(2):
        run = tmp_path / f"run{attempt}"
        shutil.copytree(tfidf_run, run)
        process = mlbalance("evaluate", run, "--threshold", "per-label")
        kill_when(process, lambda: True, rng.uniform(1.0, 5.0))
        loaded = load_run(run)  # always loads
        state = states.get(json.dumps(loaded.thresholds.to_dict(), sort_keys=True))
        assert state is not None
        metrics = json.loads((run / "metrics.json").read_text())
        source = tfidf_run if state == tfidf_run.name else new
        assert metrics == json.loads((source / "metrics.json").read_text())
        seen.add(state)
    assert seen  # and each attempt was one of the two states


def test_export_killed_leaves_no_half_written_folder(tmp_path, tfidf_run):
    out = tmp_path / "exported"
    kill_when(mlbalance("export", tfidf_run, "--out", out), lambda: True, random.Random(5).uniform(1.0, 3.0))
    if out.exists():  # renamed into place only when complete
        assert (out / "README.md").is_file() and (out / "COMPLETE").is_file()
        assert load_run(out).thresholds.to_dict() == load_run(tfidf_run).thresholds.to_dict()
    command = [sys.executable, "-m", "mlbalance", "export", tfidf_run, "--out", out, "--overwrite"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert load_run(out).predict(["pugega takege"]) == load_run(tfidf_run).predict(["pugega takege"])


#: A comparison of two losses and the SVM in two worker processes.
COMPARE = ["compare", "--dataset", "synthetic:tiny", "--model", "tfidf", "--losses", "bce,db", "--svm",
           "--max-epochs", "3", "--jobs", "2"]  # fmt: skip


def test_compare_killed_mid_way_reruns_to_the_uninterrupted_result(tmp_path, cli):
    straight = tmp_path / "straight"
    # the uninterrupted comparison in this process, one cell at a time (worker processes give the
    # same results: test_compare_real_models_in_two_processes_equals_one)
    assert cli(*COMPARE[:-2], "--jobs", "1", "--out", straight).code == 0
    out = tmp_path / "killed"
    process = mlbalance(*COMPARE, "--out", out)
    kill_when(process, lambda: any(out.glob("*/COMPLETE")), 0.0)  # one cell done, the others not
    assert process.returncode == -signal.SIGKILL and not (out / "results.json").exists()
    rerun = subprocess.run([sys.executable, "-m", "mlbalance", *COMPARE, "--out", out], capture_output=True)
    assert rerun.returncode == 0, rerun.stderr
    expected = json.loads((straight / "results.json").read_text())
    assert json.loads((out / "results.json").read_text()) == expected
