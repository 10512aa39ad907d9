"""``mlbalance train``."""

import json

from conftest import one_line_error
from mlbalance.runs import is_complete, load_run


def test_train_writes_a_run_and_prints_tables(tmp_path, cli, fake_tfidf):
    out = tmp_path / "run"
    result = cli("train", "--dataset", "synthetic:tiny", "--loss", "focal", "--seed", "2", "--out", out)
    assert result.code == 0, result.err
    assert "Table 2" in result.out and "Table 3" in result.out
    assert "| tfidf | focal |" in result.out
    assert is_complete(out)
    run = load_run(out)
    assert run.config["loss"] == "focal" and run.config["seed"] == 2
    assert run.model.loss == "focal" and run.model.seed == 2


def test_config_file_equals_flags(tmp_path, cli, fake_tfidf):
    flags = tmp_path / "flags"
    res = cli(
        "train", "--dataset", "synthetic:tiny", "--loss", "cb", "--seed", "1", "--max-epochs", "3",
        "--lr", "0.5", "--threshold", "per-label", "--out", flags, "--quiet",
    )  # fmt: skip
    assert res.code == 0, res.err
    config = tmp_path / "c.yaml"
    config.write_text(
        "dataset: synthetic:tiny\nloss: cb\nseed: 1\nmax-epochs: 3\nlr: 0.5\nthreshold: per-label\n"
    )
    from_file = tmp_path / "file"
    assert cli("train", "--config", config, "--out", from_file, "--quiet").code == 0
    toml = tmp_path / "c.toml"
    toml.write_text(
        'dataset = "synthetic:tiny"\nloss = "cb"\nseed = 1\nthreshold = "per-label"\n'
        "[model_options]\nmax_epochs = 3\nlr = 0.5\n"
    )
    from_toml = tmp_path / "toml"
    assert cli("train", "--config", toml, "--out", from_toml, "--quiet").code == 0
    runs = [json.loads((d / "config.json").read_text())["run"] for d in (flags, from_file, from_toml)]
    assert runs[0] == runs[1] == runs[2]
    metrics = [json.loads((d / "metrics.json").read_text()) for d in (flags, from_file, from_toml)]
    assert metrics[0] == metrics[1] == metrics[2]


def test_flags_win_over_the_config_file(tmp_path, cli, fake_tfidf):
    config = tmp_path / "c.yaml"
    config.write_text("dataset: synthetic:tiny\nloss: cb\nseed: 1\nlr: 0.5\n")
    out = tmp_path / "run"
    assert cli("train", "--config", config, "--seed", "7", "-o", "lr=0.25", "--out", out, "--quiet").code == 0
    run = load_run(out)
    assert run.config["seed"] == 7 and run.config["loss"] == "cb"
    assert run.model.lr == 0.25


