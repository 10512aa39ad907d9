"""Fixtures of the CLI tests: run ``mlbalance`` in-process and capture what it prints."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mlbalance.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """``cli("train", "--dataset", ...)`` → :class:`Result` (exit code, stdout, stderr)."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def trained_run(tmp_path, cli, fake_tfidf):
    """A finished run of the stand-in model on ``synthetic:tiny``."""
    out = tmp_path / "run"
    result = cli("train", "--dataset", "synthetic:tiny", "--loss", "db", "--out", out, "--quiet")
    assert result.code == 0, result.err
    return out


def one_line_error(result: Result) -> str:
    """The single ``mlbalance: error: ...`` line of a failed command (asserts there is no traceback)."""
    assert result.code == 2, (result.code, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("mlbalance: error: "), lines[0]
    return lines[0]


@pytest.fixture
def user_jsonl_folder(tmp_path, small_keyword_corpus):
    """A user's corpus as a folder of ``train.jsonl`` and ``test.jsonl`` (validation split off train)."""
    import json

    corpus = small_keyword_corpus
    folder = tmp_path / "mydata"
    folder.mkdir()
    for name, split in (("train", corpus.train), ("test", corpus.test)):
        with (folder / f"{name}.jsonl").open("w") as handle:
            for doc_id, text, labels in zip(split.ids, split.texts, split.labels):
                handle.write(json.dumps({"id": doc_id, "text": text, "labels": list(labels)}) + "\n")
    return folder
