"""Your own corpus from JSONL or CSV files, and the writer that produces the same format.

Two layouts are read:

* **one file** (``.jsonl`` or ``.csv``) whose records carry a split field (``train``, ``validation`` /
  ``val`` / ``dev``, ``test``); without one, pass ``test_size`` to split a test set off, seeded;
* **a folder** of split files named ``train``, ``validation`` (or ``val``, ``dev``) and ``test`` with
  the suffix ``.jsonl`` or ``.csv``. ``train`` and ``test`` are required.

When there is no validation split, ``validation_size`` documents are split off train (seeded; by
iterative stratification unless ``stratify=False``).

Records carry a text field and a labels field (names configurable). Labels are a JSON list of strings
(integers are turned into strings) or a string split on ``label_delimiter``; surrounding whitespace is
stripped, empty pieces are ignored and repeats count once.

What happens to unusual input (never silent; counts go to ``Corpus.metadata`` and the log):

* a line that is not JSON, a record without the text or labels field, a text that is not a string,
  a labels value of another type, bytes that are not UTF-8, an unknown split name, an empty file:
  :class:`~mlbalance.errors.DataError` naming the file, the line, the value and what was expected;
* blank lines in JSONL are skipped;
* an empty text: an error by default (``empty_text="skip"`` skips and counts);
* a document with no labels: kept as an all-negative example by default and counted
  (``no_labels="skip"`` or ``"error"``);
* labels in validation/test that never occur in train: kept in the label space with ``n_i = 0`` by
  default, like Reuters-21578 in the paper (``unseen_labels="drop"`` removes them from those splits,
  ``"error"`` refuses); either way they are logged and listed in the metadata.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlbalance._atomic import atomic_open
from mlbalance.data.corpus import SPLIT_NAMES, Corpus, LabelSpace, Split
from mlbalance.data.splits import iterative_stratification_split, sklearn_style_split
from mlbalance.data.stats import DATASET_GROUPING
from mlbalance.errors import DataError

log = logging.getLogger(__name__)

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
}
SUFFIXES = (".jsonl", ".csv")


@dataclass(frozen=True)
class FileFormat:
    """How records are read: field names, label delimiter, encoding."""

    text_field: str = "text"
    labels_field: str = "labels"
    id_field: str = "id"
    split_field: str = "split"
    label_delimiter: str = ","
    encoding: str = "utf-8"


@dataclass
class _Record:
    id: str
    text: str
    labels: tuple[str, ...]
    split: str | None
    where: str


def _decoded_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of a file, each line decoded on its own so errors name the line."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}:{number}: bytes {raw[exc.start : exc.end]!r} at column {exc.start + 1} are not "
                    f"valid {encoding}; expected {encoding}-encoded text"
                ) from None
            # A byte-order mark (as spreadsheet programs write) is not part of the first field.
            yield number, text[1:] if number == 1 and text.startswith("\ufeff") else text


def _parse_labels(value: Any, fmt: FileFormat, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        pieces = value.split(fmt.label_delimiter) if fmt.label_delimiter else [value]
    elif isinstance(value, list):
        pieces = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise DataError(
                    f"{where}: label {item!r} in field {fmt.labels_field!r} is a {type(item).__name__}; "
                    "expected strings (or integers)"
                )
            pieces.append(str(item))
    else:
        raise DataError(
            f"{where}: field {fmt.labels_field!r} is {value!r} ({type(value).__name__}); expected a list of "
            f"strings or a string of labels separated by {fmt.label_delimiter!r}"
        )
    return tuple(dict.fromkeys(p.strip() for p in pieces if p.strip()))


def _make_record(obj: dict[str, Any], fmt: FileFormat, where: str, default_id: str) -> _Record:
    for field in (fmt.text_field, fmt.labels_field):
        if field not in obj:
            raise DataError(
                f"{where}: record has no field {field!r}; fields present: {sorted(obj)[:10]} "
                "(set the field names with text_field= / labels_field=)"
            )
    text = obj[fmt.text_field]
    if not isinstance(text, str):
        raise DataError(
            f"{where}: field {fmt.text_field!r} is {text!r} ({type(text).__name__}); expected a string"
        )
    split = obj.get(fmt.split_field)
    if split is not None:
        key = str(split).strip().lower()
        if key not in SPLIT_ALIASES:
            raise DataError(
                f"{where}: field {fmt.split_field!r} is {split!r}; expected one of {sorted(SPLIT_ALIASES)}"
            )
        split = SPLIT_ALIASES[key]
    doc_id = obj.get(fmt.id_field)
    return _Record(
        id=str(doc_id) if doc_id is not None else default_id,
        text=text,
        labels=_parse_labels(obj[fmt.labels_field], fmt, where),
        split=split,
        where=where,
    )


def read_jsonl(path: str | os.PathLike[str], fmt: FileFormat | None = None) -> Iterator[_Record]:
    """Records of a JSONL file (one JSON object per line; blank lines skipped)."""
    fmt = fmt or FileFormat()
    path = Path(path)
    for number, line in _decoded_lines(path, fmt.encoding):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{where}: not valid JSON ({exc.msg} at column {exc.colno}): {line.strip()[:80]!r}; "
                "expected one JSON object per line"
            ) from None
        if not isinstance(obj, dict):
            raise DataError(
                f"{where}: {line.strip()[:80]!r} is a JSON {type(obj).__name__}; expected an object"
            )
        yield _make_record(obj, fmt, where, default_id=f"{path.stem}:{number}")


def _next_row(reader: Any, path: Path, what: str) -> list[str] | None:
    """The next row of a ``csv.reader`` (None at the end); malformed CSV: a :class:`DataError` at its line."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise DataError(f"{path}:{max(reader.line_num, 1)}: malformed {what} ({exc})") from None


