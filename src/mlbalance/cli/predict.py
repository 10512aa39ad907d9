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
from typing import IO, Any

import numpy as np

from mlbalance.cli._common import TqdmProgress
from mlbalance.errors import DataError

TEXT_FIELDS = ("text", "title", "body", "abstract", "abstractText")


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


def read_documents(lines: Iterator[str], source: str, fmt: str = "auto") -> Iterator[tuple[str, str]]:
    """``(id, text)`` of each document in ``lines`` (JSONL or text lines).

    Blank lines are skipped; a text line's id is its line number.

    Raises:
        DataError: a line that is not valid JSON, not an object, or has no text field (naming
            ``source``, the line number and what was found).
    """
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if fmt == "auto":
            fmt = "jsonl" if stripped.startswith("{") else "text"
        if fmt == "text":
            yield str(number), line.rstrip("\r\n")
            continue
        try:
            record = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{source} line {number}: not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(record, dict):
            raise DataError(f"{source} line {number}: expected a JSON object, got {type(record).__name__}")
        parts = [record[key] for key in TEXT_FIELDS if key in record]
        if not parts or not all(isinstance(p, str) for p in parts):
            found = ", ".join(sorted(map(str, record))) or "no fields"
            raise DataError(
                f"{source} line {number}: expected a string field 'text' (or 'title'/'body'/'abstract'), "
                f"found {found}"
            )
        doc_id = record.get("id", number)
        yield str(doc_id), " ".join(p for p in parts if p)


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


def _guess_format(name: str, fmt: str) -> str:
    if fmt != "auto" or name == "-":
        return fmt
    suffix = Path(name).suffix.lower()
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "text"}.get(suffix, "auto")


def _chunks(docs: Iterator[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    chunk: list[tuple[str, str]] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def prediction_records(
    ids: list[str],
    labels: list[list[str]],
    scores: np.ndarray,
    names: tuple[str, ...],
    top: int,
    all_scores: bool,
) -> Iterator[dict[str, Any]]:
    """One output object per document: id, predicted labels, and scores."""
    if all_scores:
        for doc_id, doc_labels, row in zip(ids, labels, scores):
            yield {"id": doc_id, "labels": doc_labels, "scores": dict(zip(names, map(_num, row)))}
        return
    top = max(0, min(top, scores.shape[1]))
    index = {name: i for i, name in enumerate(names)}
    if top:
        best = np.argpartition(-scores, top - 1, axis=1)[:, :top]
    for i, (doc_id, doc_labels) in enumerate(zip(ids, labels)):
        cols = [index[name] for name in doc_labels]
        if top:
            cols += [int(c) for c in best[i] if int(c) not in cols]
        cols.sort(key=lambda c: -scores[i, c])
        yield {"id": doc_id, "labels": doc_labels, "scores": {names[c]: _num(scores[i, c]) for c in cols}}


def _num(value: Any) -> float:
    return round(float(value), 6)


def run(args: argparse.Namespace) -> int:
    from mlbalance._atomic import atomic_open
    from mlbalance.runs import load_run

    if args.batch < 1:
        raise DataError(f"--batch must be >= 1, got {args.batch}")
    if args.top < 0:
        raise DataError(f"--top must be >= 0, got {args.top}")
    run_ = load_run(args.run_dir)
    names = run_.labels
    fmt = _guess_format(args.input, args.format)
    source = "stdin" if args.input == "-" else args.input
    progress = TqdmProgress()
    out_ctx = (
        nullcontext(sys.stdout) if args.output == "-" else atomic_open(args.output, "w", encoding="utf-8")
    )
    count = 0
    try:
        with _open_input(args.input) as handle, out_ctx as out:
            for chunk in _chunks(read_documents(iter(handle), source, fmt), args.batch):
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
