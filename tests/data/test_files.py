"""User corpora from JSONL/CSV: layouts, options, the export round trip, and every kind of bad input."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from mlbalance.data import load_corpus
from mlbalance.data.files import export_corpus, load_files
from mlbalance.errors import DataError


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def make_records(n=60, with_split=True):
    rng = np.random.default_rng(0)
    names = ["a", "b", "c", "d"]
    out = []
    for i in range(n):
        labels = sorted(set(rng.choice(names, size=rng.integers(1, 3)).tolist()))
        rec = {"id": f"d{i}", "text": f"words {' '.join(labels)} {i}", "labels": labels}
        if with_split:
            rec["split"] = "test" if i % 5 == 0 else "train"
        out.append(rec)
    return out


def test_export_round_trip(tmp_path, tiny):
    paths = export_corpus(tiny, tmp_path / "out")
    assert sorted(p.name for p in paths.values()) == ["test.jsonl", "train.jsonl", "validation.jsonl"]
    first = json.loads(paths["train"].read_text().splitlines()[0])
    assert set(first) == {"id", "text", "labels"}
    back = load_corpus(str(tmp_path / "out"))
    for split in ("train", "validation", "test"):
        assert back.split(split) == tiny.split(split)
    # Labels used nowhere cannot be read back, so compare the stats of the labels read back.
    stats, orig = back.stats(), tiny.stats()
    for name, freq in zip(stats.names, stats.class_freq):
        assert freq == orig.class_freq[tiny.label_space.index[name]]


def test_single_file_with_split_field_and_validation_split(tmp_path):
    path = write_jsonl(tmp_path / "all.jsonl", make_records())
    corpus = load_files(path, validation_size=8, seed=1)
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (40, 8, 12)
    assert corpus.metadata["validation_split_from_train"] == 8
    again = load_files(path, validation_size=8, seed=1)
    assert again.validation == corpus.validation
    other = load_files(path, validation_size=8, seed=2)
    assert other.validation.ids != corpus.validation.ids
    plain = load_files(path, validation_size=0.2, stratify=False)
    assert len(plain.validation) == 10  # round(0.2 * 48)


def test_stratified_validation_keeps_rare_labels(tmp_path):
    records = [{"text": f"t{i}", "labels": ["common"], "split": "train"} for i in range(90)]
    records += [{"text": f"r{i}", "labels": ["common", "rare"], "split": "train"} for i in range(10)]
    records += [{"text": "x", "labels": ["common"], "split": "test"}]
    path = write_jsonl(tmp_path / "all.jsonl", records)
    corpus = load_files(path, validation_size=0.2, seed=0)
    val_rare = sum("rare" in labels for labels in corpus.validation.labels)
    assert val_rare == 2 and len(corpus.validation) == 20


def test_single_file_without_split_needs_test_size(tmp_path):
    path = write_jsonl(tmp_path / "all.jsonl", make_records(with_split=False))
    with pytest.raises(DataError, match="records have no 'split' field; give test_size="):
        load_files(path)
    corpus = load_files(path, test_size=10, validation_size=10)
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (40, 10, 10)


def test_csv_with_delimited_labels_and_custom_fields(tmp_path):
    folder = tmp_path / "csvs"
    folder.mkdir()
    (folder / "train.csv").write_text('body,tags\n"hello, world",x|y\nsecond,y\nthird,x\n', encoding="utf-8")
    (folder / "dev.csv").write_text("body,tags\nfourth,x\n", encoding="utf-8")
    (folder / "test.csv").write_text("body,tags\nfifth, y | x \n", encoding="utf-8")
    corpus = load_files(folder, text_field="body", labels_field="tags", label_delimiter="|")
    assert corpus.train.texts[0] == "hello, world"
    assert corpus.train.labels == [("x", "y"), ("y",), ("x",)]
    assert corpus.test.labels == [("y", "x")]
    assert corpus.validation.texts == ["fourth"]
    assert corpus.label_space.names == ("x", "y")
    assert corpus.train.ids[0] == "train:2"


def test_labels_as_string_and_integers_in_jsonl(tmp_path):
    path = write_jsonl(
        tmp_path / "f.jsonl",
        [
            {"text": "a", "labels": "x, y", "split": "train"},
            {"text": "b", "labels": [1, 2, 1], "split": "train"},
            {"text": "c", "labels": ["x"], "split": "val"},
            {"text": "d", "labels": ["y"], "split": "test"},
        ],
    )
    corpus = load_files(path)
    assert corpus.train.labels == [("x", "y"), ("1", "2")]


def test_unseen_labels_policies(tmp_path, caplog):
    records = [
        {"text": "a", "labels": ["x"], "split": "train"},
        {"text": "b", "labels": ["x"], "split": "validation"},
        {"text": "c", "labels": ["x", "new"], "split": "test"},
    ]
    path = write_jsonl(tmp_path / "f.jsonl", records)
    with caplog.at_level(logging.WARNING, logger="mlbalance.data.files"):
        kept = load_files(path)
    assert "1 label(s) occur in validation/test but never in train" in caplog.text
    assert kept.label_space.names == ("new", "x")
    assert kept.metadata["unseen_labels"] == ["new"]
    assert kept.stats().class_freq[kept.label_space.index["new"]] == 0
    dropped = load_files(path, unseen_labels="drop")
    assert dropped.label_space.names == ("x",) and dropped.test.labels == [("x",)]
    with pytest.raises(
        DataError, match=r"f\.jsonl: 1 label\(s\) occur in validation/test but never in train"
    ):
        load_files(path, unseen_labels="error")


def test_documents_without_labels(tmp_path):
    records = make_records()
    records[1]["labels"] = []
    path = write_jsonl(tmp_path / "f.jsonl", records)
    corpus = load_files(path)
    assert corpus.metadata["kept_no_labels"] == 1
    assert load_files(path, no_labels="skip").metadata["skipped_no_labels"] == 1
    with pytest.raises(DataError, match=r"f\.jsonl:2: document 'd1' has no labels"):
        load_files(path, no_labels="error")


def test_empty_text(tmp_path):
    records = make_records()
    records[2]["text"] = "   "
    path = write_jsonl(tmp_path / "f.jsonl", records)
    with pytest.raises(DataError, match=r"f\.jsonl:3: document 'd2' has an empty text"):
        load_files(path)
    assert load_files(path, empty_text="skip").metadata["skipped_empty_text"] == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"f\.jsonl:2: not valid JSON .*'\{not json'; expected one JSON object per line"),
        ('["a list"]', r"f\.jsonl:2: .* is a JSON list; expected an object"),
        ('{"labels": ["x"], "split": "train"}', r"f\.jsonl:2: record has no field 'text'"),
        ('{"text": "t", "split": "train"}', r"f\.jsonl:2: record has no field 'labels'"),
        ('{"text": 5, "labels": ["x"]}', r"f\.jsonl:2: field 'text' is 5 \(int\); expected a string"),
        (
            '{"text": "t", "labels": {"x": 1}}',
            r"f\.jsonl:2: field 'labels' is \{'x': 1\} \(dict\); expected a list",
        ),
        ('{"text": "t", "labels": [1.5]}', r"f\.jsonl:2: label 1\.5 in field 'labels' is a float"),
        ('{"text": "t", "labels": ["x"], "split": "holdout"}', r"f\.jsonl:2: field 'split' is 'holdout'"),
    ],
)
def test_bad_jsonl_lines(tmp_path, line, message):
    path = tmp_path / "f.jsonl"
    path.write_text('{"text": "ok", "labels": ["x"], "split": "train"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_files(path)


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(
        b'{"text": "ok", "labels": ["x"], "split": "train"}\n{"text": "caf\xe9", "labels": ["x"]}\n'
    )
    with pytest.raises(DataError, match=r"f\.jsonl:2: bytes b'\\xe9' at column 14 are not valid utf-8"):
        load_files(path)
    # Latin-1 files load when the encoding is given.
    path.write_bytes(
        b'{"text": "ok", "labels": ["x"], "split": "train"}\n'
        b'{"text": "ok", "labels": ["x"], "split": "dev"}\n'
        b'{"text": "caf\xe9", "labels": ["x"], "split": "test"}\n'
    )
    corpus = load_files(path, encoding="latin-1")
    assert corpus.test.texts == ["café"]


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match=r"empty\.jsonl: the file holds no records"):
        load_files(empty)
    header_only = tmp_path / "h.csv"
    header_only.write_text("")
    with pytest.raises(DataError, match=r"h\.csv: the file holds no records"):
        load_files(header_only)
    with pytest.raises(DataError, match="no such file"):
        load_files(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="unknown data source"):
        load_corpus(str(tmp_path / "missing.jsonl"))
    other = tmp_path / "x.txt"
    other.write_text("hi")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'"):
        load_files(other)


def test_bad_csv(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("text,tags\na,b\n")
    with pytest.raises(DataError, match=r"f\.csv:1: the CSV header has no column 'labels'"):
        load_files(path)
    path.write_text("text,labels,split\na,b,train\nc,d\n")
    with pytest.raises(DataError, match=r"f\.csv:3: 2 columns; expected 3"):
        load_files(path)


def test_folder_layout_errors(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", make_records(with_split=False))
    with pytest.raises(DataError, match="no test file"):
        load_files(folder)
    write_jsonl(folder / "test.jsonl", make_records(5, with_split=False))
    write_jsonl(folder / "val.jsonl", make_records(5, with_split=False))
    write_jsonl(folder / "dev.jsonl", make_records(5, with_split=False))
    with pytest.raises(DataError, match=r"both dev\.jsonl and val\.jsonl hold the validation split"):
        load_files(folder)
    (folder / "dev.jsonl").unlink()
    corpus = load_files(folder)
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (60, 5, 5)


def test_mixed_split_field(tmp_path):
    records = make_records(10)
    del records[3]["split"]
    path = write_jsonl(tmp_path / "f.jsonl", records)
    with pytest.raises(DataError, match=r"f\.jsonl:4: record has no 'split' field while others do"):
        load_files(path)


def test_option_validation(tmp_path):
    path = write_jsonl(tmp_path / "f.jsonl", make_records())
    with pytest.raises(DataError, match="`no_labels` must be one of"):
        load_files(path, no_labels="maybe")
    with pytest.raises(DataError, match="`validation_size`=100 leaves 100 of 48 documents"):
        load_files(path, validation_size=100)
    corpus = load_files(path, preset="pubmed")
    assert (corpus.head_min, corpus.tail_max) == (50, 15)
    assert load_files(path, head_min=20, tail_max=3).stats().head_min == 20


def test_byte_order_mark_is_ignored(tmp_path):
    folder = tmp_path / "bom"
    folder.mkdir()
    (folder / "train.csv").write_bytes("text,labels\na,x\nb,x\n".encode("utf-8-sig"))
    (folder / "test.jsonl").write_bytes('{"text": "c", "labels": ["x"]}\n'.encode("utf-8-sig"))
    corpus = load_files(folder, validation_size=1)
    assert len(corpus.train) + len(corpus.validation) == 2 and corpus.test.texts == ["c"]


def test_load_corpus_dispatch_for_paths(tmp_path):
    path = write_jsonl(tmp_path / "f.jsonl", make_records())
    by_path = load_corpus(str(path), validation_size=5)
    by_name = load_corpus("files", data=path, validation_size=5)
    assert by_path.train == by_name.train and by_path.test == by_name.test
    assert load_corpus(str(path), data=path, validation_size=5).test == by_path.test
    with pytest.raises(DataError, match="is a path, so `data` must be None or the same path"):
        load_corpus(str(path), data=tmp_path / "other.jsonl")
    with pytest.raises(DataError, match="the files source needs the path"):
        load_corpus("files")
