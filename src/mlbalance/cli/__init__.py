"""The ``mlbalance`` command.

Each sub-command lives in its own module of this package, which exposes ``register(subparsers)``:
it adds its parser and sets ``func`` (called with the parsed arguments, returning an exit code).
The CLI owns all printing; library errors become one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from mlbalance._version import __version__

#: Sub-command modules, registered in this order when they exist.
COMMAND_MODULES = ("data", "train", "evaluate", "predict", "compare", "tune", "serve", "export")

log = logging.getLogger("mlbalance")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlbalance",
        description="Multi-label text classification with long-tailed label distributions.",
    )
    parser.add_argument("--version", action="version", version=f"mlbalance {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"mlbalance.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"mlbalance.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from mlbalance.errors import MlbalanceError

    parser = build_parser()
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except MlbalanceError as exc:
        print(f"mlbalance: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mlbalance: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `mlbalance evaluate RUN --json | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # a file the command was pointed at: missing, unreadable, not writable
        where = f": {exc.filename}" if exc.filename else ""
        print(f"mlbalance: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
