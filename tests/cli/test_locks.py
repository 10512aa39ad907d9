"""One writer per run or comparison folder: a second process is refused at once, a killed one frees it."""

import signal
import subprocess
import sys

from conftest import one_line_error

HOLD = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1], timeout=0)
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def hold_lock(path):
    """A process holding the lock file ``path`` (as a writing mlbalance process does)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_run_being_written_refuses_train_and_evaluate(tmp_path, cli, trained_run):
    holder = hold_lock(trained_run / ".lock")
    try:
        line = one_line_error(cli("evaluate", trained_run, "--threshold", "per-label"))
        assert "is being written by another mlbalance process" in line
        args = ("train", "--dataset", "synthetic:tiny", "--loss", "db", "--out", trained_run, "--overwrite")
        assert "is being written by another mlbalance process" in one_line_error(cli(*args, "--quiet"))
        docs = tmp_path / "docs.txt"
        docs.write_text("pugega takege\n")
        assert cli("predict", trained_run, "--input", docs).code == 0  # reading needs no lock
    finally:
        holder.send_signal(signal.SIGKILL)  # a killed writer leaves no stale lock
        holder.wait()
    assert cli("evaluate", trained_run, "--threshold", "per-label").code == 0


def test_a_comparison_being_written_refuses_a_second_compare(tmp_path, cli, fake_tfidf):
    out = tmp_path / "cmp"
    args = ("compare", "--dataset", "synthetic:tiny", "--losses", "db", "--no-svm", "--out", out)
    assert cli(*args).code == 0
    holder = hold_lock(out / ".lock")
    try:
        assert "is being written by another mlbalance process" in one_line_error(cli(*args))
    finally:
        holder.kill()
        holder.wait()
    assert cli(*args).code == 0


def test_a_reader_leaves_the_journal_of_a_writer_at_work(trained_run):
    from mlbalance.runs import UPDATE_DIR, load_run

    journal = trained_run / UPDATE_DIR
    journal.mkdir()
    (journal / "thresholds.json").write_text("{}")  # being written: not marked ready
    holder = hold_lock(trained_run / ".lock")
    try:
        load_run(trained_run)
        assert (journal / "thresholds.json").exists()  # not the reader's to discard
    finally:
        holder.kill()
        holder.wait()
    load_run(trained_run)  # no writer: a journal never marked ready is stale and goes
    assert not journal.exists()
