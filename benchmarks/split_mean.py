"""One configuration on several Reuters-21578 validation splits: test F1 per split and the mean.

The validation split (1,000 of the ModApte training documents) is drawn with a seed (the paper's is
123); the test split is always ModApte's. Trains with :func:`mlbalance.experiment.train` in memory,
``--jobs`` splits at a time in worker processes, and prints one JSON line per split, then one with
the means (test micro / macro-F1 in percent, total and tail).

Example (the hybrid model's best configuration over the eight splits of docs/models.md §6)::

    python benchmarks/split_mean.py --model hybrid --set loss=cb-ntr --set encoder=minilm \\
        --threshold micromacro-cv --cv-folds 10 --at-least-one --split-seeds 123,1,2,3,4,5,6,7 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "reuters21578.tar.gz"


def run_split(seed: int, args: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    from mlbalance.experiment import train

    start = time.perf_counter()
    run = train(
        "reuters21578",
        model=args.model,
        data=str(args.data),
        data_options={"seed": seed},
        threshold=args.threshold,
        cv_folds=args.cv_folds,
        at_least_one=args.at_least_one,
        **options,
    )
    test = {r["group"]: r for r in run.metrics if r["split"] == "test"}
    return {
        "split_seed": seed,
        "seconds": round(time.perf_counter() - start, 1),
        **{f"{g}_micro_f1": round(100 * test[g]["micro_f1"], 2) for g in ("total", "tail")},
        **{f"{g}_macro_f1": round(100 * test[g]["macro_f1"], 2) for g in ("total", "tail")},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="hybrid")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--set", action="append", default=[], help="a model option, key=value (JSON value)")
    parser.add_argument("--threshold", default="auto")
    parser.add_argument("--cv-folds", type=int, default=3)
    parser.add_argument("--at-least-one", action="store_true")
    parser.add_argument("--split-seeds", default="123", help="validation-split seeds, comma-separated")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    options: dict[str, Any] = {}
    for item in args.set:
        key, _, text = item.partition("=")
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    seeds = [int(s) for s in args.split_seeds.split(",")]
    rows = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for row in pool.map(run_split, seeds, [args] * len(seeds), [options] * len(seeds)):
            rows.append(row)
            print(json.dumps(row), flush=True)
    keys = [k for k in rows[0] if k.endswith("_f1")]
    mean = {key: round(statistics.mean(r[key] for r in rows), 2) for key in keys}
    print(json.dumps({"mean_over": seeds, **mean, "load_average": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()
