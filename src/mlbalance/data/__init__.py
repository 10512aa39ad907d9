"""Data sources as one :class:`~mlbalance.data.corpus.Corpus`, and label statistics.

:func:`load_corpus` is the single entry point: every source becomes the same three splits over one
label space.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlbalance.data.corpus import Corpus, LabelSpace, Split
from mlbalance.data.stats import DATASET_GROUPING, LabelStats
from mlbalance.errors import DataError
from mlbalance.progress import ProgressCallback

#: Named sources; anything else is read as a path to a JSONL/CSV file or a folder of split files.
SOURCES = ("reuters21578", "bioasq", "synthetic:<preset>")


def load_corpus(
    source: str,
    data: str | os.PathLike[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> Corpus:
    """Load any supported source as a :class:`Corpus`.

    Args:
        source: ``"reuters21578"``; ``"bioasq"``; ``"synthetic:<preset>"`` (``tiny``, ``small``,
            ``reuters-like``, ``pubmed-like``); a path to a JSONL/CSV file or a folder of split files; or
            ``"files"`` with that path in ``data``.
        data: for ``reuters21578`` the ``.tar.gz`` or folder (None: ``$MLBALANCE_DATA``, the cache,
            then download); for ``bioasq`` the JSON file; ignored otherwise (must be None).
        progress: a :class:`~mlbalance.progress.ProgressCallback` told of generating a synthetic corpus
            and of reading a BioASQ file (stage ``"reading"``, in bytes).
        **options: passed to the source's loader: :func:`~mlbalance.data.reuters.load_reuters`,
            :func:`~mlbalance.data.bioasq.load_bioasq`, :func:`~mlbalance.data.synthetic.load_synthetic`
            or :func:`~mlbalance.data.files.load_files`.

    Raises:
        DataError: unknown source, missing or malformed data.
    """
    if source in ("reuters21578", "reuters"):
        from mlbalance.data.reuters import load_reuters

        return load_reuters(data, **options)
    if source in ("bioasq", "pubmed"):
        from mlbalance.data.bioasq import load_bioasq

        if data is None:
            raise DataError("the bioasq source needs the path of a BioASQ Task A JSON file (`data`, --data)")
        if progress is not None and Path(data).is_file():
            options["progress"] = _bytes_progress(progress, Path(data).stat().st_size)
        return load_bioasq(data, **options)
    if source.startswith("synthetic:"):
        from mlbalance.data.synthetic import load_synthetic

        if data is not None:
            raise DataError(f"{source} is generated; it takes no data path, got {str(data)!r}")
        return load_synthetic(source.split(":", 1)[1], progress=progress, **options)
    if source in ("files", "jsonl", "csv"):
        if data is None:
            raise DataError(f"the {source} source needs the path of a file or folder (`data`, --data)")
        path = Path(data)
    else:
        path = Path(source)
        if data is not None and Path(data) != path:
            raise DataError(
                f"source {source!r} is a path, so `data` must be None or the same path, got {str(data)!r}"
            )
    if path.exists():
        from mlbalance.data.files import load_files

        return load_files(path, **options)
    raise DataError(
        f"unknown data source {source!r}: expected one of {SOURCES} or an existing JSONL/CSV file or folder"
    )


def _bytes_progress(progress: ProgressCallback, total: int) -> Callable[[int], None]:
    """A callback of bytes read (as :func:`~mlbalance.data.bioasq.load_bioasq` calls it) that tells
    ``progress`` the running total."""
    read = 0

    def on_bytes(n: int) -> None:
        nonlocal read
        read += n
        progress("reading", read, total)

    return on_bytes


__all__ = ["DATASET_GROUPING", "Corpus", "LabelSpace", "LabelStats", "Split", "load_corpus"]
