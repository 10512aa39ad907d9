"""``mlbalance evaluate``: print (or recompute) a run's Table 2 / Table 3 rows.

Print the metrics of RUN_DIR (thresholds tuned on validation at training time). With --rescore,
score the corpus again with the saved model; with --threshold, tune thresholds on validation with
another method and store them in RUN_DIR.
"""

from __future__ import annotations

import argparse
import json

from mlbalance.cli._common import (
    THRESHOLD_FLAGS,
    TqdmProgress,
    add_command,
    add_threshold_options,
    print_tables,
)
from mlbalance.config import THRESHOLD_METHODS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "evaluate", __doc__)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `mlbalance train`")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of tables")
    parser.add_argument(
        "--split", choices=("test", "validation", "all"), default="all", help="rows of which split (--json)"
    )
    parser.add_argument("--rescore", action="store_true", help="score the corpus again with the saved model")
    parser.add_argument(
        "--threshold",
        choices=THRESHOLD_METHODS,
        help="re-tune thresholds with this method and store them (implies --rescore)",
    )
    add_threshold_options(parser)
    parser.add_argument("--data", metavar="PATH", help="the data file, if it moved since training")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlbalance.runs import load_run, read_metrics

    if args.rescore or args.threshold:
        from mlbalance.reevaluation import reevaluate

        progress = TqdmProgress()
        try:
            settings = {flag: getattr(args, flag) for flag in THRESHOLD_FLAGS}
            run_ = reevaluate(load_run(args.run_dir), **settings, data=args.data, progress=progress)
            rows = run_.metrics
        finally:
            progress.close()
    else:
        rows = read_metrics(args.run_dir)
    if args.json:
        chosen = rows if args.split == "all" else [r for r in rows if r["split"] == args.split]
        print(json.dumps(chosen, indent=2))
    else:
        print_tables(rows, "validation" if args.split == "validation" else "test")
    return 0