def test_bad_input_gives_one_line_errors(tmp_path, cli, fake_tfidf):
    out = tmp_path / "run"
    line = one_line_error(cli("train", "--dataset", "no-such-source", "--out", out))
    assert "unknown data source 'no-such-source'" in line
    line = one_line_error(cli("train", "--out", out))
    assert "`dataset` is required" in line
    line = one_line_error(cli("train", "--dataset", "synthetic:tiny", "-o", "hiden=3", "--out", out))
    assert "takes no option 'hiden'" in line
    line = one_line_error(cli("train", "--config", tmp_path / "missing.yaml", "--out", out))
    assert "missing.yaml does not exist" in line
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [oops\n")
    assert "is not valid YAML" in one_line_error(cli("train", "--config", bad, "--out", out))
    line = one_line_error(cli("train", "--dataset", "synthetic:tiny", "--seed", "-1", "--out", out))
    assert "`seed` must be an integer >= 0, got -1" in line
    missing = tmp_path / "nope.jsonl"
    assert "nope.jsonl" in one_line_error(cli("train", "--dataset", missing, "--out", out))


def test_finished_run_is_not_overwritten_silently(tmp_path, cli, fake_tfidf):
    out = tmp_path / "run"
    assert cli("train", "--dataset", "synthetic:tiny", "--out", out, "--quiet").code == 0
    line = one_line_error(cli("train", "--dataset", "synthetic:tiny", "--out", out, "--quiet"))
    assert "already holds a finished run; replace it with overwrite=True (--overwrite)" in line
    assert cli("train", "--dataset", "synthetic:tiny", "--out", out, "--overwrite", "--quiet").code == 0


def test_unknown_loss(tmp_path, cli, fake_tfidf):
    line = one_line_error(
        cli("train", "--dataset", "synthetic:tiny", "--loss", "dbb", "--out", tmp_path / "r")
    )
    assert "unknown loss 'dbb'; choose from" in line


def test_train_evaluate_predict_on_a_user_jsonl_folder(tmp_path, cli, fake_tfidf, user_jsonl_folder):
    out = tmp_path / "run"
    result = cli("train", "--dataset", user_jsonl_folder, "--out", out, "--quiet")
    assert result.code == 0, result.err
    run = load_run(out)
    assert set(run.labels) == {"alpha", "beta", "gamma", "delta"}
    rows = json.loads(cli("evaluate", out, "--rescore", "--json").out)
    assert rows == json.loads((out / "metrics.json").read_text())
    docs = tmp_path / "new.jsonl"
    docs.write_text('{"id": "n1", "text": "beta w3 w4"}\n{"id": "n2", "text": "delta alpha"}\n')
    preds = tmp_path / "preds.jsonl"
    assert cli("predict", out, "--input", docs, "--output", preds).code == 0
    got = [json.loads(line) for line in preds.read_text().splitlines()]
    assert [g["id"] for g in got] == ["n1", "n2"]
    assert "beta" in got[0]["labels"] and {"alpha", "delta"} <= set(got[1]["labels"])


def test_real_tfidf_train_evaluate_predict(tmp_path, cli):
    out = tmp_path / "run"
    res = cli(
        "train", "--dataset", "synthetic:tiny", "--loss", "db", "--max-epochs", "2", "--out", out, "--quiet"
    )
    assert res.code == 0, res.err
    stored = json.loads((out / "metrics.json").read_text())
    rescored = json.loads(cli("evaluate", out, "--rescore", "--json").out)
    assert rescored == stored  # the saved model reproduces the scores it was evaluated with
    assert (out / "model" / "mlbalance_model.json").is_file()
    docs = tmp_path / "docs.txt"
    run = load_run(out)
    from mlbalance.data import load_corpus

    texts = load_corpus("synthetic:tiny").test.texts[:5]
    docs.write_text("\n".join(texts) + "\n")
    preds = tmp_path / "p.jsonl"
    assert cli("predict", out, "--input", docs, "--output", preds).code == 0
    assert [json.loads(line)["labels"] for line in preds.read_text().splitlines()] == run.predict(texts)


def test_surprises_are_refused_before_training(tmp_path, cli, fake_tfidf):
    out = tmp_path / "run"
    svm = ("train", "--dataset", "synthetic:tiny", "--model", "svm", "--loss", "db", "--out", out)
    line = one_line_error(cli(*svm))
    assert "model 'svm' takes no loss" in line
    args = ("train", "--dataset", "synthetic:tiny", "--threshold", "top-k", "--top-k", "1000", "--out", out)
    assert "top-k: `k` (1000 labels per document) is more than the 20 labels" in one_line_error(cli(*args))
    assert not out.exists()


def test_rerun_without_resume_keeps_an_interrupted_runs_checkpoint(tmp_path, cli, fake_tfidf):
    from mlbalance.runs import prepare_run_dir

    out = tmp_path / "run"
    args = ("train", "--dataset", "synthetic:tiny", "--loss", "db", "--out", out, "--quiet")
    assert cli(*args).code == 0
    config = json.loads((out / "config.json").read_text())["run"]
    prepare_run_dir(out, config, overwrite=True)  # the state of a run killed during training
    (out / "checkpoint").mkdir()
    (out / "checkpoint" / "state.pt").write_bytes(b"epoch 3")
    line = one_line_error(cli(*args))
    assert "holds an interrupted run with a checkpoint; continue it with resume=True (--resume)" in line
    assert (out / "checkpoint" / "state.pt").read_bytes() == b"epoch 3"
    assert cli(*args, "--overwrite").code == 0
    assert not (out / "checkpoint").exists() and (out / "COMPLETE").exists()
