"""A real TF-IDF run and a real server process on a free port, shared by the serving tests."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("httpx", reason="httpx (dev extra) is not installed")

from server_process import Server


@pytest.fixture(scope="session")
def tfidf_run(tmp_path_factory) -> Path:
    """A finished TF-IDF run on ``synthetic:tiny`` (3 epochs)."""
    from mlbalance.cli import main

    out = tmp_path_factory.mktemp("serving") / "run"
    code = main(["train", "--dataset", "synthetic:tiny", "--model", "tfidf", "--loss", "db",
                 "--max-epochs", "3", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    return out


@pytest.fixture(scope="session")
def server(tfidf_run):
    """The run served with small limits: 16 texts per request, 300 bytes per text."""
    srv = Server(tfidf_run, "--max-batch", "16", "--max-text-bytes", "300")
    yield srv
    srv.stop()
