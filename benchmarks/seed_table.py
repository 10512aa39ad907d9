"""One table of several `compare --seeds` folders: test micro / macro-F1 (mean ± std) per loss.

Examples::

    python benchmarks/seed_table.py runs/seeds-grid runs/seeds-mmcv
    python benchmarks/seed_table.py runs/seeds-grid --groups total,tail
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mlbalance.evaluation.report import paper_method_name


def cell(row: dict, key: str) -> str:
    value, std = row.get(key), row.get(f"{key}_std")
    if value is None:
        return "n/a"
    return f"{100 * value:.2f}" + ("" if std is None else f" ± {100 * std:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", nargs="+", type=Path, help="compare output folders (results.json)")
    parser.add_argument("--groups", default="total,tail", help="label groups to show")
    args = parser.parse_args()
    groups = args.groups.split(",")
    tables = {}
    for folder in args.folders:
        rows = json.loads((folder / "results.json").read_text())
        tables[folder.name] = {(r["model"], r["loss"], r["group"]): r for r in rows if r["split"] == "test"}
    runs = list(dict.fromkeys((m, loss) for t in tables.values() for (m, loss, _) in t))
    head = ["loss"] + [f"{name} {g} {k}" for name in tables for g in groups for k in ("micro-F1", "macro-F1")]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for model, loss in runs:
        cells = [paper_method_name(model, loss)]
        for table in tables.values():
            for g in groups:
                row = table.get((model, loss, g), {})
                cells += [cell(row, "micro_f1"), cell(row, "macro_f1")]
        print("| " + " | ".join(cells) + " |")
    seeds = {r.get("seeds") for t in tables.values() for r in t.values()}
    print(f"\nMean ± sample standard deviation over seeds {', '.join(sorted(map(str, seeds)))}; percent.")


if __name__ == "__main__":
    main()
