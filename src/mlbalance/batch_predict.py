"""Batch prediction of large inputs on Ray Data (the optional extra ``mlbalance[ray]``).

The input — one JSONL or text file, or a folder of them (shards, taken in name order) — is cut into
blocks of about ``block_bytes`` at line ends. The driver reads each file once to number the lines
of each block (so ids of documents without one are their line numbers, as with ``mlbalance predict``);
Ray Data hands the blocks to a pool of actors that each load the run once, read their blocks, score
them in batches and return the JSONL records; the driver streams the records out in input order
(``preserve_order``). A local Ray instance is started when no ``address`` is given; on a cluster
(``address="ray://…"`` or ``"auto"``) the run directory and the input must be on storage every node sees.

The records equal ``mlbalance predict``'s on the same files: the same parsing, ids, rounding and JSON.
Scoring is row by row for TF-IDF and SVM models, so their scores do not depend on how documents were
batched; encoder models, like ``predict --batch``, may differ in the last digits with the batching.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlbalance._ray import ray_session
from mlbalance.errors import DataError, MlbalanceError, RunError
from mlbalance.predictions import guess_format, jsonl_records, read_documents

log = logging.getLogger(__name__)

DEFAULT_BLOCK_BYTES = 4 << 20


@dataclass(frozen=True)
class Block:
    """Bytes ``[start, end)`` of ``path``: whole lines, the first numbered ``first_line``."""

    path: str
    start: int
    end: int
    first_line: int
    fmt: str


def plan_blocks(path: str, fmt: str = "auto", block_bytes: int = DEFAULT_BLOCK_BYTES) -> list[Block]:
    """The blocks of one file, cut after a newline every ``block_bytes`` or so.

    Lines are counted as Python's text files count them (``\\n``, ``\\r\\n`` or a lone ``\\r``).

    Raises:
        DataError: the file is missing or unreadable.
    """
    if block_bytes < 1:
        raise DataError(f"block_bytes must be >= 1, got {block_bytes}")
    file = Path(path)
    try:
        size = file.stat().st_size
        handle = file.open("rb")
    except FileNotFoundError:
        raise DataError(f"input file {path} does not exist") from None
    except OSError as exc:
        raise DataError(f"input file {path} cannot be read: {exc.strerror}") from None
    blocks: list[Block] = []
    with handle:
        fmt = _file_format(path, handle, fmt)
        start, line = 0, 1
        while start < size:
            handle.seek(start + block_bytes)
            handle.readline()
            end = min(max(handle.tell(), start + 1), size)
            handle.seek(start)
            data = handle.read(end - start)
            blocks.append(Block(path, start, end, line, fmt))
            line += data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
            start = end
    return blocks


def _file_format(path: str, handle: Any, fmt: str) -> str:
    """``jsonl`` or ``text``: by ``fmt``, else the suffix, else the first non-blank line (as ``predict``)."""
    fmt = guess_format(path, fmt)
    if fmt != "auto":
        return fmt
    for raw in handle:
        stripped = raw.strip()
        if stripped:
            return "jsonl" if stripped.startswith(b"{") else "text"
    return "text"


def read_block(block: Block) -> Iterator[tuple[str, str]]:
    """The ``(id, text)`` documents of ``block``, exactly as ``mlbalance predict`` reads them.

    Raises:
        DataError: a line that is not a valid document (file and line), or bytes that are not UTF-8.
    """
    with open(block.path, "rb") as handle:
        handle.seek(block.start)
        data = handle.read(block.end - block.start)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{block.path} is not UTF-8 text: {exc.reason} at byte {block.start + exc.start}"
        ) from None
    return read_documents(io.StringIO(text, newline=None), block.path, block.fmt, block.first_line)


class BlockPredictor:
    """A Ray Data actor: loads the run once, turns blocks into JSONL records (one output row per document)."""

    def __init__(self, run_dir: str, batch: int, top: int, all_scores: bool, threads: int | None) -> None:
        from mlbalance.runs import load_run

        if threads:
            import torch

            torch.set_num_threads(threads)
        self.run = load_run(run_dir)
        self.batch, self.top, self.all_scores = batch, top, all_scores

    def __call__(self, blocks: dict[str, Any]) -> dict[str, list[str]]:
        """One row per document (``line``: its record); a bad input is one row whose ``error`` says why.

        Errors travel as data because Ray's wrappers keep only the text of an actor's exception; the
        driver raises the first one in input order, as ``predict`` would.
        """
        lines: list[str] = []
        try:
            for values in zip(*(blocks[key] for key in ("path", "start", "end", "first_line", "fmt"))):
                path, start, end, first_line, fmt = values
                block = Block(str(path), int(start), int(end), int(first_line), str(fmt))
                lines += jsonl_records(
                    self.run, read_block(block), batch=self.batch, top=self.top, all_scores=self.all_scores
                )
        except MlbalanceError as exc:
            return {"line": [""], "error": [json.dumps([type(exc).__name__, str(exc)])]}
        return {"line": lines, "error": [""] * len(lines)}


def predict_with_ray(
    run_dir: str | Path,
    files: list[str],
    *,
    fmt: str = "auto",
    top: int = 5,
    all_scores: bool = False,
    batch: int = 2048,
    address: str | None = None,
    workers: int | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Iterator[str]:
    """The JSONL records (without newline) of every document of ``files``, in input order, via Ray Data.

    Args:
        run_dir: a finished run directory (checked here before Ray starts).
        files: input files, predicted in this order.
        fmt: ``auto``, ``jsonl`` or ``text`` (as ``mlbalance predict --format``).
        top, all_scores: which scores each record carries (as ``predict --top/--all-scores``).
        batch: documents scored at once inside an actor.
        address: a Ray cluster's address; None starts a local instance (stopped at the end).
        workers: actors scoring in parallel (default: one per CPU of the cluster, one thread each).
        block_bytes: about how many bytes of input each block holds.

    Raises:
        RunError: the run cannot be loaded, or Ray failed for another reason than the input.
        DataError: a bad input line (file and line), as ``predict`` reports it.
    """
    import ray

    from mlbalance.runs import load_run

    load_run(run_dir)  # one clear error before any worker starts
    blocks = [block for path in files for block in plan_blocks(path, fmt, block_bytes)]
    if not blocks:
        return
    with ray_session(address):
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        pool = min(workers or cpus, len(blocks))
        dataset = ray.data.from_items([asdict(b) for b in blocks], override_num_blocks=len(blocks))
        dataset = dataset.map_batches(
            BlockPredictor,
            batch_size=1,
            fn_constructor_kwargs={
                "run_dir": str(Path(run_dir).resolve()),
                "batch": batch,
                "top": top,
                "all_scores": all_scores,
                "threads": None if workers else 1,
            },
            compute=ray.data.ActorPoolStrategy(size=pool),
            num_cpus=1,
        )
        try:
            for rows in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                failed = [str(e) for e in rows["error"] if e]
                if failed:
                    raise _error_from_actor(failed[0])
                yield from (str(line) for line in rows["line"])
        except MlbalanceError:
            raise
        except Exception as exc:  # Ray itself failed (a lost node, an actor that could not start, ...)
            raise RunError(f"batch prediction on Ray failed: {_last_error_line(exc)}") from None


def _error_from_actor(encoded: str) -> MlbalanceError:
    """The error an actor reported (``[class name, message]``), as the same mlbalance error class."""
    from mlbalance import errors

    name, message = json.loads(encoded)
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, MlbalanceError)):
        cls = RunError
    return cls(message)


def _last_error_line(exc: BaseException) -> str:
    """The last ``SomethingError: message`` line of a (Ray-wrapped) exception's text, else its first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    named = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line)]
    return (named or lines or [type(exc).__name__])[-1 if named else 0]
