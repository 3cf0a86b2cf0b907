"""Uploaded files kept in their KB's folder (indexer.originals) and read again from there (indexer.upload_reread,
api.jobs.indexing): the service's indexing of an upload in this process, real parsers, the real MiniLM model, the
local store. A KB written by an older parser is stood in for by its records, as in tests/indexer/test_reparse.py."""
import hashlib

from api.jobs.indexing import index_upload, reread_upload
from indexer.ingest import Ingestor
from indexer.originals import Originals, upload_doc_id
from indexer.upload_reread import reread_uploads
from tests.indexer.test_reparse import MD, TXT, _files, _record_as, _stamps


def _kept(manager) -> set[str]:
    folder = manager.home / "t" / "originals"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _upload_all(manager, docs, tags=None, db=None):
    """KB "t" with the two uploads (en, zh) indexed; db: the state database in cluster mode, which keeps them."""
    manager.settings.parse_isolation = False  # parsed in this process: what is kept is what is tested
    manager.open("t", writable=True, create=True).close()
    for name in ("cards.md", "挂失.txt"):
        out = index_upload(manager, "t", name, docs / name, tags or {}, db)
        assert out.status == "indexed" and out.reason == "", out


def test_an_upload_is_kept_by_its_sha256_and_read_again_from_it_when_its_parser_rose(manager, tmp_path):
    docs = _files(tmp_path)
    _upload_all(manager, docs, {"dept": "cards"})
    assert _kept(manager) == {_sha(docs / "cards.md") + ".md", _sha(docs / "挂失.txt") + ".txt"}
    for name in ("cards.md", "挂失.txt"):  # the uploaded files are gone: only the kept ones can be read
        (docs / name).unlink()

    _record_as(manager, f"+parser:{MD}", f"+parser:markdown.{MD.version - 1}")
    _record_as(manager, f"+parser:{TXT}", f"+parser:text.{TXT.version - 1}")
    store = manager.open("t", writable=True)
    try:
        done = reread_uploads(Ingestor(store, manager.encoder(), manager.settings), Originals.of(manager.settings, "t"),
                              reparse=False)
        assert sorted((r.source, r.status, r.reread) for r in done.report.results) == [
            ("cards.md", "updated", "parser updated"), ("挂失.txt", "updated", "parser updated")]
        assert done.not_kept == []
        assert {d.source: d.tags for d in store.documents()} == {"cards.md": {"dept": "cards"},
                                                                  "挂失.txt": {"dept": "cards"}}
    finally:
        store.close()
    assert _stamps(manager) == {"cards.md": str(MD), "挂失.txt": str(TXT)}

    # a reparse job's document: read again whatever its version
    out = reread_upload(manager, "t", upload_doc_id("t", "挂失.txt"))
    assert (out.status, out.doc_id) == ("updated", upload_doc_id("t", "挂失.txt")), out


def test_a_replaced_or_failed_upload_leaves_no_kept_file_behind(manager, tmp_path):
    docs = _files(tmp_path)
    _upload_all(manager, docs)
    old = _sha(docs / "cards.md") + ".md"
    (docs / "cards.md").write_text("# Lost cards\n\nCall 400-800-9999 now.\n", encoding="utf-8")
    assert index_upload(manager, "t", "cards.md", docs / "cards.md", {}).status == "updated"
    assert old not in _kept(manager) and _sha(docs / "cards.md") + ".md" in _kept(manager)

    (docs / "空.txt").write_text("   \n", encoding="utf-8")  # no text: fails, and its bytes are not kept
    assert index_upload(manager, "t", "空.txt", docs / "空.txt", {}).status == "failed"
    assert len(_kept(manager)) == 2

    (manager.home / "t" / "originals" / ".left.1234.tmp.md").write_bytes(b"killed writer")  # swept at the next write
    assert index_upload(manager, "t", "挂失.txt", docs / "挂失.txt", {}).status == "unchanged"
    assert len(_kept(manager)) == 2


