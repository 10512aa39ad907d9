"""``mlbalance export``: a hub-ready folder that predict and load_run read like the run itself."""

import json

import yaml

from conftest import one_line_error


def test_export_writes_a_card_and_loads_like_the_run(tmp_path, cli, trained_run):
    from mlbalance import load_run

    out = tmp_path / "hub" / "model"
    result = cli("export", trained_run, "--out", out)
    assert result.code == 0, result.err
    assert f"model exported to {out}" in result.err
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"README.md", "config.json", "labels.json", "thresholds.json", "metrics.json", "COMPLETE"} <= files
    assert not any(name.startswith("checkpoint") for name in files)
    assert all(p.stat().st_mode & 0o044 for p in out.rglob("*") if p.is_file())  # readable by others
    texts = ["pugega takege tosifo", "vapigo titefe", "nothing known here"]
    original, exported = load_run(trained_run), load_run(out)
    assert exported.predict(texts) == original.predict(texts)
    assert exported.thresholds.to_dict() == original.thresholds.to_dict()
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(texts) + "\n")
    preds = {}
    for name, folder in (("run", trained_run), ("export", out)):
        assert cli("predict", folder, "--input", docs, "--output", tmp_path / f"{name}.jsonl").code == 0
        preds[name] = (tmp_path / f"{name}.jsonl").read_text()
    assert preds["run"] == preds["export"]


def test_the_card_carries_hub_metadata_and_the_test_rows(tmp_path, cli, trained_run):
    out = tmp_path / "model"
    assert cli("export", trained_run, "--out", out).code == 0
    card = (out / "README.md").read_text()
    header, body = card.split("---\n")[1], card.split("---\n", 2)[2]
    meta = yaml.safe_load(header)
    assert meta["library_name"] == "mlbalance" and meta["pipeline_tag"] == "text-classification"
    rows = json.loads((trained_run / "metrics.json").read_text())
    total = next(r for r in rows if r["split"] == "test" and r["group"] == "total")
    metrics = {m["name"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert metrics == {"micro-F1": round(total["micro_f1"], 4), "macro-F1": round(total["macro_f1"], 4)}
    for heading in ("## Training data", "## Decision rule", "## Results", "## Intended use and limits"):
        assert heading in body
    assert f"| {100 * total['micro_f1']:.2f} | {100 * total['macro_f1']:.2f} |" in body
    assert "synthetic:tiny" in body


def test_export_refuses_what_it_did_not_make(tmp_path, cli, trained_run):
    out = tmp_path / "model"
    assert cli("export", trained_run, "--out", out).code == 0
    line = one_line_error(cli("export", trained_run, "--out", out))
    assert "already exists; replace it with overwrite=True (--overwrite)" in line
    (out / "README.md").write_text("stale")
    assert cli("export", trained_run, "--out", out, "--overwrite").code == 0
    assert (out / "README.md").read_text().startswith("---\nlibrary_name: mlbalance")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    line = one_line_error(cli("export", trained_run, "--out", mine, "--overwrite"))
    assert "is not an exported model or run directory" in line
    assert (mine / "notes.txt").read_text() == "keep me"
    assert "onto itself" in one_line_error(cli("export", trained_run, "--out", trained_run, "--overwrite"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "model", "run"]  # no staging left


def test_an_unfinished_run_is_not_exported(tmp_path, cli, trained_run):
    (trained_run / "COMPLETE").unlink()
    line = one_line_error(cli("export", trained_run, "--out", tmp_path / "model"))
    assert "unfinished run" in line
    assert not (tmp_path / "model").exists()
