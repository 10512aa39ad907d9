"""``mlbalance train --model transformer``: every constructor flag reaches the model; Ctrl-C + --resume."""

import importlib.util
import json
from pathlib import Path

import pytest

from mlbalance.cli import build_parser
from mlbalance.cli._common import TqdmProgress, settings_from
from mlbalance.cli.train import RUN_KEYS
from mlbalance.config import TrainConfig
from mlbalance.runs import is_complete, load_run

FLAGS = {
    "--encoder": ("encoder", "minilm"),
    "--max-length": ("max_length", 64),
    "--batch-size": ("batch_size", 8),
    "--lr": ("lr", 1e-4),
    "--head-lr": ("head_lr", 1e-3),
    "--max-epochs": ("max_epochs", 3),
    "--patience": ("patience", 2),
    "--grad-accum": ("grad_accum", 2),
    "--precision": ("precision", "bf16"),
    "--schedule": ("schedule", "linear"),
    "--warmup-ratio": ("warmup_ratio", 0.1),
    "--weight-decay": ("weight_decay", 0.01),
    "--recipe": ("recipe", "paper"),
}


def test_transformer_flags_map_to_constructor_arguments():
    argv = ["train", "--dataset", "d", "--model", "transformer", "--compile", "--seed", "4", "--out", "r"]
    for flag, (_, value) in FLAGS.items():
        argv += [flag, str(value)]
    config = TrainConfig.from_mapping(settings_from(build_parser().parse_args(argv), RUN_KEYS))
    expected = {key: value for key, value in FLAGS.values()}
    assert config.model_options == {**expected, "compile": True}
    model_config = config.build_model().get_config()
    assert {k: model_config[k] for k in expected} == expected
    assert model_config["compile"] is True and model_config["seed"] == 4 and model_config["loss"] == "db"


def _fixtures():
    path = Path(__file__).resolve().parents[1] / "models" / "transformer_fixtures.py"
    spec = importlib.util.spec_from_file_location("transformer_fixtures_for_cli", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny_setup(tmp_path):
    """A JSONL folder of the tiny transformer corpus and a 1-layer random BERT for it."""
    pytest.importorskip("transformers")
    fixtures = _fixtures()
    corpus = fixtures.tiny_corpus(n_train=96, n_val=32, n_test=32)
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("train", "validation", "test"):
        split = corpus.split(name)
        with (folder / f"{name}.jsonl").open("w") as handle:
            for doc_id, text, labels in zip(split.ids, split.texts, split.labels):
                handle.write(json.dumps({"id": doc_id, "text": text, "labels": list(labels)}) + "\n")
    encoder = fixtures.make_tiny_encoder(tmp_path / "encoder", corpus)
    return folder, encoder


class InterruptAtEpoch2(TqdmProgress):
    """Ctrl-C in the middle of the second epoch."""

    def __call__(self, stage, done, total, **info):
        if stage == "epoch 2" and done >= 2:
            raise KeyboardInterrupt
        super().__call__(stage, done, total, **info)


def test_interrupted_transformer_run_resumes_to_the_same_result(tmp_path, cli, tiny_setup, monkeypatch):
    folder, encoder = tiny_setup
    args = [
        "train", "--dataset", folder, "--model", "transformer", "--encoder", encoder, "--loss", "bce",
        "--max-epochs", "3", "--batch-size", "8", "--lr", "0.01", "--max-length", "40",
        "-o", "pooling=mean", "--quiet",
    ]  # fmt: skip
    straight = tmp_path / "straight"
    assert cli(*args, "--out", straight).code == 0

    run_dir = tmp_path / "run"
    monkeypatch.setattr("mlbalance.cli.train.TqdmProgress", InterruptAtEpoch2)
    interrupted = cli(*args, "--out", run_dir)
    assert interrupted.code == 130 and "interrupted" in interrupted.err
    assert not is_complete(run_dir) and (run_dir / "checkpoint" / "checkpoint.pt").is_file()
    assert "unfinished run" in cli("evaluate", run_dir).err
    monkeypatch.undo()

    resumed = cli(*args, "--out", run_dir, "--resume")
    assert resumed.code == 0, resumed.err
    assert is_complete(run_dir) and not (run_dir / "checkpoint").exists()
    a, b = load_run(run_dir), load_run(straight)
    assert [h["epoch"] for h in a.model.history_] == [1, 2, 3]
    for row_a, row_b in zip(a.metrics, b.metrics):
        assert row_a["group"] == row_b["group"]
        assert row_a["micro_f1"] == pytest.approx(row_b["micro_f1"], abs=1e-9)
        assert row_a["macro_f1"] == pytest.approx(row_b["macro_f1"], abs=1e-9)


def test_hybrid_and_embedding_models_train_and_predict_from_the_cli(tmp_path, cli, tiny_setup):
    folder, encoder = tiny_setup
    for model in ("hybrid", "embedding"):
        out = tmp_path / model
        args = ["train", "--dataset", folder, "--model", model, "--encoder", encoder, "--max-length", "40"]
        args += ["--loss", "cb-ntr", "--max-epochs", "2", "-o", f"cache_dir={tmp_path / 'vectors'}"]
        result = cli(*args, "--out", out, "--quiet")
        assert result.code == 0, result.err
        assert load_run(out).config["model"] == model
        docs = tmp_path / "docs.txt"
        docs.write_text("l0w0 noise1 l0w1\nnoise2 l3w0\n")
        predicted = cli("predict", out, "--input", docs, "--output", tmp_path / f"{model}.jsonl")
        assert predicted.code == 0, predicted.err
        assert len((tmp_path / f"{model}.jsonl").read_text().splitlines()) == 2
    assert any((tmp_path / "vectors").rglob("*.npz"))  # the vectors went to the given cache


def test_the_svm_over_hybrid_features_trains_evaluates_and_predicts_from_the_cli(tmp_path, cli, tiny_setup):
    folder, encoder = tiny_setup
    out = tmp_path / "svm-hybrid"
    args = ["train", "--dataset", folder, "--model", "svm-hybrid", "--encoder", encoder, "--max-length", "40",
            "-o", "C=0.5", "-o", f"cache_dir={tmp_path}/vectors", "--threshold", "global-macro"]  # fmt: skip
    result = cli(*args, "--out", out, "--quiet")
    assert result.code == 0, result.err
    run = load_run(out)
    assert run.config["model"] == "svm-hybrid" and run.config["loss"] is None
    assert run.thresholds.method == "global-macro" and run.model.C == 0.5
    docs = tmp_path / "docs.txt"
    docs.write_text("l0w0 noise1 l0w1\nnoise2 l3w0\n")
    assert cli("predict", out, "--input", docs, "--output", tmp_path / "p.jsonl").code == 0
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 2
    args = ["train", "--dataset", folder, "--model", "svm-hybrid", "--loss", "db", "--out", tmp_path / "x"]
    refused = cli(*args)
    assert refused.code != 0 and "takes no loss" in refused.err
