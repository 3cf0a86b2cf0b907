"""indexer.doc_filters, the one check of doc ids and sources that `rag search --source` and the HTTP routes' filters
share (a real local store, English and Chinese file names): the same file named another way is its document, and
what names no document comes back with the sources it may have meant."""
from __future__ import annotations

import pytest

from indexer.doc_filters import UnknownSource, check_filters
from indexer.ingest import Ingestor
from indexer.types import Filters


@pytest.fixture
def store(manager, tmp_path, monkeypatch, minilm):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fees.md").write_text("# Fees\n\nA replacement card costs 5 dollars.\n")
    (docs / "收费标准.md").write_text("# 收费标准\n\n补办银行卡每张收费5元。\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    s = manager.open("bank", writable=True, create=True)
    Ingestor(s, minilm, manager.settings).index_paths(["docs"], progress=False)  # sources docs/fees.md, ...
    yield s
    s.close()


def test_the_same_file_named_another_way_is_its_document(store, tmp_path):
    given = ["docs/fees.md", "./docs/收费标准.md", str(tmp_path / "docs" / "fees.md"), "docs//收费标准.md"]
    checked = check_filters(store, Filters.make(sources=given))
    assert checked.ok and checked.filters.sources == ("docs/fees.md", "docs/收费标准.md", "docs/fees.md",
                                                      "docs/收费标准.md")
    # relative to where the command runs: the CLI's, never a client's over HTTP
    checked = check_filters(store, Filters.make(sources=["fees.md"]), cwd=tmp_path / "docs")
    assert checked.ok and checked.filters.sources == ("docs/fees.md",)
    assert not check_filters(store, Filters.make(sources=["fees.md"])).ok


def test_what_names_no_document_comes_back_with_the_sources_meant(store):
    checked = check_filters(store, Filters.make(["d0000000000000"], ["fees.md", "收费.md", "年报.pdf", "a\x00b",
                                                                     "docs/fees.md"], {"dept": "cards"}))
    assert checked.unknown_doc_ids == ("d0000000000000",)
    assert checked.unknown_sources == (UnknownSource("fees.md", ("docs/fees.md",)),
                                       UnknownSource("收费.md", ("docs/收费标准.md",)),
                                       UnknownSource("年报.pdf", ()), UnknownSource("a\x00b", ()))
    assert checked.unknown_sources[1].hint == " (did you mean 'docs/收费标准.md'?)"
    assert checked.unknown_sources[2].hint == ""
    assert checked.filters.tags == (("dept", "cards"),)
