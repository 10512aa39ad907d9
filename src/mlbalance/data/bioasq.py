"""PubMed MeSH indexing from the BioASQ Task A JSON, streamed, with the paper's preprocessing.

The BioASQ training file is one JSON object, ``{"articles": [{"pmid", "title", "abstractText",
"meshMajor", "year", "journal"}, ...]}``, of many gigabytes. :func:`iter_articles` streams it with
ijson (its C parser), one article at a time, so memory stays flat whatever the file size (a top-level
list of articles is read the same way).

:func:`load_bioasq` follows the paper: articles of 2020–2021, text ``title + " " + abstractText``,
labels ``meshMajor``; 10,000 articles held out (``train_test_split(random_state=123)``) and halved
into validation and test with the same random state; labels kept when they occur at least 5 times in
train. What it does with unusual articles (counted in ``Corpus.metadata`` and logged, never silent):

* a ``year`` that is missing or not a number: skipped when a year filter is set;
* an empty text (no title and no abstract): skipped;
* labels dropped by the frequency rule; a document left without labels stays as an all-negative
  example;
* a ``meshMajor`` that is not a list of strings, an article that is not an object, bytes that are not
  UTF-8, truncated or malformed JSON: :class:`~mlbalance.errors.DataError` naming the file, the
  article's ``pmid`` or byte offset, the value and what was expected.
"""

from __future__ import annotations

import codecs
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from mlbalance.data.corpus import Corpus, LabelSpace, Split
from mlbalance.data.splits import sklearn_style_split
from mlbalance.errors import DataError

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


class _Utf8Stream:
    """A binary file as ijson reads it: chunks checked as UTF-8 (or repaired with U+FFFD), counted
    for the progress callback."""

    def __init__(
        self, handle: BinaryIO, path: Path, progress: Callable[[int], None] | None, errors: str
    ) -> None:
        self.handle, self.path, self.progress, self.errors = handle, path, progress, errors
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        raw = self.handle.read(CHUNK_BYTES if size is None or size < 0 else min(size, CHUNK_BYTES))
        try:
            text = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            at = self.bytes_read + exc.start
            raise DataError(
                f"{self.path}: byte offset {at}: bytes {exc.object[exc.start : exc.end]!r} are not valid "
                "UTF-8; expected a UTF-8 JSON file (unicode_errors='replace' reads on with U+FFFD)"
            ) from None
        self.bytes_read += len(raw)
        if self.progress is not None and raw:
            self.progress(len(raw))
        return text.encode("utf-8") if self.errors == "replace" else raw


def _first_byte(handle: BinaryIO) -> bytes:
    """The first byte that is not JSON whitespace (b'' for none); the file is rewound after."""
    while chunk := handle.read(CHUNK_BYTES):
        stripped = chunk.lstrip(b" \t\r\n")
        if stripped:
            handle.seek(0)
            return stripped[:1]
    handle.seek(0)
    return b""


def _parse_error(path: Path, exc: Exception, index: int) -> DataError:
    """A one-line :class:`DataError` from ijson's message (its first line and the text it points at)."""
    message = exc.args[0] if exc.args else str(exc)
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    reason = "truncated file" if not lines or "premature EOF" in lines[0] else lines[0]
    near = f", near {lines[1][:60]!r}" if len(lines) > 2 else ""
    return DataError(f"{path}: malformed JSON at article {index} ({index} read before it): {reason}{near}")


def _has_articles_key(path: Path) -> bool:
    """Whether the top-level object of ``path`` has an ``"articles"`` key (checked when none was read)."""
    import ijson

    with open(path, "rb") as handle:
        events = ijson.parse(handle)
        return any(prefix == "" and event == "map_key" and key == "articles" for prefix, event, key in events)


def iter_articles(
    path: str | os.PathLike[str],
    progress: Callable[[int], None] | None = None,
    unicode_errors: Literal["strict", "replace"] = "strict",
) -> Iterator[dict[str, Any]]:
    """The article objects of a BioASQ JSON file, one at a time, in file order (streamed by ijson).

    Args:
        path: ``{"articles": [...]}`` (other top-level keys are skipped) or a top-level list.
        progress: called with the number of bytes read after each chunk.
        unicode_errors: ``"strict"`` raises on bytes that are not UTF-8; ``"replace"`` reads them as
            U+FFFD.

    Raises:
        DataError: empty file, non-UTF-8 bytes, malformed or truncated JSON, no ``articles`` list,
            an article that is not an object.
    """
    import ijson

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected a BioASQ Task A JSON file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; expected a BioASQ Task A JSON file")
    if unicode_errors not in ("strict", "replace"):
        raise DataError(f"`unicode_errors` must be 'strict' or 'replace', got {unicode_errors!r}")
    with open(path, "rb") as handle:
        first = _first_byte(handle)
        if first not in (b"{", b"["):
            found = repr(handle.read(40).strip()) if first else "only whitespace"
            raise DataError(f"{path}: found {found}; expected '{{' or '[' opening the BioASQ JSON")
        stream = _Utf8Stream(handle, path, progress, unicode_errors)
        index = 0
        try:
            for article in ijson.items(stream, "articles.item" if first == b"{" else "item", use_float=True):
                if not isinstance(article, dict):
                    raise DataError(
                        f"{path}: article {index} is a JSON {type(article).__name__} "
                        f"({str(article)[:60]!r}); expected an object"
                    )
                yield article
                index += 1
        except ijson.JSONError as exc:
            raise _parse_error(path, exc, index) from None
    if index == 0 and first == b"{" and not _has_articles_key(path):
        raise DataError(f'{path}: no "articles" list in the top-level object; expected one')


