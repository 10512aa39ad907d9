"""``mlbalance train``: train a model with a balancing loss into a run directory.

Train a model on the corpus's train split (validation for early stopping), tune thresholds on
validation, evaluate validation and test, and write everything into RUN_DIR.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlbalance.cli._common import TqdmProgress, add_command, add_run_arguments, print_tables, settings_from

#: The command's own settings (beside :data:`~mlbalance.cli._common.RUN_FLAGS`).
RUN_KEYS = ("loss",)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "train", __doc__)
    parser.add_argument(
        "--loss",
        help="loss: bce, focal, cb, r-focal, ntr-focal, db-nofocal, cb-ntr, db (the paper's), asl, zlpr, "
        "logit-adjusted (default: db)",
    )
    add_run_arguments(parser)
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="the run directory to write")
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run in RUN_DIR from its checkpoint"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a finished run in RUN_DIR")
    parser.add_argument("--quiet", action="store_true", help="print no tables")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlbalance.config import TrainConfig
    from mlbalance.experiment import train_config

    config = TrainConfig.from_mapping(settings_from(args, RUN_KEYS))
    progress = TqdmProgress()
    try:
        result = train_config(
            config, Path(args.out), resume=args.resume, overwrite=args.overwrite, progress=progress
        )
    finally:
        progress.close()
    if not args.quiet:
        print_tables(result.metrics)
        print()
    print(f"run written to {args.out}")
    return 0
