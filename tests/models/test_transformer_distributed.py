"""Two CPU processes (``torchrun`` or ``accelerate launch``, gloo) train the same model as one process,
on the tiny BERT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import transformer_fixtures
from transformer_fixtures import TRAIN_OPTIONS, make_tiny_encoder, tiny_corpus

FIXTURES = Path(__file__).with_name("transformer_fixtures.py")


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=240)


LAUNCHERS = {
    # both from this interpreter (their scripts need not be on PATH)
    "torchrun": ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"],
    # --multi_gpu on a machine without GPUs: processes on the CPU, which the model runs with gloo
    "accelerate": ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                   "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"],
}  # fmt: skip


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_two_processes_give_the_metrics_of_one(tmp_path, launcher):
    # no dropout: with it, two processes draw different masks than one (by design, per process)
    encoder = make_tiny_encoder(tmp_path / "enc", tiny_corpus(), dropout=0.0)
    transformer_fixtures._main(
        [str(encoder), str(tmp_path / "one.json"), "--grad-accum", "2"]
    )  # in this process
    two = _run(
        [
            sys.executable,
            *LAUNCHERS[launcher],
            str(FIXTURES),
            str(encoder),
            str(tmp_path / "two.json"),
            "--grad-accum",
            "2",
        ]
    )
    assert two.returncode == 0, two.stderr[-3000:]
    a = json.loads((tmp_path / "one.json").read_text())
    b = json.loads((tmp_path / "two.json").read_text())
    assert (a["world_size"], b["world_size"]) == (1, 2)
    assert len(a["history"]) == len(b["history"]) == TRAIN_OPTIONS["max_epochs"]
    for row_a, row_b in zip(a["history"], b["history"]):
        assert row_a["train_tokens"] == row_b["train_tokens"]  # every document trained on exactly once
        assert row_a["val_micro_f1"] == pytest.approx(row_b["val_micro_f1"], abs=1e-9)
        assert row_a["val_loss"] == pytest.approx(row_b["val_loss"], rel=1e-4)
        assert row_a["train_loss"] == pytest.approx(row_b["train_loss"], rel=1e-4)
    assert a["best_epoch"] == b["best_epoch"]
    np.testing.assert_allclose(a["test_scores"], b["test_scores"], atol=1e-4)
