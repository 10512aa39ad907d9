"""Reuters-21578 (Distribution 1.0): the ModApte split with the 90 topic labels, as in the paper.

The reader takes the official SGML distribution, either its ``.tar.gz`` archive or an unpacked folder
holding ``reut2-000.sgm`` … ``reut2-021.sgm`` (latin-1). For each ``<REUTERS>`` document:

* the split is ``LEWISSPLIT`` (``TRAIN``/``TEST``) among documents with ``TOPICS="YES"`` (ModApte);
* the text is the title and the body, SGML entities decoded and control characters removed; the
  documents of ``TYPE="UNPROC"`` have neither, and their raw ``<TEXT>`` is used instead;
* the labels are the ``<TOPICS>`` entries, de-duplicated (two documents list a topic twice).

Only the 90 topics that occur in both ModApte train and test are kept, and documents left with none
are dropped: 7,770 train and 3,019 test documents. The paper's validation set is 1,000 documents split
from train with scikit-learn's ``train_test_split(random_state=123)``; :func:`load_reuters` draws the
same permutation (``numpy.random.RandomState(seed).permutation``) without importing scikit-learn, so
the remaining 6,770 training documents come in that permuted order. All 90 labels stay in the label
space even when the split leaves one of them with no training document (``n_i = 0``).
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlbalance.data.corpus import Corpus, LabelSpace, Split
from mlbalance.data.splits import sklearn_style_split
from mlbalance.errors import DataError

log = logging.getLogger(__name__)

#: The official address of the distribution (UCI KDD archive).
OFFICIAL_URL = "https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz"
ARCHIVE_NAME = "reuters21578.tar.gz"
#: What a complete, canonical copy contains (checked after a download).
EXPECTED_DOCUMENTS = 21_578
EXPECTED_MODAPTE = (9_603, 3_299)
N_SGML_FILES = 22

_ATTR_RE = re.compile(r'(\w+)="([^"]*)"')
_D_RE = re.compile(r"<D>(.*?)</D>", re.S)
_TAG_RE = re.compile(r"<[^>]+>")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class ReutersDocument:
    """One ``<REUTERS>`` element as read from the SGML."""

    newid: str
    lewissplit: str
    has_topics: bool
    doc_type: str  # the <TEXT TYPE=...> attribute: NORM, BRIEF or UNPROC
    topics: tuple[str, ...]
    text: str
    file: str
    repeated_topics: int = 0  # topics listed more than once in <TOPICS> (de-duplicated in ``topics``)


def _clean(fragment: str) -> str:
    """Drop tags, then decode SGML entities (``&lt;AXP&gt;`` is text), drop control characters, trim."""
    text = html.unescape(_TAG_RE.sub("", fragment))
    return _CONTROL_RE.sub("", text).strip()


def _element(text: str, tag: str) -> str | None:
    """Content of the first ``<tag>…</tag>`` in ``text`` (no attributes), or None."""
    i = text.find(f"<{tag}>")
    if i < 0:
        return None
    j = text.find(f"</{tag}>", i)
    return text[i + len(tag) + 2 : j] if j >= 0 else None


def parse_sgml(content: str, file: str = "<string>") -> Iterator[ReutersDocument]:
    """The documents of one ``reut2-NNN.sgm`` file's text.

    Raises:
        DataError: a ``<REUTERS>`` element is not closed, lacks ``NEWID``/``LEWISSPLIT``, or has
            ``<TEXT>`` missing.
    """
    pieces = content.split("<REUTERS")[1:]
    for n_seen, piece in enumerate(pieces, start=1):
        head_end = piece.find(">")
        attrs = dict(_ATTR_RE.findall(piece[: max(head_end, 0)]))
        newid = attrs.get("NEWID")
        if head_end < 0 or newid is None or "LEWISSPLIT" not in attrs:
            raise DataError(
                f"{file}: document {n_seen}: <REUTERS> tag {('<REUTERS' + piece)[:80]!r} lacks NEWID or "
                "LEWISSPLIT; expected both attributes"
            )
        close = piece.find("</REUTERS>")
        if close < 0:
            if n_seen < len(pieces):
                raise DataError(
                    f"{file}: document NEWID={newid}: <REUTERS> element is not closed before the next one "
                    "starts; expected </REUTERS>"
                )
            raise DataError(
                f"{file}: found {len(pieces)} <REUTERS> start tags but {n_seen - 1} complete documents; "
                "expected every <REUTERS> element to be closed by </REUTERS> (broken or truncated SGML)"
            )
        body = piece[head_end + 1 : close]
        text_start = body.find("<TEXT")
        text_open_end = body.find(">", text_start)
        text_end = body.find("</TEXT>", text_open_end)
        if text_start < 0 or text_open_end < 0 or text_end < 0:
            raise DataError(f"{file}: document NEWID={newid}: no <TEXT>…</TEXT> element; expected one")
        raw = body[text_open_end + 1 : text_end]
        doc_type = dict(_ATTR_RE.findall(body[text_start:text_open_end])).get("TYPE", "NORM")
        title = _element(raw, "TITLE")
        main = _element(raw, "BODY")
        if title is None and main is None:
            text = _clean(raw)
        else:
            parts = [_clean(m) for m in (title, main) if m is not None]
            text = "\n".join(p for p in parts if p)
        topics_block = _element(body, "TOPICS")
        topics = [t.strip() for t in _D_RE.findall(topics_block)] if topics_block else []
        unique_topics = tuple(dict.fromkeys(topics))
        yield ReutersDocument(
            newid=newid,
            lewissplit=attrs["LEWISSPLIT"],
            has_topics=attrs.get("TOPICS") == "YES",
            doc_type=doc_type,
            topics=unique_topics,
            text=text,
            file=file,
            repeated_topics=len(topics) - len(unique_topics),
        )


def _sgml_sources(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(name, raw bytes)`` of every ``reut2-*.sgm`` in an archive or a folder, in name order."""
    if path.is_dir():
        files = sorted(path.glob("reut2-*.sgm")) or sorted(path.glob("*/reut2-*.sgm"))
        if not files:
            raise DataError(f"{path}: no reut2-*.sgm files in this folder; expected the Reuters-21578 SGML")
        for file in files:
            yield str(file), file.read_bytes()
        return
    try:
        with tarfile.open(path, "r:*") as tar:
            members = sorted(
                (m for m in tar.getmembers() if m.isfile() and re.search(r"reut2-\d+\.sgm$", m.name)),
                key=lambda m: m.name,
            )
            if not members:
                raise DataError(
                    f"{path}: the archive holds no reut2-*.sgm files; expected the Reuters-21578 distribution"
                )
            for member in members:
                handle = tar.extractfile(member)
                if handle is None:
                    raise DataError(f"{path}: archive member {member.name} cannot be read")
                yield f"{path}:{member.name}", handle.read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DataError(
            f"{path}: cannot read the archive ({exc}); expected a complete .tar.gz of Reuters-21578"
        ) from exc


