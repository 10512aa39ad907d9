"""A real TF-IDF run and a real server process on a free port, shared by the serving tests."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("httpx", reason="httpx (dev extra) is not installed")

from server_process import Server


@pytest.fixture(scope="session")
def server(tfidf_run):
    """The run served with small limits: 16 texts per request, 300 bytes per text."""
    srv = Server(tfidf_run, "--max-batch", "16", "--max-text-bytes", "300")
    yield srv
    srv.stop()