def read_csv(path: str | os.PathLike[str], fmt: FileFormat | None = None) -> Iterator[_Record]:
    """Records of a CSV file with a header row; labels are a delimiter-separated string."""
    fmt = fmt or FileFormat()
    path = Path(path)
    lines = (line for _, line in _decoded_lines(path, fmt.encoding))
    reader = csv.reader(lines)
    header = _next_row(reader, path, "CSV header")
    if header is None:
        return
    for field in (fmt.text_field, fmt.labels_field):
        if field not in header:
            raise DataError(
                f"{path}:1: the CSV header has no column {field!r}; columns: {header[:10]} "
                "(set the field names with text_field= / labels_field=)"
            )
    while True:
        row = _next_row(reader, path, "CSV")
        if row is None:
            return
        if not row:
            continue
        where = f"{path}:{reader.line_num}"
        if len(row) != len(header):
            raise DataError(f"{where}: {len(row)} columns; expected {len(header)} as in the header")
        yield _make_record(dict(zip(header, row)), fmt, where, default_id=f"{path.stem}:{reader.line_num}")


def read_records(path: Path, fmt: FileFormat) -> list[_Record]:
    """All records of one ``.jsonl`` or ``.csv`` file; an empty file is an error."""
    if path.suffix.lower() == ".jsonl":
        records = list(read_jsonl(path, fmt))
    elif path.suffix.lower() == ".csv":
        records = list(read_csv(path, fmt))
    else:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; expected one of {SUFFIXES}")
    if not records:
        raise DataError(f"{path}: the file holds no records; expected at least one")
    return records