def read_documents(path: str | os.PathLike[str]) -> list[ReutersDocument]:
    """Every ``<REUTERS>`` document of the distribution at ``path`` (archive or folder)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; expected the Reuters-21578 .tar.gz or its folder")
    docs: list[ReutersDocument] = []
    for name, raw in _sgml_sources(path):
        docs.extend(parse_sgml(raw.decode("latin-1"), file=name))
    return docs


def _modapte(docs: list[ReutersDocument]) -> tuple[list[ReutersDocument], list[ReutersDocument]]:
    train = [d for d in docs if d.has_topics and d.lewissplit == "TRAIN"]
    test = [d for d in docs if d.has_topics and d.lewissplit == "TEST"]
    return train, test


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mlbalance"


def _verify(path: Path) -> None:
    """Check a downloaded copy by its content: document count and ModApte sizes."""
    docs = read_documents(path)
    train, test = _modapte(docs)
    if len(docs) != EXPECTED_DOCUMENTS or (len(train), len(test)) != EXPECTED_MODAPTE:
        raise DataError(
            f"{path}: the download holds {len(docs)} documents, ModApte {len(train)}/{len(test)}; "
            f"expected {EXPECTED_DOCUMENTS} and {EXPECTED_MODAPTE[0]}/{EXPECTED_MODAPTE[1]}"
        )


def download(dest: Path, url: str = OFFICIAL_URL, timeout: float = 60.0) -> Path:
    """Download the distribution to ``dest``, verify it by its content, and move it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, length=1 << 20)
        _verify(tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        raise DataError(f"could not download Reuters-21578 from {url}: {exc}") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def resolve_path(data: str | os.PathLike[str] | None = None, allow_download: bool = True) -> Path:
    """Where the distribution is: ``data`` → ``$MLBALANCE_DATA`` → cache folder → download.

    ``$MLBALANCE_DATA`` and the cache folder (``$XDG_CACHE_HOME/mlbalance`` or ``~/.cache/mlbalance``)
    are searched for ``reuters21578.tar.gz`` or a ``reuters21578/`` folder. A download goes to the
    cache folder and is kept only if it holds the canonical 21,578 documents.
    """
    if data is not None:
        path = Path(data).expanduser()
        if not path.exists():
            raise DataError(
                f"{path}: no such file or folder; expected the Reuters-21578 .tar.gz or its folder"
            )
        return path
    candidates: list[Path] = []
    env = os.environ.get("MLBALANCE_DATA")
    if env:
        root = Path(env).expanduser()
        candidates += [root, root / ARCHIVE_NAME, root / "reuters21578"]
    cache = _cache_dir()
    candidates += [cache / ARCHIVE_NAME, cache / "reuters21578"]
    for candidate in candidates:
        if candidate.is_file() and candidate.name.endswith((".tar.gz", ".tgz", ".tar")):
            return candidate
        if candidate.is_dir() and any(candidate.glob("reut2-*.sgm")):
            return candidate
    if not allow_download:
        raise DataError(
            "Reuters-21578 not found: give its path (--data), or put reuters21578.tar.gz in "
            f"$MLBALANCE_DATA or {cache}"
        )
    log.info("downloading Reuters-21578 from %s to %s", OFFICIAL_URL, cache)
    return download(cache / ARCHIVE_NAME)


def load_reuters(
    data: str | os.PathLike[str] | None = None,
    *,
    validation_size: int = 1000,
    seed: int = 123,
    allow_download: bool = True,
) -> Corpus:
    """Reuters-21578 ModApte with the paper's 90 labels and validation split.

    Args:
        data: the ``.tar.gz`` or the unpacked folder; None searches ``$MLBALANCE_DATA``, the cache
            folder, then downloads (see :func:`resolve_path`).
        validation_size: documents split from train for validation (paper: 1,000).
        seed: the split's random state (paper: 123).
        allow_download: whether a missing copy may be downloaded.

    Returns:
        A :class:`Corpus` named ``"reuters21578"`` with preset ``"reuters"`` (head ≥ 35, tail ≤ 8).
    """
    path = resolve_path(data, allow_download=allow_download)
    docs = read_documents(path)
    train_all, test_all = _modapte(docs)
    train_topics = {t for d in train_all for t in d.topics}
    test_topics = {t for d in test_all for t in d.topics}
    names = sorted(train_topics & test_topics)
    keep = set(names)

    def to_split(items: list[ReutersDocument]) -> Split:
        kept = [(d, tuple(t for t in d.topics if t in keep)) for d in items]
        kept = [(d, labels) for d, labels in kept if labels]
        return Split(
            texts=[d.text for d, _ in kept],
            labels=[labels for _, labels in kept],
            ids=[d.newid for d, _ in kept],
        )

    train_full = to_split(train_all)
    test = to_split(test_all)
    if train_full.texts and not all(train_full.texts):
        empty = [i for i, t in zip(train_full.ids, train_full.texts) if not t]
        raise DataError(f"{path}: documents with empty text after parsing: NEWID {empty[:5]}")
    train_idx, val_idx = sklearn_style_split(len(train_full), validation_size, seed)
    train = train_full.subset(train_idx)
    validation = train_full.subset(val_idx)
    unseen = sorted(set(names) - {t for labels in train.labels for t in labels})
    if unseen:
        log.info(
            "Reuters-21578: %d labels have no training document after the split: %s", len(unseen), unseen
        )
    kept_ids = set(train_full.ids) | set(test.ids)
    splits = {"train": train, "validation": validation, "test": test}
    return Corpus.with_preset(
        "reuters",
        name="reuters21578",
        **splits,
        label_space=LabelSpace(names),
        metadata={
            "source": str(path),
            "documents": len(docs),
            "modapte_train": len(train_all),
            "modapte_test": len(test_all),
            "train_before_validation": len(train_full),
            "validation_size": validation_size,
            "seed": seed,
            "labels_without_train_docs": unseen,
            "unproc_train": sum(d.doc_type == "UNPROC" for d in train_all if d.newid in kept_ids),
            "unproc_test": sum(d.doc_type == "UNPROC" for d in test_all if d.newid in kept_ids),
            "documents_with_repeated_topics": sum(d.repeated_topics > 0 for d in train_all + test_all),
        },
    )


__all__ = [
    "OFFICIAL_URL",
    "ReutersDocument",
    "download",
    "load_reuters",
    "parse_sgml",
    "read_documents",
    "resolve_path",
]
