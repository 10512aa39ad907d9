"""Run directories (mlbalance.runs): round trip, COMPLETE marker, refusal of unfinished runs."""

import json

import numpy as np
import pytest

from mlbalance.errors import RunError
from mlbalance.evaluation import Thresholds
from mlbalance.runs import (
    COMPLETE,
    is_complete,
    is_run_dir,
    load_run,
    prepare_run_dir,
    read_metrics,
    save_run,
    update_run,
)

CONFIG = {"model": "tfidf", "loss": "db", "seed": 0}
ROWS = [{"model": "tfidf", "loss": "db", "split": "test", "group": "total", "micro_f1": 0.5}]


@pytest.fixture
def fitted(fake_tfidf, small_keyword_corpus):
    return fake_tfidf().fit(small_keyword_corpus)


def write_run(directory, model, threshold=0.5, **kwargs):
    prepare_run_dir(directory, CONFIG)
    return save_run(
        directory,
        config=CONFIG,
        model=model,
        thresholds=Thresholds("grid", value=threshold),
        metrics=ROWS,
        report="# report\n",
        **kwargs,
    )


def test_round_trip(tmp_path, fitted, small_keyword_corpus):
    run_dir = tmp_path / "run"
    run = write_run(run_dir, fitted, timing={"fit_seconds": 1.5})
    assert is_complete(run_dir)
    assert {p.name for p in run_dir.iterdir()} >= {
        "config.json",
        "labels.json",
        "label_stats.json",
        "model",
        "thresholds.json",
        "metrics.json",
        "report.md",
        "timing.json",
        COMPLETE,
    }
    loaded = load_run(run_dir)
    texts = small_keyword_corpus.test.texts
    np.testing.assert_array_equal(loaded.scores(texts), run.scores(texts))
    assert loaded.predict(texts) == run.predict(texts)
    assert loaded.thresholds.to_dict() == run.thresholds.to_dict()
    assert loaded.metrics == ROWS
    assert loaded.config == CONFIG
    assert loaded.labels == small_keyword_corpus.label_space.names
    assert loaded.stats.to_dict() == fitted.stats_.to_dict()
    assert loaded.report == "# report\n"
    assert read_metrics(run_dir) == ROWS
    assert json.loads((run_dir / "labels.json").read_text()) == list(loaded.labels)


def test_predict_applies_thresholds(tmp_path, fitted):
    run = write_run(tmp_path / "run", fitted, threshold=0.85)
    assert run.predict(["alpha w1", "gamma beta", "w3"]) == [["alpha"], ["beta", "gamma"], []]


def test_unfinished_run_is_never_loaded(tmp_path):
    run_dir = prepare_run_dir(tmp_path / "run", CONFIG)
    assert is_run_dir(run_dir) and not is_complete(run_dir)
    with pytest.raises(RunError, match=r"is an unfinished run \(no COMPLETE marker\)"):
        load_run(run_dir)
    with pytest.raises(RunError, match="unfinished run"):
        read_metrics(run_dir)


def test_crash_while_overwriting_leaves_an_unfinished_run(tmp_path, fitted, monkeypatch):
    run_dir = tmp_path / "run"
    write_run(run_dir, fitted)
    prepare_run_dir(run_dir, CONFIG, overwrite=True)
    assert not is_complete(run_dir)

    def broken_save(directory):
        raise OSError("disk full")

    monkeypatch.setattr(fitted, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_run(run_dir, config=CONFIG, model=fitted, thresholds=Thresholds("grid", value=0.5), metrics=ROWS)
    assert not is_complete(run_dir)
    with pytest.raises(RunError, match="unfinished run"):
        load_run(run_dir)


def test_missing_and_foreign_directories(tmp_path):
    with pytest.raises(RunError, match="no run directory at"):
        load_run(tmp_path / "nope")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="is not a run directory"):
        load_run(tmp_path / "other")
    with pytest.raises(RunError, match="is not empty and is not a run directory"):
        prepare_run_dir(tmp_path / "other", CONFIG)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="is not a directory"):
        prepare_run_dir(tmp_path / "file", CONFIG)


def test_finished_run_needs_overwrite(tmp_path, fitted):
    run_dir = tmp_path / "run"
    write_run(run_dir, fitted)
    with pytest.raises(RunError, match=r"already holds a finished run; replace it with overwrite=True"):
        prepare_run_dir(run_dir, CONFIG)
    prepare_run_dir(run_dir, {**CONFIG, "seed": 1}, overwrite=True)
    assert not is_complete(run_dir)


