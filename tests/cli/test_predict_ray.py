"""``mlbalance predict --engine ray``: Ray Data on a local instance gives exactly what ``predict`` gives."""

import json

import pytest

from conftest import one_line_error
from mlbalance.batch_predict import plan_blocks, predict_with_ray, read_block
from mlbalance.errors import DataError
from mlbalance.predictions import read_documents

ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module (predict_with_ray leaves a running instance running)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def corpus_texts():
    from mlbalance.data import load_corpus

    return list(load_corpus("synthetic:tiny").test.texts)


def write_jsonl(path, texts, every_id=7):
    """JSONL with blank lines, some records without id, title/body records."""
    with path.open("w") as handle:
        for i, text in enumerate(texts):
            if i % every_id == 0:
                handle.write(json.dumps({"id": f"doc-{i}", "text": text}) + "\n")
            elif i % 5 == 0:
                handle.write(json.dumps({"title": text[:20], "body": text[20:]}) + "\n\n")
            else:
                handle.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")


def local_predict(cli, run_dir, path, *args):
    result = cli("predict", run_dir, "--input", path, *args)
    assert result.code == 0, result.err
    return result.out.splitlines()


@pytest.mark.parametrize(
    "body", [b"", b"a\n", b"a", b"\n\n\n", b"a\r\nbb\rccc\n\ndd", b"x" * 50 + b"\n" + b"y" * 3]
)
@pytest.mark.parametrize("block_bytes", [1, 2, 7, 1000])
def test_blocks_cover_the_file_at_line_ends_with_python_line_numbers(tmp_path, body, block_bytes):
    path = tmp_path / "docs.txt"
    path.write_bytes(body)
    blocks = plan_blocks(str(path), "text", block_bytes)
    assert [b.start for b in blocks] == [0, *[b.end for b in blocks[:-1]]][: len(blocks)]
    assert (blocks[-1].end if blocks else 0) == len(body)
    assert all(body[b.end - 1 : b.end] in (b"\n", b"\r") for b in blocks[:-1])
    from_blocks = [doc for block in blocks for doc in read_block(block)]
    with path.open(encoding="utf-8") as handle:
        assert from_blocks == list(read_documents(iter(handle), str(path), "text"))


def test_ray_output_is_identical_to_predict(tmp_path, cli, tfidf_run, local_ray):
    texts = [*corpus_texts(), "unicode: é ü 日本", "nothing known"]
    docs = tmp_path / "docs.jsonl"
    write_jsonl(docs, texts)
    for extra in (("--top", "2"), ("--all-scores",)):
        want = local_predict(cli, tfidf_run, docs, *extra)
        top = int(extra[1]) if extra[:1] == ("--top",) else 5
        got = list(
            predict_with_ray(
                tfidf_run,
                [str(docs)],
                top=top,
                all_scores="--all-scores" in extra,
                batch=16,
                block_bytes=2048,
            )
        )
        assert len(plan_blocks(str(docs), "auto", 2048)) > 4  # several blocks, two actors
        assert got == want


def test_cli_engine_ray_on_a_folder_of_shards(tmp_path, cli, tfidf_run, local_ray):
    texts = corpus_texts()
    shards = tmp_path / "shards"
    shards.mkdir()
    write_jsonl(shards / "part-00.jsonl", texts[:50])
    (shards / "part-01.txt").write_text("\n".join(texts[50:80]) + "\n")
    write_jsonl(shards / "part-02.jsonl", texts[80:])
    out = tmp_path / "ray.jsonl"
    result = cli("predict", tfidf_run, "--input", shards, "--engine", "ray", "--output", out)
    assert result.code == 0, result.err
    assert out.read_text().splitlines() == local_predict(cli, tfidf_run, shards)
    assert f"{len(texts)} predictions written" in result.err


def test_a_bad_line_is_reported_as_predict_reports_it(tmp_path, cli, tfidf_run, local_ray):
    docs = tmp_path / "docs.jsonl"
    write_jsonl(docs, corpus_texts())
    with docs.open("a") as handle:
        handle.write('{"text": "fine"}\n{"text": 3}\n')
    want = one_line_error(cli("predict", tfidf_run, "--input", docs, "--output", tmp_path / "a.jsonl"))
    got = one_line_error(
        cli("predict", tfidf_run, "--input", docs, "--engine", "ray", "--output", tmp_path / "b")
    )
    assert got == want and "line" in got
    assert not (tmp_path / "b").exists()  # nothing half-written
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good line\n\xff\xfe broken\n")
    with pytest.raises(DataError, match=r"bad.txt is not UTF-8 text: invalid start byte at byte 10"):
        [doc for block in plan_blocks(str(bad), "text", 4) for doc in read_block(block)]


def test_ray_engine_refuses_stdin_and_local_refuses_ray_flags(cli, tfidf_run):
    assert "not stdin" in one_line_error(cli("predict", tfidf_run, "--input", "-", "--engine", "ray"))
    line = one_line_error(cli("predict", tfidf_run, "--input", "-", "--address", "auto"))
    assert "need --engine ray" in line
