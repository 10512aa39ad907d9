"""PubMed MeSH indexing from the BioASQ Task A JSON, streamed, with the paper's preprocessing.

The BioASQ training file is one JSON object, ``{"articles": [{"pmid", "title", "abstractText",
"meshMajor", "year", "journal"}, ...]}``, of many gigabytes. :func:`iter_articles` reads it in
fixed-size chunks and decodes one article at a time with :meth:`json.JSONDecoder.raw_decode`, so
memory stays flat whatever the file size (a top-level list of articles is read the same way).

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
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mlbalance.data.corpus import Corpus, LabelSpace, Split
from mlbalance.data.splits import sklearn_style_split
from mlbalance.data.stats import DATASET_GROUPING
from mlbalance.errors import DataError

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
#: An article longer than this (in characters) is taken for malformed JSON rather than read on.
MAX_ARTICLE_CHARS = 16 << 20
_WS = " \t\r\n"


class _Reader:
    """Decoded text of a file in chunks, with the absolute character offset of the buffer start."""

    def __init__(self, path: Path, progress: Callable[[int], None] | None, errors: str = "strict") -> None:
        self.path = path
        self.handle = open(path, "rb")  # noqa: SIM115 - closed in close()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
        self.buf = ""
        self.pos = 0
        self.offset = 0  # characters consumed before buf
        self.bytes_read = 0
        self.eof = False
        self.progress = progress

    def close(self) -> None:
        self.handle.close()

    def more(self) -> bool:
        """Append the next chunk to the buffer; False at end of file."""
        if self.eof:
            return False
        raw = self.handle.read(CHUNK_BYTES)
        final = not raw
        try:
            text = self.decoder.decode(raw, final=final)
        except UnicodeDecodeError as exc:
            at = self.bytes_read + exc.start
            raise DataError(
                f"{self.path}: byte offset {at}: bytes {exc.object[exc.start : exc.end]!r} are not valid "
                "UTF-8; expected a UTF-8 JSON file (unicode_errors='replace' reads on with U+FFFD)"
            ) from None
        self.bytes_read += len(raw)
        if self.progress is not None and raw:
            self.progress(len(raw))
        if self.pos > CHUNK_BYTES:
            self.offset += self.pos
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += text
        self.eof = final
        return not final or bool(text)

    def skip_ws(self) -> str:
        """Skip whitespace; the next character, or '' at end of file."""
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self.more():
                return ""

    def expect(self, chars: str, what: str) -> str:
        char = self.skip_ws()
        if not char or char not in chars:
            found = repr(self.buf[self.pos : self.pos + 40]) if char else "end of file"
            raise DataError(
                f"{self.path}: character offset {self.offset + self.pos}: found {found}; expected {what}"
            )
        self.pos += 1
        return char

    def value(self, decoder: json.JSONDecoder, what: str) -> Any:
        """Decode one JSON value at the cursor, reading more of the file as needed."""
        self.skip_ws()
        while True:
            try:
                obj, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                too_long = len(self.buf) - self.pos > MAX_ARTICLE_CHARS
                if too_long or not self.more():
                    start = self.offset + self.pos
                    reason = "truncated file" if self.eof and not too_long else exc.msg
                    raise DataError(
                        f"{self.path}: {what} at character offset {start}: malformed JSON ({reason}, "
                        f"near {self.buf[exc.pos : exc.pos + 30]!r}); expected a JSON object"
                    ) from None
                continue
            if end == len(self.buf) and not self.eof and not isinstance(obj, dict | list | str):
                # A number may continue in the next chunk; read on and decode again.
                self.more()
                continue
            self.pos = end
            return obj


def iter_articles(
    path: str | os.PathLike[str],
    progress: Callable[[int], None] | None = None,
    unicode_errors: Literal["strict", "replace"] = "strict",
) -> Iterator[dict[str, Any]]:
    """The article objects of a BioASQ JSON file, one at a time, in file order.

    Args:
        path: ``{"articles": [...]}`` (other top-level keys are skipped) or a top-level list.
        progress: called with the number of bytes read after each chunk.
        unicode_errors: ``"strict"`` raises on bytes that are not UTF-8; ``"replace"`` reads them as
            U+FFFD.

    Raises:
        DataError: empty file, non-UTF-8 bytes, malformed or truncated JSON, no ``articles`` list,
            an article that is not an object.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected a BioASQ Task A JSON file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; expected a BioASQ Task A JSON file")
    if unicode_errors not in ("strict", "replace"):
        raise DataError(f"`unicode_errors` must be 'strict' or 'replace', got {unicode_errors!r}")
    reader = _Reader(path, progress, unicode_errors)
    decoder = json.JSONDecoder()
    try:
        first = reader.expect("{[", "'{' or '[' opening the BioASQ JSON")
        if first == "{":
            while True:
                key = reader.value(decoder, "a key of the top-level object")
                if not isinstance(key, str):
                    raise DataError(f'{path}: top-level key {key!r} is not a string; expected "articles"')
                reader.expect(":", "':' after a top-level key")
                if key == "articles":
                    reader.expect("[", "'[' opening the articles list")
                    break
                reader.value(decoder, f"the value of top-level key {key!r}")
                if reader.expect(",}", "',' or '}' in the top-level object") == "}":
                    raise DataError(f'{path}: no "articles" list in the top-level object; expected one')
        index = 0
        if reader.skip_ws() == "]":
            return
        while True:
            article = reader.value(decoder, f"article {index}")
            if not isinstance(article, dict):
                raise DataError(
                    f"{path}: article {index} is a JSON {type(article).__name__} ({str(article)[:60]!r}); "
                    "expected an object"
                )
            yield article
            index += 1
            if reader.expect(",]", f"',' or ']' after article {index - 1}") == "]":
                return
    finally:
        reader.close()


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
    grouping = DATASET_GROUPING["pubmed"]
    return Corpus(
        name="bioasq",
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        label_space=LabelSpace(names),
        preset="pubmed",
        head_min=grouping["head_min"],
        tail_max=grouping["tail_max"],
        doc_bins=grouping["doc_bins"],
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
