"""``mlbalance compare``: train a model with each balancing loss (and the SVM) and report them side by side.

Train MODEL with each loss (and the TF-IDF + linear SVM baseline with --svm), each in its own run
directory under OUT, and write one Table 2 + Table 3 report (results.md/.csv/.json), the F1-by-group
plot and the dataset figure. Finished runs under OUT are reused.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from mlbalance.cli._common import TqdmProgress, add_command, add_run_arguments, print_tables, settings_from

#: The command's own settings (beside :data:`~mlbalance.cli._common.RUN_FLAGS`).
RUN_KEYS = ("losses", "svm", "svm_backend", "seeds")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "compare", __doc__)
    parser.add_argument(
        "--losses",
        help="'all' (default: the paper's eight presets) or comma-separated names, e.g. bce,db,asl,zlpr",
    )
    parser.add_argument(
        "--svm", action=argparse.BooleanOptionalAction, default=None, help="also train the SVM baseline"
    )
    parser.add_argument(
        "--svm-backend",
        choices=("liblinear", "sgd"),
        help="liblinear: one LinearSVC per label (default); sgd: all labels at once (model svm-sgd, for "
        "thousands of labels)",
    )
    add_run_arguments(parser, model_choices=("tfidf", "transformer", "embedding", "hybrid"))
    parser.add_argument(
        "--seeds",
        metavar="LIST",
        help="train every run once per seed, e.g. 0,1,2 (run folders tfidf-db-seed0, ...); the report "
        "shows the mean ± standard deviation, results_by_seed.csv every run (default: once, with --seed)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder of the runs and the report")
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        help="runs trained at once in worker processes (default: 1; 2 uses both cores of a 2-core machine)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into --out even if it is a non-empty folder that is not a comparison",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlbalance.comparison import compare_config
    from mlbalance.config import CompareConfig

    config = CompareConfig.from_mapping(settings_from(args, RUN_KEYS))
    progress = TqdmProgress()
    started = time.perf_counter()

    def on_cell(index: int, total: int, name: str, state: str) -> None:
        progress.close()
        if state == "reused":
            state = "reusing the finished run"
        elif state == "queued":
            state = "queued for a worker process"
        progress.write(
            f"[{index + 1}/{total}] {name}: {state} ({time.perf_counter() - started:.0f} s so far)"
        )

    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops worker processes as Ctrl-C does
    try:
        result = compare_config(
            config,
            Path(args.out),
            progress=progress,
            on_cell=on_cell,
            jobs=args.jobs,
            overwrite=args.overwrite,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
        progress.close()
    print_tables(result.rows)
    print()
    trained = {k: v for k, v in result.timing.items() if k not in result.reused}
    print(
        f"{len(result.timing)} runs ({len(result.reused)} reused) in {time.perf_counter() - started:.1f} s; "
        f"report in {Path(args.out) / 'results.md'}",
        file=sys.stderr,
    )
    if trained:
        slowest = max(trained, key=trained.__getitem__)
        print(f"slowest run: {slowest} ({trained[slowest]:.1f} s)", file=sys.stderr)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
