"""Helpers of the serving tests: a ``mlbalance serve`` process, texts, and what ``predict`` gives."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mlbalance.data import load_corpus

#: Documents of the synthetic corpus's test split (under the server's 300-byte limit), and one of no
#: known word.
TEXTS = [t for t in load_corpus("synthetic:tiny").test.texts[:12] if len(t.encode()) <= 300][:8]
TEXTS.append("nothing known here at all")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A ``mlbalance serve`` process; ``url`` is its address."""

    def __init__(self, run_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlbalance", "serve", str(run_dir), "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.process.stdout.read()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not answer /health within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def predict_cli(run_dir: Path, texts: list[str], tmp_path: Path, *args: str) -> list[dict]:
    """What ``mlbalance predict`` writes for ``texts`` (as JSONL documents with ids "0", "1", ...)."""
    from mlbalance.cli import main

    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "preds.jsonl"
    assert main(["predict", str(run_dir), "--input", str(docs), "--output", str(out), *args]) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]