def test_past_the_cap_or_with_keeping_off_an_upload_is_indexed_and_listed_as_not_kept(manager, tmp_path):
    docs = _files(tmp_path)
    manager.settings.originals_max_mb = (docs / "cards.md").stat().st_size / 2**20  # room for cards.md alone
    manager.settings.parse_isolation = False
    manager.open("t", writable=True, create=True).close()
    assert index_upload(manager, "t", "cards.md", docs / "cards.md", {}).reason == ""
    out = index_upload(manager, "t", "挂失.txt", docs / "挂失.txt", {})
    assert out.status == "indexed" and "originals_max_mb" in out.reason and "RAG_ORIGINALS_MAX_MB" in out.reason, out
    assert _kept(manager) == {_sha(docs / "cards.md") + ".md"}

    store = manager.open("t", writable=True)
    try:
        done = reread_uploads(Ingestor(store, manager.encoder(), manager.settings),
                              Originals.of(manager.settings, "t"), reparse=True)
        assert [r.source for r in done.report.results] == ["cards.md"]
        assert [d.source for d in done.not_kept] == ["挂失.txt"] and "upload it again" in done.advice
        manager.settings.keep_originals = False
        done = reread_uploads(Ingestor(store, manager.encoder(), manager.settings),
                              Originals.of(manager.settings, "t"), reparse=True)
        assert done.report.results == [] and sorted(d.source for d in done.not_kept) == ["cards.md", "挂失.txt"]
        assert "keeping uploads is off" in done.advice
    finally:
        store.close()
    assert index_upload(manager, "t", "挂失.txt", docs / "挂失.txt", {}).reason == ""  # off: no note, none kept
    assert _kept(manager) == set()


def test_a_reembedded_kb_keeps_its_uploads_and_a_deleted_milvus_kb_loses_them(manager, tmp_path):
    """`rag kb reembed` swaps the KB's folder for a rebuilt one: the kept uploads move into it. A KB in Milvus has
    no folder of its own to delete: its kept uploads are removed with it."""
    docs = _files(tmp_path)
    _upload_all(manager, docs)
    manager.reembed("t", "minilm", progress=False)
    assert _kept(manager) == {_sha(docs / "cards.md") + ".md", _sha(docs / "挂失.txt") + ".txt"}
    assert reread_upload(manager, "t", upload_doc_id("t", "cards.md")).status == "updated"
    manager.delete("t")
    assert not (manager.home / "t").exists()

    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager
    from tests.indexer.test_store_milvus import _release

    db = tmp_path / "milvus.db"
    milvus = KBManager(IndexerSettings(home=tmp_path / "mhome", store_uri=str(db), embed_model="minilm",
                                       parse_isolation=False), encoders=manager._encoders)
    try:
        milvus.open("t", writable=True, create=True).close()
        assert index_upload(milvus, "t", "挂失.txt", docs / "挂失.txt", {}).status == "indexed"
        assert [p.name for p in (tmp_path / "mhome" / "t" / "originals").iterdir()] == [_sha(docs / "挂失.txt") + ".txt"]
        milvus.delete("t")
        assert not (tmp_path / "mhome" / "t").exists()
    finally:
        _release(db)


def test_a_reembed_killed_before_its_uploads_moved_carries_them_over_when_run_again(manager, tmp_path, monkeypatch):
    """`rag kb reembed` killed after putting the rebuilt KB in place but before moving the kept uploads into it left
    them in home/.t.replaced; the re-run deleted that folder at its own swap, so the uploads (an English and a
    Chinese file) could never be read again."""
    from pathlib import Path

    docs = _files(tmp_path)
    _upload_all(manager, docs)
    real_rename = Path.rename

    def die_after_the_copy_is_in_place(self, target):
        out = real_rename(self, target)
        if self.name == ".t.reembed":
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(Path, "rename", die_after_the_copy_is_in_place)
    try:
        manager.reembed("t", "minilm", progress=False)
        raise AssertionError("the reembed was not interrupted")
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(Path, "rename", real_rename)
    assert _kept(manager) == set() and (manager.home / ".t.replaced" / "originals").is_dir()

    manager.reembed("t", "minilm", progress=False)
    assert _kept(manager) == {_sha(docs / "cards.md") + ".md", _sha(docs / "挂失.txt") + ".txt"}
    assert not (manager.home / ".t.replaced").exists()
    for name in ("cards.md", "挂失.txt"):
        assert reread_upload(manager, "t", upload_doc_id("t", name)).status == "updated"