def test_resume_keeps_checkpoint_and_checks_config(tmp_path):
    run_dir = prepare_run_dir(tmp_path / "run", CONFIG)
    (run_dir / "checkpoint").mkdir()
    (run_dir / "checkpoint" / "state.pt").write_text("x")
    prepare_run_dir(run_dir, CONFIG, resume=True)
    assert (run_dir / "checkpoint" / "state.pt").exists()
    with pytest.raises(RunError, match=r"cannot resume .*seed: 0 then, 1 now"):
        prepare_run_dir(run_dir, {**CONFIG, "seed": 1}, resume=True)
    with pytest.raises(RunError, match=r"holds an interrupted run with a checkpoint; continue it with"):
        prepare_run_dir(run_dir, CONFIG)  # a fresh start without being told would lose the checkpoint
    assert (run_dir / "checkpoint" / "state.pt").exists()
    prepare_run_dir(run_dir, CONFIG, overwrite=True)  # told: a fresh start drops the checkpoint
    assert not (run_dir / "checkpoint").exists()


def test_other_format_version_is_refused(tmp_path, fitted):
    run_dir = tmp_path / "run"
    write_run(run_dir, fitted)
    config = json.loads((run_dir / "config.json").read_text())
    config["format_version"] = 99
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunError, match="format version 99"):
        load_run(run_dir)


def test_corrupt_files_give_run_errors(tmp_path, fitted):
    run_dir = tmp_path / "run"
    write_run(run_dir, fitted)
    (run_dir / "thresholds.json").write_text("{not json")
    with pytest.raises(RunError, match=r"thresholds\.json cannot be read"):
        load_run(run_dir)
    (run_dir / "thresholds.json").unlink()
    with pytest.raises(RunError, match=r"thresholds\.json is missing"):
        load_run(run_dir)


def test_update_run_replaces_thresholds_and_metrics(tmp_path, fitted):
    run_dir = tmp_path / "run"
    write_run(run_dir, fitted)
    new_rows = [{**ROWS[0], "micro_f1": 0.75}]
    update_run(
        run_dir,
        config={**CONFIG, "threshold": "top-k"},
        thresholds=Thresholds("top-k", k=1),
        metrics=new_rows,
    )
    loaded = load_run(run_dir)
    assert loaded.thresholds.method == "top-k"
    assert loaded.metrics == new_rows
    assert loaded.config["threshold"] == "top-k"


class Killed(BaseException):
    """Stands for the process being killed at one file operation."""


def test_update_run_interrupted_at_any_file_operation_leaves_old_or_new(tmp_path, fitted, monkeypatch):
    import os
    import shutil

    from mlbalance import _atomic, runs

    run_dir = tmp_path / "run"
    write_run(run_dir, fitted)
    old = (load_run(run_dir).thresholds.to_dict(), load_run(run_dir).metrics)
    new_rows = [{**ROWS[0], "micro_f1": 0.75}]
    new = (Thresholds("top-k", k=1).to_dict(), new_rows)
    real_replace = os.replace
    outcomes = []
    for kill_at in range(100):
        calls = {"n": 0}

        def replace(src, dst, calls=calls, kill_at=kill_at):
            if calls["n"] == kill_at:
                raise Killed
            calls["n"] += 1
            real_replace(src, dst)

        monkeypatch.setattr(_atomic.os, "replace", replace)
        monkeypatch.setattr(runs.os, "replace", replace)
        try:
            update_run(run_dir, config={**CONFIG, "threshold": "top-k"}, thresholds=Thresholds("top-k", k=1),
                       metrics=new_rows)  # fmt: skip
            finished = True
        except Killed:
            finished = False
        monkeypatch.setattr(_atomic.os, "replace", real_replace)
        monkeypatch.setattr(runs.os, "replace", real_replace)
        loaded = load_run(run_dir)  # never refused; finishes a ready update
        state = (loaded.thresholds.to_dict(), loaded.metrics)
        assert state in (old, new), kill_at
        outcomes.append(state == new)
        assert not (run_dir / runs.UPDATE_DIR).exists()
        if finished:
            break
        shutil.rmtree(run_dir)
        write_run(run_dir, fitted)  # back to the old run for the next instant
    assert outcomes[-1] and not outcomes[0] and len(outcomes) > 5
    assert True in outcomes[:-1]  # some interrupted updates were finished by the next reader
