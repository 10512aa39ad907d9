"""``mlbalance predict``: JSONL or text lines in, JSONL out."""

import io
import json

from conftest import one_line_error


def read_jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_jsonl_file_to_file(tmp_path, cli, trained_run):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        json.dumps({"id": "a", "text": "pugega takege"})
        + "\n\n"
        + json.dumps({"title": "t", "body": "b"})
        + "\n"
    )
    out = tmp_path / "preds.jsonl"
    result = cli("predict", trained_run, "--input", docs, "--output", out, "--top", "3")
    assert result.code == 0, result.err
    preds = read_jsonl(out.read_text())
    assert [p["id"] for p in preds] == ["a", "3"]
    for p in preds:
        assert set(p) == {"id", "labels", "scores"}
        assert set(p["labels"]) <= set(p["scores"])
        assert len(p["scores"]) >= 3
        values = list(p["scores"].values())
        assert values == sorted(values, reverse=True)
    assert "2 predictions written" in result.err


def test_text_lines_from_stdin_to_stdout(cli, trained_run, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("first document\n\nthird document\n"))
    result = cli("predict", trained_run, "--input", "-", "--all-scores")
    assert result.code == 0, result.err
    preds = read_jsonl(result.out)
    labels = json.loads((trained_run / "labels.json").read_text())
    assert [p["id"] for p in preds] == ["1", "3"]
    assert all(list(p["scores"]) == labels for p in preds)


def test_predictions_match_the_python_api(tmp_path, cli, trained_run):
    from mlbalance import load_run

    texts = ["pugega takege tosifo", "vapigo titefe", "nothing known here"]
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(texts) + "\n")
    out = tmp_path / "preds.jsonl"
    assert cli("predict", trained_run, "--input", docs, "--output", out).code == 0
    assert [p["labels"] for p in read_jsonl(out.read_text())] == load_run(trained_run).predict(texts)


def test_bad_lines_name_file_and_line(tmp_path, cli, trained_run):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"text": "ok"}\n{"text": "broken"\n')
    line = one_line_error(cli("predict", trained_run, "--input", docs))
    assert "docs.jsonl line 2: not valid JSON" in line
    docs.write_text('{"text": "ok"}\n{"id": 1, "txt": "x"}\n')
    line = one_line_error(cli("predict", trained_run, "--input", docs))
    assert "line 2: expected a string field 'text'" in line and "found id, txt" in line
    docs.write_text('{"text": "ok"}\n[1, 2]\n')
    assert "line 2: expected a JSON object, got list" in one_line_error(
        cli("predict", trained_run, "--input", docs)
    )
    docs.write_text('{"text": 5}\n')
    assert "line 1: expected a string field" in one_line_error(cli("predict", trained_run, "--input", docs))


def test_failed_prediction_leaves_no_partial_output(tmp_path, cli, trained_run):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"text": "ok"}\nnot json\n')
    out = tmp_path / "preds.jsonl"
    one_line_error(cli("predict", trained_run, "--input", docs, "--output", out, "--format", "jsonl"))
    assert not out.exists()


def test_missing_input_and_run(tmp_path, cli, trained_run):
    line = one_line_error(cli("predict", trained_run, "--input", tmp_path / "none.jsonl"))
    assert "input file" in line and "none.jsonl does not exist" in line
    (tmp_path / "empty").mkdir()
    assert "holds no files" in one_line_error(cli("predict", trained_run, "--input", tmp_path / "empty"))
    line = one_line_error(cli("predict", tmp_path / "norun", "--input", "-"))
    assert "no run directory at" in line


def test_unwritable_output_is_a_one_line_error(tmp_path, cli, trained_run):
    docs = tmp_path / "docs.txt"
    docs.write_text("some text\n")
    (tmp_path / "afile").write_text("x")
    line = one_line_error(
        cli("predict", trained_run, "--input", docs, "--output", tmp_path / "afile" / "p.jsonl")
    )
    assert "afile" in line


def test_a_folder_of_shards_is_predicted_in_name_order(tmp_path, cli, trained_run):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "part-1.jsonl").write_text(json.dumps({"text": "vapigo titefe"}) + "\n")
    (shards / "part-0.jsonl").write_text(
        json.dumps({"id": "x", "text": "pugega takege"}) + "\n\n" + json.dumps({"text": "b"}) + "\n"
    )
    (shards / "_SUCCESS").write_text("")
    (shards / ".hidden.jsonl").write_text("not json\n")
    result = cli("predict", trained_run, "--input", shards)
    assert result.code == 0, result.err
    preds = read_jsonl(result.out)
    assert [p["id"] for p in preds] == [
        "x",
        "3",
        "1",
    ]  # ids of id-less lines: line numbers within their shard
    whole = tmp_path / "whole.txt"
    whole.write_text("pugega takege\nb\nvapigo titefe\n")
    labels = [p["labels"] for p in read_jsonl(cli("predict", trained_run, "--input", whole).out)]
    assert [p["labels"] for p in preds] == labels