def _folder_files(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for file in sorted(folder.iterdir()):
        split = SPLIT_ALIASES.get(file.stem.lower())
        if split is None or file.suffix.lower() not in SUFFIXES:
            continue
        if split in found:
            raise DataError(f"{folder}: both {found[split].name} and {file.name} hold the {split} split")
        found[split] = file
    for required in ("train", "test"):
        if required not in found:
            present = [p.name for p in sorted(folder.iterdir())][:10]
            raise DataError(
                f"{folder}: no {required} file; expected train, test and optionally validation "
                f"(val, dev) files ending in {SUFFIXES}; found {present}"
            )
    return found


def _to_split(records: Sequence[_Record]) -> Split:
    return Split(
        texts=[r.text for r in records],
        labels=[r.labels for r in records],
        ids=[r.id for r in records],
    )


def _resolve_size(value: int | float, n: int, name: str) -> int:
    size = round(value * n) if isinstance(value, float) else int(value)
    if not 0 < size < n:
        raise DataError(f"`{name}`={value!r} leaves {size} of {n} documents; expected between 1 and {n - 1}")
    return size


def _split_off(
    records: list[_Record], size: int, seed: int, stratify: bool
) -> tuple[list[_Record], list[_Record]]:
    if stratify:
        space = LabelSpace.from_labels(r.labels for r in records)
        y = space.encode([r.labels for r in records])
        rest, held = iterative_stratification_split(y, size, seed)
    else:
        rest, held = sklearn_style_split(len(records), size, seed)
    return [records[i] for i in rest], [records[i] for i in held]


def load_files(
    path: str | os.PathLike[str],
    *,
    text_field: str = "text",
    labels_field: str = "labels",
    id_field: str = "id",
    split_field: str = "split",
    label_delimiter: str = ",",
    encoding: str = "utf-8",
    validation_size: int | float = 0.1,
    test_size: int | float | None = None,
    seed: int = 123,
    stratify: bool = True,
    empty_text: Literal["error", "skip"] = "error",
    no_labels: Literal["keep", "skip", "error"] = "keep",
    unseen_labels: Literal["keep", "drop", "error"] = "keep",
    preset: str | None = None,
    head_min: int | None = None,
    tail_max: int | None = None,
) -> Corpus:
    """A :class:`Corpus` from a JSONL/CSV file or a folder of split files (see the module docstring).

    Args:
        path: a ``.jsonl``/``.csv`` file with a split field, or a folder of split files.
        text_field, labels_field, id_field, split_field: record field names.
        label_delimiter: separator when labels are one string.
        encoding: text encoding of the files.
        validation_size: documents (int) or fraction of train (float) split off when there is no
            validation split.
        test_size: for a single file without a split field: documents or fraction held out as test.
        seed: random state of any split made here.
        stratify: iterative stratification (True) or a plain random split.
        empty_text: ``"error"`` or ``"skip"`` (counted).
        no_labels: ``"keep"`` (all-negative example), ``"skip"`` or ``"error"``.
        unseen_labels: labels outside train in validation/test: ``"keep"`` (``n_i = 0``), ``"drop"``,
            ``"error"``.
        preset: grouping preset (``"reuters"``, ``"pubmed"``) for head/medium/tail cut-offs and
            document bins; None uses the Reuters cut-offs.
        head_min, tail_max: explicit cut-offs, overriding the preset's.
    """
    for name, value, allowed in (
        ("empty_text", empty_text, ("error", "skip")),
        ("no_labels", no_labels, ("keep", "skip", "error")),
        ("unseen_labels", unseen_labels, ("keep", "drop", "error")),
    ):
        if value not in allowed:
            raise DataError(f"`{name}` must be one of {allowed}, got {value!r}")
    if preset is not None and preset not in DATASET_GROUPING:
        raise DataError(f"`preset` must be one of {tuple(DATASET_GROUPING)} or None, got {preset!r}")
    fmt = FileFormat(text_field, labels_field, id_field, split_field, label_delimiter, encoding)
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    by_split: dict[str, list[_Record]] = {}
    if path.is_dir():
        for split, file in _folder_files(path).items():
            records = read_records(file, fmt)
            for r in records:
                r.split = split
            by_split[split] = records
    else:
        records = read_records(path, fmt)
        missing = [r for r in records if r.split is None]
        if missing and len(missing) != len(records):
            raise DataError(
                f"{missing[0].where}: record has no {split_field!r} field while others do; "
                "expected a split on every record or on none"
            )
        if missing:
            if test_size is None:
                raise DataError(
                    f"{path}: records have no {split_field!r} field; give test_size= to split a test set "
                    "off, or add the field (train / validation / test)"
                )
            rest, held = _split_off(
                records, _resolve_size(test_size, len(records), "test_size"), seed, stratify
            )
            by_split = {"train": rest, "test": held}
        else:
            for r in records:
                by_split.setdefault(r.split or "train", []).append(r)
            for required in ("train", "test"):
                if required not in by_split:
                    raise DataError(f"{path}: no record has {split_field}={required!r}; expected some")

    counts: Counter[str] = Counter()
    for split, records in by_split.items():
        kept = []
        for r in records:
            if not r.text.strip():
                if empty_text == "error":
                    raise DataError(
                        f"{r.where}: document {r.id!r} has an empty text; expected some text "
                        "(empty_text='skip' skips such documents)"
                    )
                counts["skipped_empty_text"] += 1
                continue
            if not r.labels:
                if no_labels == "error":
                    raise DataError(
                        f"{r.where}: document {r.id!r} has no labels; expected at least one "
                        "(no_labels='keep' or 'skip')"
                    )
                counts[f"{'skipped' if no_labels == 'skip' else 'kept'}_no_labels"] += 1
                if no_labels == "skip":
                    continue
            kept.append(r)
        by_split[split] = kept
        if not kept:
            raise DataError(f"{path}: the {split} split holds no usable document")

    if "validation" not in by_split:
        n_train = len(by_split["train"])
        size = _resolve_size(validation_size, n_train, "validation_size")
        by_split["train"], by_split["validation"] = _split_off(by_split["train"], size, seed, stratify)
        counts["validation_split_from_train"] = size

    train_labels = {name for r in by_split["train"] for name in r.labels}
    unseen: Counter[str] = Counter(
        name
        for split in ("validation", "test")
        for r in by_split[split]
        for name in r.labels
        if name not in train_labels
    )
    if unseen:
        message = (
            f"{path}: {len(unseen)} label(s) occur in validation/test but never in train "
            f"({sum(unseen.values())} occurrences), e.g. {sorted(unseen)[:5]}"
        )
        if unseen_labels == "error":
            raise DataError(
                message + "; expected every label to occur in train (unseen_labels='keep'/'drop')"
            )
        log.warning("%s; %s", message, "kept with n_i = 0" if unseen_labels == "keep" else "dropped")
        if unseen_labels == "drop":
            for split in ("validation", "test"):
                for r in by_split[split]:
                    r.labels = tuple(name for name in r.labels if name in train_labels)
    for key, value in sorted(counts.items()):
        if key != "validation_split_from_train":
            log.warning("%s: %s = %d", path, key, value)

    names = sorted(train_labels | (set(unseen) if unseen_labels == "keep" else set()))
    groups = {"head_min": head_min, "tail_max": tail_max}
    return Corpus.with_preset(
        preset,
        name=str(path),
        **{name: _to_split(by_split[name]) for name in ("train", "validation", "test")},
        label_space=LabelSpace(names),
        **{key: value for key, value in groups.items() if value is not None},
        metadata={
            "source": str(path),
            **dict(counts),
            "unseen_labels": sorted(unseen),
            "unseen_label_policy": unseen_labels,
            "seed": seed,
        },
    )


def write_jsonl(split: Split, path: str | os.PathLike[str]) -> None:
    """Write a split as JSONL (``{"id", "text", "labels"}`` per line), atomically."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        for doc_id, text, labels in zip(split.ids, split.texts, split.labels):
            handle.write(json.dumps({"id": doc_id, "text": text, "labels": list(labels)}, ensure_ascii=False))
            handle.write("\n")


def export_corpus(
    corpus: Corpus, out_dir: str | os.PathLike[str], *, overwrite: bool = False
) -> dict[str, Path]:
    """Write ``train.jsonl``, ``validation.jsonl`` and ``test.jsonl`` into ``out_dir`` (readable back).

    Args:
        corpus: the corpus to write.
        out_dir: the folder (created if missing).
        overwrite: replace split files already there; without it they are an error.

    Returns:
        The written paths by split name.

    Raises:
        DataError: a split file exists in ``out_dir`` (without ``overwrite``), checked before any is written.
    """
    out = Path(out_dir)
    existing = [f"{split}.jsonl" for split in SPLIT_NAMES if (out / f"{split}.jsonl").exists()]
    if existing and not overwrite:
        raise DataError(
            f"{out} already holds {', '.join(existing)}; replace them with overwrite=True (--overwrite) "
            "or choose another folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in SPLIT_NAMES:
        paths[split] = out / f"{split}.jsonl"
        write_jsonl(corpus.split(split), paths[split])
    return paths
