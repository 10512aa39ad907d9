"""A damaged file of a real run directory is one line naming the file, for every command that loads it."""

import shutil

import pytest

from conftest import one_line_error


@pytest.fixture
def run_copy(tmp_path, tfidf_run):
    copy = tmp_path / "run"
    shutil.copytree(tfidf_run, copy)
    return copy


def damage(path, how):
    if how == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "delete":
        path.unlink()
    else:
        path.write_bytes(how)


@pytest.mark.parametrize(
    ("name", "how", "expected"),
    [
        ("model/model.safetensors", "truncate", "model.safetensors is damaged or truncated"),
        ("model/model.safetensors", b"{}", "model.safetensors is damaged or truncated"),
        ("model/model.safetensors", "delete", "model.safetensors"),
        ("model/features_idf.npy", "truncate", "features_idf.npy is missing or damaged"),
        ("model/features.json", b"{", "features.json is missing or malformed"),
        ("model/features.json", b'{"config": {}}', "features.json is missing or malformed"),
        ("model/model.json", b"[]", "model.json"),
        ("model/mlbalance_model.json", b"x", "mlbalance_model.json is missing or malformed"),
        ("labels.json", b'["a"]', "labels differ from labels.json"),
        ("thresholds.json", b"{}", "thresholds.json is malformed"),
    ],
)
def test_damaged_file_is_one_line(run_copy, cli, tmp_path, name, how, expected):
    damage(run_copy / name, how)
    docs = tmp_path / "docs.txt"
    docs.write_text("pugega takege\n")
    for args in (("predict", run_copy, "--input", docs), ("export", run_copy, "--out", tmp_path / "exp")):
        line = one_line_error(cli(*args))
        assert expected in line, line
    assert not (tmp_path / "exp").exists()
