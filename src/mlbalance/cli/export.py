"""``mlbalance export``: write a run as a hub-ready model folder with a model card.

Copy RUN_DIR's model (safetensors weights), config, labels, thresholds and metrics into OUT with a
README.md model card. predict, serve and load_run read OUT as they read a run.
"""

from __future__ import annotations

import argparse
import sys

from mlbalance.cli._common import add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "export", __doc__)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory")
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it holds an export or run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlbalance.export import export_run

    out = export_run(args.run_dir, args.out, overwrite=args.overwrite)
    print(f"model exported to {out} (model card: {out / 'README.md'})", file=sys.stderr)
    return 0