def _year(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _held_out_size(value: int | float, n: int) -> int:
    size = round(value * n) if isinstance(value, float) else int(value)
    if not 2 <= size < n:
        raise DataError(
            f"`held_out`={value!r} leaves {size} of {n} articles for validation + test; "
            f"expected between 2 and {n - 1}"
        )
    return size


def load_bioasq(
    data: str | os.PathLike[str],
    *,
    years: tuple[int, int] | None = (2020, 2021),
    held_out: int | float = 10_000,
    min_label_count: int = 5,
    seed: int = 123,
    progress: Callable[[int], None] | None = None,
    unicode_errors: Literal["strict", "replace"] = "strict",
) -> Corpus:
    """The paper's PubMed corpus from a BioASQ Task A JSON file.

    Args:
        data: the JSON file.
        years: inclusive range of ``year`` kept (paper: 2020–2021); None keeps every article.
        held_out: articles (int) or fraction (float) held out and halved into validation and test
            (paper: 10,000).
        min_label_count: labels kept when they occur at least this often in train (paper: 5).
        seed: random state of both splits (paper: 123).
        progress: called with bytes read, for a progress bar.
        unicode_errors: ``"strict"`` (bytes that are not UTF-8 are an error) or ``"replace"``.

    Returns:
        A :class:`Corpus` named ``"bioasq"`` with preset ``"pubmed"`` (head ≥ 50, tail ≤ 15).
    """
    path = Path(data)
    counts: Counter[str] = Counter()
    texts: list[str] = []
    labels: list[tuple[str, ...]] = []
    ids: list[str] = []
    for index, article in enumerate(iter_articles(path, progress, unicode_errors)):
        counts["articles"] += 1
        pmid = article.get("pmid", f"#{index}")
        if years is not None:
            year = _year(article.get("year"))
            if year is None:
                counts["skipped_bad_year"] += 1
                continue
            if not years[0] <= year <= years[1]:
                continue
        mesh = article.get("meshMajor")
        if not isinstance(mesh, list) or not all(isinstance(m, str) for m in mesh):
            raise DataError(
                f"{path}: article pmid={pmid}: meshMajor is {str(mesh)[:60]!r}; expected a list of strings"
            )
        title, abstract = article.get("title") or "", article.get("abstractText") or ""
        if not isinstance(title, str) or not isinstance(abstract, str):
            raise DataError(f"{path}: article pmid={pmid}: title and abstractText must be strings")
        text = f"{title} {abstract}".strip()
        if not text:
            counts["skipped_empty_text"] += 1
            continue
        texts.append(text)
        labels.append(tuple(dict.fromkeys(m.strip() for m in mesh if m.strip())))
        ids.append(str(pmid))
    n = len(texts)
    if n < 3:
        raise DataError(
            f"{path}: {n} article(s) kept (years {years}); expected enough for train, validation and test"
        )
    size = _held_out_size(held_out, n)
    train_idx, held_idx = sklearn_style_split(n, size, seed)
    # train_test_split(held, test_size=0.5, random_state=seed) -> (validation, test).
    val_pos, test_pos = sklearn_style_split(size, size - size // 2, seed)
    val_idx, test_idx = held_idx[val_pos], held_idx[test_pos]

    label_counts = Counter(name for i in train_idx for name in labels[i])
    names = sorted(name for name, c in label_counts.items() if c >= min_label_count)
    keep = set(names)
    dropped_labels = len(label_counts) - len(names)

    def subset(idx: np.ndarray) -> Split:
        lab = [tuple(n for n in labels[i] if n in keep) for i in idx]
        return Split(texts=[texts[i] for i in idx], labels=lab, ids=[ids[i] for i in idx])

    splits = {
        name: subset(idx) for name, idx in (("train", train_idx), ("validation", val_idx), ("test", test_idx))
    }
    no_labels = {name: sum(1 for lab in s.labels if not lab) for name, s in splits.items()}
    for key, value in sorted(counts.items()):
        if key.startswith("skipped") and value:
            log.warning("%s: %s = %d", path, key, value)
    log.info(
        "%s: %d articles kept; %d labels kept (>= %d in train), %d dropped; documents without labels: %s",
        path,
        n,
        len(names),
        min_label_count,
        dropped_labels,
        no_labels,
    )
    return Corpus.with_preset(
        "pubmed",
        name="bioasq",
        **splits,
        label_space=LabelSpace(names),
        metadata={
            "source": str(path),
            **dict(counts),
            "kept": n,
            "years": list(years) if years else None,
            "labels_dropped_below_min_count": dropped_labels,
            "min_label_count": min_label_count,
            "documents_without_labels": no_labels,
            "seed": seed,
        },
    )
