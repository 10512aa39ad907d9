"""``mlbalance predict``: labels and scores for new documents from a run directory.

Input (a file or ``-`` for stdin) is either JSONL — one object per line with a string ``"text"``
(or ``"title"`` and/or ``"body"``/``"abstract"``) and an optional ``"id"`` — or plain text, one
document per line. Output is JSONL, one object per document::

    {"id": "3", "labels": ["earn"], "scores": {"earn": 0.97, "acq": 0.04, ...}}

``scores`` holds the predicted labels and the ``--top`` highest-scored ones (``--all-scores``: all).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO

from mlbalance.cli._common import TqdmProgress
from mlbalance.errors import DataError
from mlbalance.predictions import chunks, guess_format, prediction_records, read_documents


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict labels of new documents with a trained run",
        description="Predict labels (and scores) of documents read as JSONL or text lines.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `mlbalance train`")
    parser.add_argument(
        "--input", "-i", required=True, metavar="FILE", help="JSONL or text file, or - for stdin"
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


def run(args: argparse.Namespace) -> int:
    from mlbalance._atomic import atomic_open
    from mlbalance.runs import load_run

    if args.batch < 1:
        raise DataError(f"--batch must be >= 1, got {args.batch}")
    if args.top < 0:
        raise DataError(f"--top must be >= 0, got {args.top}")
    run_ = load_run(args.run_dir)
    names = run_.labels
    fmt = guess_format(args.input, args.format)
    source = "stdin" if args.input == "-" else args.input
    progress = TqdmProgress()
    out_ctx = (
        nullcontext(sys.stdout) if args.output == "-" else atomic_open(args.output, "w", encoding="utf-8")
    )
    count = 0
    try:
        with _open_input(args.input) as handle, out_ctx as out:
            for chunk in chunks(read_documents(iter(handle), source, fmt), args.batch):
                ids = [doc_id for doc_id, _ in chunk]
                labels, scores = run_.predict_with_scores([text for _, text in chunk], progress=progress)
                for record in prediction_records(ids, labels, scores, names, args.top, args.all_scores):
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += len(chunk)
                progress("predict", count, None)
    except UnicodeDecodeError as exc:
        raise DataError(f"{source} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    finally:
        progress.close()
    if args.output != "-":
        print(f"{count} predictions written to {args.output}", file=sys.stderr)
    return 0
