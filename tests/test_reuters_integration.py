"""``compare`` end to end on Reuters-21578 with two losses (skipped when the archive is absent)."""

import json
from pathlib import Path

import pytest

ARCHIVE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reuters21578.tar.gz"

# Runs by default: 41 s on the 2-core reference machine at load average ~5 (48 s of CPU).
pytestmark = pytest.mark.skipif(
    not ARCHIVE.is_file(), reason=f"the Reuters-21578 archive is not at {ARCHIVE} (see the README)"
)


def test_compare_bce_and_db_on_reuters(tmp_path):
    from mlbalance.comparison import compare

    out = tmp_path / "cmp"
    result = compare("reuters21578", data=ARCHIVE, losses="bce,db", svm=False, out=out)

    rows = json.loads((out / "results.json").read_text())
    assert rows == json.loads(json.dumps(result.rows))
    test_total = {r["loss"]: r for r in rows if r["split"] == "test" and r["group"] == "total"}
    assert set(test_total) == {"bce", "db"}
    for row in test_total.values():
        assert row["n_docs"] == 3019 and row["n_labels"] == 90
        assert row["micro_f1"] > 0.80  # the SVM baseline reaches ~0.88; a broken pipeline does not
    groups = {r["group"] for r in rows if r["split"] == "test"}
    assert groups == {"total", "head", "medium", "tail", "single-label", "multi-label"}
    # balancing helps the tail: the reason the losses exist
    tail = {r["loss"]: r for r in rows if r["split"] == "test" and r["group"] == "tail"}
    assert tail["db"]["macro_f1"] >= tail["bce"]["macro_f1"]
    for name in ("results.md", "results.csv", "plots/f1_by_group.png", "plots/dataset.png"):
        assert (out / name).is_file(), name
    assert (out / "tfidf-db" / "COMPLETE").is_file()
