"""A corpus's row of the tune table: ``train`` with no flags, the SVM rows, and ``tune`` with a budget.

For one corpus: the TF-IDF model and the SVM as ``mlbalance train`` gives them with no flags, the SVM
with cross-validated thresholds (``micromacro-cv`` + ``--at-least-one``), and a ``tune`` of
``--budget`` seconds with its defaults (its ``best/`` is scored on test once, after the search chose it
on validation). Prints one JSON line per system (test micro / macro-F1 in percent, seconds).

Example (BENCHMARKS.md, *tune across corpora*)::

    python benchmarks/tune_table.py --dataset synthetic:small --budget 300 --out /tmp/tune-small
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def test_total(run: Any) -> list[float]:
    (row,) = [r for r in run.metrics if r["split"] == "test" and r["group"] == "total"]
    return [round(100 * row["micro_f1"], 2), round(100 * row["macro_f1"], 2)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data", default=None)
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--out", type=Path, required=True, help="the tune folder (created)")
    args = parser.parse_args(argv)

    from mlbalance.data import load_corpus
    from mlbalance.experiment import train
    from mlbalance.tune import tune

    corpus = load_corpus(args.dataset, data=args.data)
    systems = [
        ("train --model tfidf (no flags)", {"model": "tfidf"}),
        ("train --model svm (no flags)", {"model": "svm"}),
        (
            "svm, micromacro-cv + at-least-one",
            {"model": "svm", "threshold": "micromacro-cv", "at_least_one": True},
        ),
    ]
    for name, options in systems:
        start = time.perf_counter()
        run = train(corpus, **options)
        record = {"dataset": args.dataset, "system": name, "test": test_total(run)}
        print(json.dumps({**record, "seconds": round(time.perf_counter() - start, 1)}), flush=True)
    start = time.perf_counter()
    result = tune(corpus, args.out, budget=args.budget, trials=None)
    chosen = {k: v for k, v in sorted(result.best_params.items())}
    finished = sum(r["state"] == "complete" for r in result.trials)
    record = {
        "dataset": args.dataset,
        "system": f"tune --budget {args.budget:g}",
        "test": test_total(result.best),
        "seconds": round(time.perf_counter() - start, 1),
        "trials": len(result.trials),
        "finished": finished,
        "chosen": chosen,
    }
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
