"""Shared fixtures of the data tests: the Reuters corpus parsed once per session, small synthetic ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlbalance.data import Corpus, load_corpus

REUTERS_ARCHIVE = Path(__file__).resolve().parents[3] / "shared" / "data" / "reuters21578.tar.gz"


@pytest.fixture(scope="session")
def reuters_archive() -> Path:
    if not REUTERS_ARCHIVE.is_file():
        pytest.skip(f"Reuters-21578 archive not found at {REUTERS_ARCHIVE}")
    return REUTERS_ARCHIVE


@pytest.fixture(scope="session")
def reuters(reuters_archive: Path) -> Corpus:
    return load_corpus("reuters21578", data=reuters_archive)


@pytest.fixture(scope="session")
def tiny() -> Corpus:
    return load_corpus("synthetic:tiny")
