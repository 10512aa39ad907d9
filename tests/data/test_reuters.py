"""Reuters-21578: the paper's counts on the canonical archive, and the reader's error handling."""

from __future__ import annotations

import gzip
import io
import tarfile

import numpy as np
import pytest

from mlbalance.data import load_corpus
from mlbalance.data.reuters import parse_sgml, read_documents, resolve_path
from mlbalance.errors import DataError


def test_paper_counts(reuters):
    assert (len(reuters.train), len(reuters.validation), len(reuters.test)) == (6770, 1000, 3019)
    assert len(reuters.label_space) == 90
    assert reuters.preset == "reuters"
    assert reuters.metadata["train_before_validation"] == 7770
    assert reuters.metadata["modapte_train"] == 9603
    assert reuters.metadata["modapte_test"] == 3299
    all_train = reuters.train.labels + reuters.validation.labels
    assert np.mean([len(x) for x in all_train]) == pytest.approx(1.2336, abs=5e-4)
    assert all(reuters.train.texts) and all(reuters.test.texts)
    assert all(len(set(x)) == len(x) for x in all_train + reuters.test.labels)


def test_groups_and_stats(reuters):
    stats = reuters.stats()
    assert stats.n_train == 6770
    assert stats.group_sizes() == {"head": 30, "medium": 29, "tail": 31}
    assert int(stats.class_freq.max()) == 2482  # earn
    assert stats.names[int(np.argmax(stats.class_freq))] == "earn"


def test_validation_split_matches_sklearn(reuters, reuters_archive):
    from sklearn.model_selection import train_test_split

    ids = sorted(set(reuters.train.ids) | set(reuters.validation.ids), key=int)
    rest, held = train_test_split(ids, test_size=1000, random_state=123)
    assert reuters.validation.ids == held
    assert reuters.train.ids == rest


def test_unproc_documents_use_raw_text(reuters):
    assert (reuters.metadata["unproc_train"], reuters.metadata["unproc_test"]) == (47, 14)
    assert reuters.metadata["documents_with_repeated_topics"] == 2
    # NEWID 99 (reut2-000.sgm) is TYPE="UNPROC": a Federal Reserve table with no title or body.
    ids = reuters.train.ids + reuters.validation.ids
    texts = reuters.train.texts + reuters.validation.texts
    text = texts[ids.index("99")]
    assert text.startswith("FEDERAL RESERVE WEEKLY REPORT 1 - FEB 26")
    assert "Net free reserves" in text


def test_entities_and_control_characters_removed(reuters):
    text = "\n".join(reuters.train.texts[:500])
    assert "&lt;" not in text and "&#" not in text
    assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in text)


SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="1" NEWID="1">
<TOPICS><D>grain</D><D>wheat</D><D>grain</D></TOPICS>
<TEXT>&#2;
<TITLE>WHEAT &amp; GRAIN</TITLE>
<BODY>Prices &lt;rose&gt; today.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS TOPICS="YES" LEWISSPLIT="TEST" CGISPLIT="TRAINING-SET" OLDID="2" NEWID="2">
<TOPICS><D>grain</D></TOPICS>
<TEXT TYPE="UNPROC">&#2;
RAW TABLE 1.....2
&#3;</TEXT>
</REUTERS>
"""


def test_parse_sgml_small():
    docs = list(parse_sgml(SGML, file="x.sgm"))
    assert [d.newid for d in docs] == ["1", "2"]
    assert docs[0].topics == ("grain", "wheat")
    assert docs[0].text == "WHEAT & GRAIN\nPrices <rose> today.\n Reuter"
    assert docs[1].text == "RAW TABLE 1.....2"
    assert docs[1].lewissplit == "TEST"


def test_unclosed_document_is_an_error():
    broken = SGML.replace("</REUTERS>\n<REUTERS", "\n<REUTERS", 1)
    with pytest.raises(DataError, match=r"x\.sgm: document NEWID=1: <REUTERS> element is not closed"):
        list(parse_sgml(broken, file="x.sgm"))


def test_truncated_file_is_an_error():
    with pytest.raises(DataError, match=r"x\.sgm: found 2 <REUTERS> start tags but 1 complete"):
        list(parse_sgml(SGML[: SGML.rindex("</REUTERS>")], file="x.sgm"))


def test_document_without_text_is_an_error():
    broken = SGML.replace('<TEXT TYPE="UNPROC">&#2;\nRAW TABLE 1.....2\n&#3;</TEXT>', "")
    with pytest.raises(DataError, match=r"NEWID=2: no <TEXT>"):
        list(parse_sgml(broken, file="x.sgm"))


def test_truncated_archive(tmp_path, reuters_archive):
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(reuters_archive.read_bytes()[:200_000])
    with pytest.raises(DataError, match=r"cut\.tar\.gz: cannot read the archive"):
        read_documents(cut)


def test_not_gzip(tmp_path):
    bad = tmp_path / "reuters21578.tar.gz"
    bad.write_text("this is not an archive")
    with pytest.raises(DataError, match=r"reuters21578\.tar\.gz: cannot read the archive"):
        load_corpus("reuters21578", data=bad)


def test_archive_without_sgml(tmp_path):
    path = tmp_path / "empty.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("README.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    with pytest.raises(DataError, match="holds no reut2-"):
        read_documents(path)


def test_folder_source(tmp_path):
    (tmp_path / "reut2-000.sgm").write_bytes(SGML.encode("latin-1"))
    docs = read_documents(tmp_path)
    assert len(docs) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no reut2-"):
        read_documents(tmp_path / "empty")
    with pytest.raises(DataError, match="no such file"):
        read_documents(tmp_path / "nothing")


def test_resolution_order(tmp_path, monkeypatch):
    archive = tmp_path / "env" / "reuters21578.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(gzip.compress(b""))
    monkeypatch.setenv("MLBALANCE_DATA", str(archive.parent))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_path(None) == archive
    explicit = tmp_path / "mine.tar.gz"
    explicit.write_bytes(b"x")
    assert resolve_path(explicit) == explicit
    monkeypatch.delenv("MLBALANCE_DATA")
    cached = tmp_path / "cache" / "mlbalance" / "reuters21578.tar.gz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert resolve_path(None) == cached
    cached.unlink()
    with pytest.raises(DataError, match="Reuters-21578 not found"):
        resolve_path(None, allow_download=False)
    with pytest.raises(DataError, match="no such file"):
        resolve_path(tmp_path / "missing.tar.gz")


def test_download_is_verified_by_content(tmp_path, monkeypatch, reuters_archive):
    from mlbalance.data import reuters as mod

    monkeypatch.delenv("MLBALANCE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mod, "OFFICIAL_URL", reuters_archive.as_uri())
    monkeypatch.setattr(mod.download, "__defaults__", (reuters_archive.as_uri(), 60.0))
    path = resolve_path(None)
    assert path == tmp_path / "cache" / "mlbalance" / "reuters21578.tar.gz"
    assert path.read_bytes() == reuters_archive.read_bytes()

    # A download with the wrong content is refused and leaves nothing behind.
    small = tmp_path / "small.tar.gz"
    with tarfile.open(small, "w:gz") as tar:
        data = SGML.encode("latin-1")
        info = tarfile.TarInfo("reut2-000.sgm")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    dest = tmp_path / "other" / "reuters21578.tar.gz"
    with pytest.raises(DataError, match="holds 2 documents"):
        mod.download(dest, url=small.as_uri())
    assert not dest.exists() and not list(dest.parent.iterdir())


def test_other_seed_keeps_labels_without_training_documents(reuters_archive):
    corpus = load_corpus("reuters21578", data=reuters_archive, seed=0)
    assert (len(corpus.train), len(corpus.validation)) == (6770, 1000)
    assert len(corpus.label_space) == 90
    empty = ["castor-oil", "copra-cake", "palmkernel"]
    assert corpus.metadata["labels_without_train_docs"] == empty
    stats = corpus.stats()
    assert [int(stats.class_freq[corpus.label_space.index[n]]) for n in empty] == [0, 0, 0]
    assert stats.group_masks()["tail"][[corpus.label_space.index[n] for n in empty]].all()
