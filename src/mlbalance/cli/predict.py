"""``mlbalance predict``: predict labels of new documents with a trained run.

Predict labels (and scores) of documents read as JSONL or text lines.

Input (a file or ``-`` for stdin) is either JSONL — one object per line with a string ``"text"``
(or ``"title"`` and/or ``"body"``/``"abstract"``) and an optional ``"id"`` — or plain text, one
document per line. Output is JSONL, one object per document::

    {"id": "3", "labels": ["earn"], "scores": {"earn": 0.97, "acq": 0.04, ...}}

``scores`` holds the predicted labels and the ``--top`` highest-scored ones (``--all-scores``: all).
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mlbalance._extras import require_extra
from mlbalance.cli._common import TqdmProgress, add_command
from mlbalance.errors import DataError
from mlbalance.predictions import guess_format, input_files, jsonl_records, read_documents

if TYPE_CHECKING:
    from mlbalance.runs import Run


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "predict", __doc__)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `mlbalance train`")
    parser.add_argument(
        "--input",
        "-i",
        required=True,
        metavar="PATH",
        help="JSONL or text file, a folder of them (shards, in name order), or - for stdin",
    )
    parser.add_argument("--output", default="-", metavar="FILE", help="JSONL output file, or - for stdout")
    parser.add_argument(
        "--format",
        choices=("auto", "jsonl", "text"),
        default="auto",
        help="input format (auto: by suffix .jsonl/.txt, else by the first non-blank line)",
    )
    parser.add_argument("--top", type=int, default=5, help="also report the N highest scores (default: 5)")
    parser.add_argument("--all-scores", action="store_true", help="report the score of every label")
    parser.add_argument("--batch", type=int, default=2048, help="documents scored at once (default: 2048)")
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: Ray Data actors (mlbalance[ray]), same output in the same order",
    )
    parser.add_argument(
        "--address", metavar="ADDR", help="--engine ray: a Ray cluster's address (default: a local instance)"
    )
    parser.add_argument(
        "--ray-workers", type=int, metavar="N", help="--engine ray: scoring actors (default: one per CPU)"
    )
    parser.set_defaults(func=run)


@contextmanager
def _open_input(name: str) -> Iterator[IO[str]]:
    if name == "-":
        yield sys.stdin
        return
    path = Path(name)
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"input file {name} does not exist") from None
    except IsADirectoryError:
        raise DataError(f"input {name} is a folder; expected a JSONL or text file") from None
    except OSError as exc:
        raise DataError(f"input file {name} cannot be read: {exc.strerror}") from None
    with handle:
        yield handle


def _local_lines(
    run_: Run, args: argparse.Namespace, files: list[str], progress: TqdmProgress
) -> Iterator[str]:
    """The JSONL records of ``files``, scored in this process."""
    for name in files:
        source = "stdin" if name == "-" else name
        try:
            with _open_input(name) as handle:
                docs = read_documents(iter(handle), source, guess_format(name, args.format))
                yield from jsonl_records(
                    run_, docs, batch=args.batch, top=args.top, all_scores=args.all_scores, progress=progress
                )
        except UnicodeDecodeError as exc:
            raise DataError(f"{source} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None


def _ray_lines(args: argparse.Namespace, files: list[str]) -> Iterator[str]:
    """The JSONL records of ``files``, scored by Ray Data actors."""
    if files == ["-"]:
        raise DataError("--engine ray reads files or folders, not stdin; give --input a path")
    require_extra("ray", "--engine ray")
    from mlbalance.batch_predict import predict_with_ray

    if logging.getLogger().getEffectiveLevel() > logging.INFO:  # Ray's notices only with -v
        for name in ("ray", "ray.data", "ray.data._internal"):
            logging.getLogger(name).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"ray\..*")
    return predict_with_ray(
        args.run_dir,
        files,
        fmt=args.format,
        top=args.top,
        all_scores=args.all_scores,
        batch=args.batch,
        address=args.address,
        workers=args.ray_workers,
    )


def run(args: argparse.Namespace) -> int:
    from mlbalance._atomic import atomic_open
    from mlbalance.runs import load_run

    if args.batch < 1:
        raise DataError(f"--batch must be >= 1, got {args.batch}")
    if args.top < 0:
        raise DataError(f"--top must be >= 0, got {args.top}")
    if args.engine == "local" and (args.address or args.ray_workers):
        raise DataError("--address and --ray-workers need --engine ray")
    if args.ray_workers is not None and args.ray_workers < 1:
        raise DataError(f"--ray-workers must be >= 1, got {args.ray_workers}")
    files = input_files(args.input)
    progress = TqdmProgress()
    out_ctx = (
        nullcontext(sys.stdout) if args.output == "-" else atomic_open(args.output, "w", encoding="utf-8")
    )
    count = 0
    try:
        if args.engine == "ray":
            lines = _ray_lines(args, files)
        else:
            lines = _local_lines(load_run(args.run_dir), args, files, progress)
        with out_ctx as out:
            for line in lines:
                out.write(line + "\n")
                count += 1
                if args.engine == "ray" and count % 1000 == 0:
                    progress("predict", count, None)
        progress("predict", count, None)
    finally:
        progress.close()
    if args.output != "-":
        print(f"{count} predictions written to {args.output}", file=sys.stderr)
    return 0
