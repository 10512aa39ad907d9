"""Tables 2 and 3 as Markdown, CSV and JSON; the paper's numbers as reference."""

from __future__ import annotations

import csv
import io
import json

import pytest

from mlbalance.errors import DataError
from mlbalance.evaluation import (
    PAPER_TABLE2,
    Thresholds,
    evaluate,
    paper_method_name,
    rows_to_csv,
    rows_to_json,
    table2_markdown,
    table3_markdown,
)

from .helpers import make_data, make_stats


@pytest.fixture
def rows():
    s, y = make_data(0, n=80, c=20)
    stats = make_stats(make_data(1, n=80, c=20)[1])
    out = []
    for model, loss, t in (("tfidf", "db", 0.5), ("tfidf", "bce", 0.55), ("svm", None, 0.6)):
        for row in evaluate(s, y, stats, Thresholds("grid", value=t)):
            out.append({"model": model, "loss": loss, **row})
    return out


def test_paper_table2_data():
    assert PAPER_TABLE2["reuters"]["DB"]["total"] == (90.62, 64.47)
    assert PAPER_TABLE2["reuters"]["SVM"]["tail"] == (22.54, 13.83)
    assert PAPER_TABLE2["pubmed"]["CB-NTR"]["medium"] == (37.18, 13.43)
    assert PAPER_TABLE2["pubmed"]["BCE"]["head"] == (27.61, 0.06)
    assert len(PAPER_TABLE2["reuters"]) == len(PAPER_TABLE2["pubmed"]) == 9
    assert paper_method_name("tfidf", "ntr-focal") == "NTR-FL"
    assert paper_method_name("svm", None) == paper_method_name("svm-sgd", None) == "SVM"
    assert paper_method_name("transformer", "db-nofocal") == "DB-0FL"
    assert paper_method_name("mymodel", None) == "mymodel"


def test_table2_layout_and_values(rows):
    text = table2_markdown(rows)
    lines = text.splitlines()
    assert lines[0].startswith("| model | loss | total micro-F1 | total macro-F1 | head micro-F1")
    assert lines[1].startswith("| --- |")
    assert len([line for line in lines if line.startswith("| ")]) == 5  # header, rule, 3 runs
    db_total = next(r for r in rows if r["loss"] == "db" and r["group"] == "total")
    assert f"| tfidf | db | {100 * db_total['micro_f1']:.2f} | {100 * db_total['macro_f1']:.2f} |" in text
    assert "zero_division=0" in text and "all labels of the group" in text
    present = table2_markdown(rows, macro="macro_f1_present")
    assert "macro-F1 (present) = mean F1 over the group's labels that occur at least once" in present


def test_table2_reference_diffs(rows):
    text = table2_markdown(rows, reference="reuters")
    db_total = next(r for r in rows if r["loss"] == "db" and r["group"] == "total")
    diff = 100 * db_total["micro_f1"] - 90.62
    assert f"{100 * db_total['micro_f1']:.2f} ({diff:+.2f})" in text
    assert "versus the paper's Table 2 (reuters)" in text
    svm_total = next(r for r in rows if r["model"] == "svm" and r["group"] == "total")
    assert f"({100 * svm_total['micro_f1'] - 87.60:+.2f})" in text
    one = {g: (50.0, 25.0) for g in ("total", "head", "medium", "tail")}
    text = table2_markdown(rows, reference=one)
    assert f"({100 * db_total['macro_f1'] - 25.0:+.2f})" in text
    with pytest.raises(DataError, match="`reference` must be one of"):
        table2_markdown(rows, reference="imagenet")


def test_table3_layout(rows):
    text = table3_markdown(rows)
    header = text.splitlines()[0]
    n_single = next(r["n_docs"] for r in rows if r["group"] == "single-label")
    assert f"single-label (n={n_single}) micro-F1" in header and "multi-label" in header
    assert "head" not in header
    assert "Documents grouped by their number of true labels" in text


def test_split_column_appears_with_several_splits(rows):
    val = [{**r, "split": "validation"} for r in rows]
    assert "| split |" in table2_markdown(rows + val)
    assert "| split |" not in table2_markdown(rows + val, split="test")


def test_csv_of_other_tables():
    text = rows_to_csv([{"label": "a", "f1": 0.5}, {"label": "b", "f1": None, "support": 3}])
    assert text.splitlines() == ["label,f1,support", "a,0.5,", "b,,3"]


def test_csv_and_json_roundtrip(rows):
    rows[0]["macro_f1_present"] = float("nan")
    parsed = list(csv.DictReader(io.StringIO(rows_to_csv(rows))))
    assert len(parsed) == len(rows)
    assert list(parsed[0])[:4] == ["model", "loss", "split", "group"]
    assert float(parsed[1]["micro_f1"]) == pytest.approx(rows[1]["micro_f1"])
    assert parsed[0]["macro_f1_present"] == ""
    back = json.loads(rows_to_json(rows))
    assert back[0]["macro_f1_present"] is None
    assert back[1] == rows[1]
