"""BioASQ Task A JSON: streaming reader, the paper's preprocessing and splits, malformed files."""

from __future__ import annotations

import json

import pytest

from mlbalance.data import bioasq, load_corpus
from mlbalance.data.bioasq import iter_articles, load_bioasq
from mlbalance.data.synthetic import write_bioasq_file
from mlbalance.errors import DataError


def article(i, year=2020, mesh=None, title=None, abstract="text"):
    return {
        "pmid": str(i),
        "title": f"Title {i}" if title is None else title,
        "abstractText": abstract,
        "meshMajor": mesh if mesh is not None else ["Common", f"Group{i % 3}"] + (["Rare"] if i == 0 else []),
        "year": year,
        "journal": "J",
    }


def write(path, articles, indent=None, **top):
    path.write_text(json.dumps({**top, "articles": articles}, indent=indent), encoding="utf-8")
    return path


@pytest.fixture
def small_chunks(monkeypatch):
    """Tiny read chunks, so every value crosses chunk boundaries somewhere."""
    monkeypatch.setattr(bioasq, "CHUNK_BYTES", 7)


@pytest.mark.parametrize("indent", [None, 2])
def test_iter_articles_streams_every_article(tmp_path, small_chunks, indent):
    items = [article(i, abstract="naïve — ünïcode " * 3) for i in range(25)]
    path = write(tmp_path / "a.json", items, indent=indent, meta={"skip": [1, {"x": "]}"}]}, n=12345)
    assert list(iter_articles(path)) == items


def test_top_level_list_and_empty_articles(tmp_path):
    path = tmp_path / "l.json"
    path.write_text(json.dumps([article(1), article(2)]))
    assert [a["pmid"] for a in iter_articles(path)] == ["1", "2"]
    empty = write(tmp_path / "e.json", [])
    assert list(iter_articles(empty)) == []


def test_progress_reports_bytes(tmp_path):
    path = write(tmp_path / "a.json", [article(i) for i in range(10)])
    seen = []
    list(iter_articles(path, progress=seen.append))
    assert sum(seen) == path.stat().st_size


def test_paper_preprocessing(tmp_path):
    items = [article(i, year=2020 + i % 2) for i in range(60)]
    items += [article(100 + i, year=2019) for i in range(20)]
    items += [article(200, year="2021")]
    items += [article(201, year=None), article(202, year="n/a")]
    items += [article(203, title="", abstract="")]
    path = write(tmp_path / "a.json", items)
    corpus = load_corpus("bioasq", data=path, held_out=10)
    assert corpus.preset == "pubmed" and (corpus.head_min, corpus.tail_max) == (50, 15)
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (51, 5, 5)
    assert corpus.metadata["skipped_bad_year"] == 2
    assert corpus.metadata["skipped_empty_text"] == 1
    assert corpus.metadata["kept"] == 61
    all_ids = set(corpus.train.ids) | set(corpus.validation.ids) | set(corpus.test.ids)
    assert not all_ids & {str(100 + i) for i in range(20)}  # 2019 is outside 2020-2021
    assert "200" in all_ids  # a year given as a string counts
    # "Rare" occurs once (< 5 in train): dropped from the label space and from the documents.
    assert "Rare" not in corpus.label_space.index
    assert corpus.label_space.names == ("Common", "Group0", "Group1", "Group2")
    texts = {}
    for split in (corpus.train, corpus.validation, corpus.test):
        texts.update(zip(split.ids, split.texts))
    assert texts["5"] == "Title 5 text"
    assert "203" not in texts  # empty title and abstract: skipped and counted


def test_splits_follow_train_test_split_twice(tmp_path):
    from sklearn.model_selection import train_test_split

    items = [article(i, year=2021) for i in range(40)]
    path = write(tmp_path / "a.json", items)
    corpus = load_bioasq(path, held_out=10, min_label_count=1)
    ids = [a["pmid"] for a in items]
    train, held = train_test_split(ids, test_size=10, random_state=123)
    val, test = train_test_split(held, test_size=0.5, random_state=123)
    assert corpus.train.ids == train and corpus.validation.ids == val and corpus.test.ids == test


def test_all_years_and_generated_file(tmp_path):
    path = tmp_path / "g.json"
    write_bioasq_file(path, 300, n_labels=50, years=(2019, 2021), words=20, block=128, seed=1)
    n_all = sum(1 for _ in iter_articles(path))
    assert n_all == 300
    corpus = load_bioasq(path, years=None, held_out=0.2)
    assert len(corpus.train) + len(corpus.validation) + len(corpus.test) == 300
    assert corpus.stats().label_cardinality > 5
    filtered = load_bioasq(path, held_out=20)
    assert len(filtered.train) + 40 < 300


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"the file is empty"),
        (
            b'{"articles": [{"pmid": "1", "title": "t"',
            r"malformed JSON at article 0 \(0 read before it\): truncated file",
        ),
        (
            b'{"articles": [{"pmid": "1", "meshMajor": ["a"]} {"pmid": 2}]}',
            r"malformed JSON at article 1 \(1 read before it\): parse error: after array element, I expect",
        ),
        (b'{"articles": [1, 2]}', r"article 0 is a JSON int .*expected an object"),
        (b'{"other": 1}', r'no "articles" list in the top-level object'),
        (b'"just a string"', r"expected '\{' or '\[' opening the BioASQ JSON"),
        (b'{"articles": [{"pmid": "caf\xe9"}]}', r"byte offset 27: bytes b'\\xe9' are not valid UTF-8"),
        (
            b'{"articles": [{"pmid": "1", "year": 2020, "meshMajor": "D1;D2"}]}',
            r"article pmid=1: meshMajor is 'D1;D2'; expected a list of strings",
        ),
        (
            b'{"articles": [{"pmid": "1", "year": 2020, "meshMajor": [1]}]}',
            r"article pmid=1: meshMajor is '\[1\]'; expected a list of strings",
        ),
    ],
)
def test_malformed_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_bioasq(path, held_out=2)


def test_malformed_article_does_not_read_the_whole_file(tmp_path, monkeypatch):
    monkeypatch.setattr(bioasq, "CHUNK_BYTES", 1000)
    path = tmp_path / "bad.json"
    good = json.dumps(article(1))
    path.write_text('{"articles": [' + good + ', {"pmid": "2", "title": tru ' + (", " + good) * 200 + "]}")
    read = []
    with pytest.raises(DataError, match=r"malformed JSON at article 1 .*invalid string"):
        list(iter_articles(path, progress=read.append))
    assert sum(read) < path.stat().st_size / 4  # stopped at the bad article, not at the end


def test_too_few_articles(tmp_path):
    path = write(tmp_path / "a.json", [article(1, year=1990)])
    with pytest.raises(DataError, match=r"0 article\(s\) kept"):
        load_bioasq(path)
    with pytest.raises(DataError, match="needs the path of a BioASQ"):
        load_corpus("bioasq")
    with pytest.raises(DataError, match="no such file"):
        load_bioasq(tmp_path / "missing.json")


def test_replace_undecodable_bytes(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b'{"articles": [{"pmid": "caf\xe9"}]}')
    assert [a["pmid"] for a in iter_articles(path, unicode_errors="replace")] == ["caf\ufffd"]
    with pytest.raises(DataError, match="`unicode_errors` must be"):
        list(iter_articles(path, unicode_errors="ignore"))
