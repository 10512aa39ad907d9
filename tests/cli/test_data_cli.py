"""``mlbalance data stats|plot|export``."""

from __future__ import annotations

import json

from mlbalance.cli import main


def test_stats_text(capsys):
    assert main(["data", "stats", "synthetic:tiny", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "Table 1" in out and "labels per training document" in out
    assert "head" in out and "single-label" in out
    assert "most frequent labels (of 20)" in out


def test_stats_json(capsys):
    assert main(["data", "stats", "synthetic:tiny", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["labels"] == 20 and row["train"] + row["validation"] + row["test"] == 600
    assert row["head"] + row["medium"] + row["tail"] == 20
    assert row["metadata"]["generator"] == "mlbalance.data.synthetic"


def test_export_then_stats_of_the_folder(tmp_path, capsys):
    out = tmp_path / "exp"
    assert main(["data", "export", "synthetic:tiny", "--out", str(out)]) == 0
    assert "train" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["test.jsonl", "train.jsonl", "validation.jsonl"]
    assert main(["data", "stats", str(out), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["train"], row["validation"], row["test"]) == (408, 72, 120)


def test_export_refuses_to_replace_split_files(tmp_path, capsys):
    out = tmp_path / "exp"
    out.mkdir()
    (out / "train.jsonl").write_text('{"text": "mine", "labels": ["a"]}\n')
    assert main(["data", "export", "synthetic:tiny", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already holds train.jsonl; replace them with overwrite=True (--overwrite)" in err
    assert (out / "train.jsonl").read_text() == '{"text": "mine", "labels": ["a"]}\n'
    assert sorted(p.name for p in out.iterdir()) == ["train.jsonl"]
    assert main(["data", "export", "synthetic:tiny", "--out", str(out), "--overwrite"]) == 0
    assert len((out / "train.jsonl").read_text().splitlines()) == 408


def test_plot(tmp_path, capsys):
    target = tmp_path / "fig.png"
    assert main(["data", "plot", "synthetic:tiny", "--out", str(target), "--dpi", "40"]) == 0
    assert target.read_bytes()[:4] == b"\x89PNG"
    assert "figure written" in capsys.readouterr().out


def test_loader_flags_and_options(tmp_path, capsys):
    src = tmp_path / "all.jsonl"
    lines = [
        {"body": f"t {i}", "tags": "a|b" if i % 2 else "a", "part": "test" if i < 5 else "train"}
        for i in range(30)
    ]
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    argv = ["data", "stats", str(src), "--json", "--text-field", "body", "--labels-field", "tags"]
    argv += [
        "--label-delimiter",
        "|",
        "--split-field",
        "part",
        "--validation-size",
        "5",
        "-o",
        "stratify=false",
    ]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["train"], row["validation"], row["test"], row["labels"]) == (20, 5, 5, 2)


def test_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    assert main(["data", "stats", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlbalance: error: ") and "bad.jsonl:1: not valid JSON" in err
    assert "Traceback" not in err
    assert main(["data", "stats", "nowhere-source"]) == 2
    assert "unknown data source 'nowhere-source'" in capsys.readouterr().err
    assert main(["data", "plot", "synthetic:tiny", "--out", str(tmp_path / "x.gif")]) == 2
    assert "figure file must end in one of" in capsys.readouterr().err


def test_bioasq_with_progress(tmp_path, capsys):
    from mlbalance.data.synthetic import write_bioasq_file

    path = tmp_path / "b.json"
    write_bioasq_file(path, 400, n_labels=30, words=10, years=(2020, 2021), block=200)
    assert main(["data", "stats", "bioasq", "--data", str(path), "-o", "held_out=100", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["train"], row["validation"], row["test"]) == (300, 50, 50)
    assert row["head_min"] == 50
