"""Documents in, prediction records out: what ``predict``, the server and batch engines share.

Input is JSONL — one object per line with a string ``"text"`` (or ``"title"`` and/or
``"body"``/``"abstract"``) and an optional ``"id"`` — or plain text, one document per line. A
prediction record is one JSON-ready object per document::

    {"id": "3", "labels": ["earn"], "scores": {"earn": 0.97, "acq": 0.04, ...}}
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlbalance.errors import DataError

TEXT_FIELDS = ("text", "title", "body", "abstract", "abstractText")


def read_documents(
    lines: Iterator[str], source: str, fmt: str = "auto", first_line: int = 1
) -> Iterator[tuple[str, str]]:
    """``(id, text)`` of each document in ``lines`` (JSONL or text lines).

    Blank lines are skipped; a text line's id is its line number (``first_line`` for the first of
    ``lines``), as is the id of a JSONL object without one.

    Raises:
        DataError: a line that is not valid JSON, not an object, or has no text field (naming
            ``source``, the line number and what was found).
    """
    for number, line in enumerate(lines, start=first_line):
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


def guess_format(name: str, fmt: str) -> str:
    """``fmt``, or for ``"auto"`` the format a file's suffix names (``.jsonl``/``.ndjson``/``.txt``)."""
    if fmt != "auto" or name == "-":
        return fmt
    suffix = Path(name).suffix.lower()
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "text"}.get(suffix, "auto")


def chunks(docs: Iterator[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    """``docs`` in lists of ``size`` (the last may be shorter)."""
    chunk: list[tuple[str, str]] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def input_files(name: str) -> list[str]:
    """The input files ``name`` stands for: itself (or ``-``), or a folder's files in name order.

    A folder's hidden files and those starting with ``_`` (``_SUCCESS`` markers) are left out.

    Raises:
        DataError: a folder with no file in it.
    """
    if name == "-" or not Path(name).is_dir():
        return [name]
    files = sorted(str(p) for p in Path(name).iterdir() if p.is_file() and not p.name.startswith((".", "_")))
    if not files:
        raise DataError(f"input folder {name} holds no files; expected JSONL or text shards")
    return files


def jsonl_records(
    run: Any,
    docs: Iterator[tuple[str, str]],
    *,
    batch: int,
    top: int,
    all_scores: bool,
    progress: Any = None,
) -> Iterator[str]:
    """The JSON line (without newline) of each ``(id, text)`` document, scored by ``run`` ``batch`` at a time.

    ``run`` is a :class:`~mlbalance.runs.Run` (anything with ``labels`` and ``predict_with_scores``);
    ``progress`` is passed to the scoring and told ``("predict", documents done, None)``.
    """
    done = 0
    for chunk in chunks(docs, batch):
        ids = [doc_id for doc_id, _ in chunk]
        labels, scores = run.predict_with_scores([text for _, text in chunk], progress=progress)
        for record in prediction_records(ids, labels, scores, run.labels, top, all_scores):
            yield json.dumps(record, ensure_ascii=False)
        done += len(chunk)
        if progress is not None:
            progress("predict", done, None)
