"""A kept upload is hashed once (indexer.reread.sha256_file, KnownDigest): when uploaded; `rag index` trusts a kept
copy whose size and mtime are those recorded, and a damaged copy is found before it is parsed, so it never
replaces its document. Real parsers, the real MiniLM model, the local store, English and Chinese files."""
import os

import api.jobs.indexing
import indexer.ingest
import indexer.originals
from api.jobs.indexing import index_upload
from indexer.ingest import Ingestor
from indexer.originals import DAMAGED, Originals, upload_doc_id
from indexer.reread import sha256_file
from indexer.upload_reread import reread_uploads
from rag.guard.document_guard import DOCUMENT_SCREEN
from tests.api.test_kept_uploads import _sha
from tests.indexer.test_reparse import _files

NAMES = ("cards.md", "挂失.txt")


def _reread(manager, reparse: bool):
    store = manager.open("t", writable=True)
    try:
        done = reread_uploads(Ingestor(store, manager.encoder(), manager.settings, screen=DOCUMENT_SCREEN), Originals.of(manager.settings, "t"),
                              reparse=reparse)
        return done, {d.source: (d.content_hash, d.chunks) for d in store.documents()}
    finally:
        store.close()


def _count_hashes(monkeypatch) -> list:
    hashed = []

    def counted(path):
        hashed.append(path.name)
        return sha256_file(path)
    for module in (api.jobs.indexing, indexer.ingest, indexer.originals):
        monkeypatch.setattr(module, "sha256_file", counted)
    return hashed


def test_an_upload_is_hashed_once_and_an_unchanged_kept_copy_is_not_hashed_again(manager, tmp_path, monkeypatch):
    docs = _files(tmp_path)
    manager.settings.parse_isolation = False
    manager.open("t", writable=True, create=True).close()
    hashed = _count_hashes(monkeypatch)
    for name in NAMES:
        assert index_upload(manager, "t", name, docs / name, {}).status == "indexed"
    assert hashed == list(NAMES)  # once each: its kept copy's name and its document's content hash

    hashed.clear()
    done, _ = _reread(manager, reparse=False)  # `rag index`: nothing changed, nothing read
    assert sorted((r.source, r.status) for r in done.report.results) == [(n, "unchanged") for n in sorted(NAMES)]
    assert hashed == []

    kept = manager.home / "t" / "originals" / (_sha(docs / "cards.md") + ".md")
    os.utime(kept)  # touched (a backup restored it): hashed once, found sound, recorded again
    done, _ = _reread(manager, reparse=False)
    assert [r.status for r in done.report.results] == ["unchanged", "unchanged"] and hashed == [kept.name]
    hashed.clear()
    _reread(manager, reparse=False)
    assert hashed == []


def test_a_damaged_kept_copy_is_found_before_it_is_parsed_and_leaves_its_document_as_it_was(manager, tmp_path):
    docs = _files(tmp_path)
    manager.settings.parse_isolation = False
    manager.open("t", writable=True, create=True).close()
    for name in NAMES:
        assert index_upload(manager, "t", name, docs / name, {}).status == "indexed"
    _, before = _reread(manager, reparse=False)
    folder = manager.home / "t" / "originals"
    en, zh = folder / (_sha(docs / "cards.md") + ".md"), folder / (_sha(docs / "挂失.txt") + ".txt")

    en.write_bytes(en.read_bytes()[:-5])  # cut short: its size says so, and `rag index` hashes it
    st = zh.stat()  # the same size and mtime as recorded: trusted until it is to be parsed
    zh.write_bytes("挂失请拨打另一个号码，这不是原来的文件。".encode()[:st.st_size].ljust(st.st_size, b" "))
    os.utime(zh, ns=(st.st_atime_ns, st.st_mtime_ns))
    done, after = _reread(manager, reparse=False)
    assert sorted((r.source, r.status, r.reason) for r in done.report.results) == [
        ("cards.md", "failed", DAMAGED), ("挂失.txt", "unchanged", "")]
    assert after == before and not en.exists()  # the damaged copy went: the document is listed as not kept

    done, after = _reread(manager, reparse=True)  # to be parsed: hashed first, and refused
    assert [(r.source, r.status) for r in done.report.results] == [("挂失.txt", "failed")]
    assert "no longer match the SHA-256" in done.report.results[0].reason and "upload" in done.report.results[0].reason
    assert after == before and not zh.exists()
    assert sorted(d.source for d in done.not_kept) == ["cards.md"]

    # uploaded again: kept again and read again
    for name in NAMES:
        assert index_upload(manager, "t", name, docs / name, {}).status == "unchanged"
    done, after = _reread(manager, reparse=True)
    assert sorted((r.source, r.status) for r in done.report.results) == [("cards.md", "updated"), ("挂失.txt", "updated")]
    assert {upload_doc_id("t", n) for n in NAMES} == {r.doc_id for r in done.report.results}
