"""Uploads kept in the state database in cluster mode (api.state.kept_uploads, chosen by api.jobs.originals):
indexed through one home and read again through another over one real PostgreSQL, within the cap, none with
keeping off, gone with their document and their KB. Real parsers, the real MiniLM model, the local store (copied
from the first home to the second: what a shared store such as Milvus gives every worker)."""
import shutil

import pytest

from api.jobs.adopt_originals import adopt_local_originals
from api.jobs.indexing import index_upload, reread_upload
from api.jobs.originals import kept_originals
from api.jobs.reparse import plan
from api.state.factory import open_database
from api.state.forget import forget_kb
from api.state.kept_uploads import DatabaseOriginals
from indexer.config import IndexerSettings
from indexer.ingest import Ingestor
from indexer.kbs import KBManager
from indexer.originals import Originals, upload_doc_id
from indexer.upload_reread import reread_uploads
from rag.guard.document_guard import DOCUMENT_SCREEN
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_kept_uploads import _sha, _upload_all
from tests.indexer.test_reparse import MD, TXT, _files, _record_as, _stamps

NAMES = ("cards.md", "挂失.txt")


def _pg(postgres, tmp_path):  # noqa: F811
    db = open_database(postgres.url, tmp_path)
    with db.tx() as t:
        t.execute("DELETE FROM kept_uploads")
    return db


def _kept(db) -> dict[str, int]:
    return {r["name"]: int(r["size"]) for r in db.query("SELECT name, size FROM kept_uploads WHERE kb = 't'")}


def _plan(manager, db):
    """What a reparse of KB "t" would read again, its uploads found where db keeps them."""
    store = manager.open("t")
    try:
        return plan("t", store.documents(), kept_originals(manager.settings, "t", db))
    finally:
        store.close()


def test_an_upload_kept_through_one_home_is_read_again_through_another(manager, minilm, postgres, tmp_path):  # noqa: F811
    db = _pg(postgres, tmp_path)
    try:
        assert isinstance(kept_originals(manager.settings, "t", db), DatabaseOriginals)
        assert isinstance(kept_originals(manager.settings, "t", None), Originals)  # embedded mode: the KB's folder
        docs = _files(tmp_path)
        _upload_all(manager, docs, {"dept": "cards"}, db)
        assert _kept(db) == {_sha(docs / "cards.md") + ".md": (docs / "cards.md").stat().st_size,
                             _sha(docs / "挂失.txt") + ".txt": (docs / "挂失.txt").stat().st_size}
        assert not (manager.home / "t" / "originals").exists()  # nothing on this worker's disk

        other = KBManager(IndexerSettings(home=tmp_path / "other", embed_model="minilm", parse_isolation=False),
                          encoders={"minilm": minilm})
        shutil.copytree(manager.home / "t", other.home / "t")  # the shared store, as Milvus is to every worker
        store = other.open("t")
        try:
            todo = plan("t", store.documents(), kept_originals(other.settings, "t", db))
        finally:
            store.close()
        assert sorted(d.source for d in todo.todo) == sorted(NAMES) and todo.left == []

        _record_as(other, f"+parser:{MD}", f"+parser:markdown.{MD.version - 1}")  # read by an older parser
        _record_as(other, f"+parser:{TXT}", f"+parser:text.{TXT.version - 1}")
        store = other.open("t", writable=True)
        try:
            done = reread_uploads(Ingestor(store, other.encoder(), other.settings),
                                  kept_originals(other.settings, "t", db), reparse=False)
            assert sorted((r.source, r.status, r.reread) for r in done.report.results) == [
                ("cards.md", "updated", "parser updated"), ("挂失.txt", "updated", "parser updated")]
            assert {d.source: d.tags for d in store.documents()} == {n: {"dept": "cards"} for n in NAMES}
        finally:
            store.close()
        assert _stamps(other) == {"cards.md": str(MD), "挂失.txt": str(TXT)}
        for name in NAMES:  # a reparse job's document, on the other worker
            out = reread_upload(other, "t", upload_doc_id("t", name), db)
            assert (out.status, out.doc_id) == ("updated", upload_doc_id("t", name)), out
        assert not list((other.home / ".uploads").iterdir())  # the copies read out of the database are gone
    finally:
        db.close()


def test_the_database_keeps_uploads_within_the_cap_none_when_off_and_drops_them_with_documents_and_kb(
        manager, postgres, tmp_path):  # noqa: F811
    db = _pg(postgres, tmp_path)
    try:
        docs = _files(tmp_path)
        manager.settings.originals_max_mb = (docs / "cards.md").stat().st_size / 2**20  # room for cards.md alone
        manager.settings.parse_isolation = False
        manager.open("t", writable=True, create=True).close()
        assert index_upload(manager, "t", "cards.md", docs / "cards.md", {}, db).reason == ""
        out = index_upload(manager, "t", "挂失.txt", docs / "挂失.txt", {}, db)
        assert out.status == "indexed" and "RAG_ORIGINALS_MAX_MB" in out.reason, out
        assert list(_kept(db)) == [_sha(docs / "cards.md") + ".md"]
        todo = _plan(manager, db)
        assert [d.source for d in todo.todo] == ["cards.md"] and [d.source for d in todo.left] == ["挂失.txt"]
        assert "upload it again" in todo.left[0].reason

        # replaced by other bytes: the old copy goes, the new one is kept
        manager.settings.originals_max_mb = 1
        (docs / "cards.md").write_text("# Lost cards\n\nCall 400-800-9999.\n", encoding="utf-8")
        assert index_upload(manager, "t", "cards.md", docs / "cards.md", {}, db).status == "updated"
        assert list(_kept(db)) == [_sha(docs / "cards.md") + ".md"]
        assert db.one("SELECT count(*) AS n FROM kept_upload_chunks WHERE kb = 't'")["n"] == 1

        manager.settings.keep_originals = False  # off: none kept, and those kept go at the KB's next write
        assert index_upload(manager, "t", "挂失.txt", docs / "挂失.txt", {}, db).reason == ""
        assert _kept(db) == {}
        manager.settings.keep_originals = True
        assert index_upload(manager, "t", "挂失.txt", docs / "挂失.txt", {}, db).status == "unchanged"
        assert list(_kept(db)) == [_sha(docs / "挂失.txt") + ".txt"]

        store = manager.open("t", writable=True)  # a deleted document's copy goes (the route's sweep)
        try:
            store.delete_document(upload_doc_id("t", "挂失.txt"))
            store.commit()
            kept_originals(manager.settings, "t", db).sweep(store.documents())
        finally:
            store.close()
        assert _kept(db) == {}

        assert index_upload(manager, "t", "挂失.txt", docs / "挂失.txt", {}, db).status == "indexed"
        assert forget_kb(db, "t")["kept_uploads"] == 1  # the KB deleted: its copies and their bytes go
        assert _kept(db) == {} and db.one("SELECT count(*) AS n FROM kept_upload_chunks")["n"] == 0
    finally:
        db.close()


@pytest.mark.parametrize("backend", ["folder", "postgresql"])
def test_a_new_version_of_an_upload_is_kept_in_the_room_its_old_copy_leaves(manager, postgres, tmp_path, backend):  # noqa: F811
    """A KB at its cap: uploading a file again with other bytes (en, zh) frees its old copy, so the new one is kept
    (the old copy was counted, and the new version was not kept though the old one went)."""
    db = _pg(postgres, tmp_path) if backend == "postgresql" else None
    try:
        docs = _files(tmp_path)
        manager.settings.parse_isolation = False
        manager.settings.originals_max_mb = sum((docs / n).stat().st_size for n in NAMES) / 2**20  # full with both
        manager.open("t", writable=True, create=True).close()
        for name in NAMES:
            assert index_upload(manager, "t", name, docs / name, {}, db).reason == ""
        for name, text in (("cards.md", "# Lost cards\n\nCall 400-800-9999 at any hour to report a lost card.\n"),
                           ("挂失.txt", "挂失银行卡请拨打客服电话 400-800-9999，全天二十四小时服务。\n")):
            (docs / name).write_text(text, encoding="utf-8")
            out = index_upload(manager, "t", name, docs / name, {}, db)
            assert (out.status, out.reason) == ("updated", ""), out
        want = {_sha(docs / "cards.md") + ".md", _sha(docs / "挂失.txt") + ".txt"}
        if db is None:
            assert {p.name for p in (manager.home / "t" / "originals").iterdir()} == want
        else:
            assert set(_kept(db)) == want

        (docs / "cards.md").write_text("# Lost cards\n\nA much longer text than the KB has room for. " * 3)
        out = index_upload(manager, "t", "cards.md", docs / "cards.md", {}, db)  # past the cap even so: not kept
        assert out.status == "updated" and "RAG_ORIGINALS_MAX_MB" in out.reason, out
    finally:
        if db is not None:
            db.close()


def test_rag_index_fetches_from_the_database_only_the_uploads_it_reads_again(manager, postgres, tmp_path):  # noqa: F811
    """`rag index` in cluster mode asks which uploads an upgrade reaches before fetching any bytes: an upload read
    by today's parser is not fetched (every run of `rag index PATHS` fetched every kept upload of the KB)."""
    db = _pg(postgres, tmp_path)
    try:
        docs = _files(tmp_path)
        _upload_all(manager, docs, {"dept": "cards"}, db)
        _record_as(manager, f"+parser:{MD}", f"+parser:markdown.{MD.version - 1}")  # cards.md: an older parser
        store = manager.open("t", writable=True)
        try:
            ingestor = Ingestor(store, manager.encoder(), manager.settings, screen=DOCUMENT_SCREEN)
            done = reread_uploads(ingestor, kept_originals(manager.settings, "t", db), reparse=False)
            assert [(r.source, r.status, r.reread) for r in done.report.results] == [
                ("cards.md", "updated", "parser updated")]  # 挂失.txt: not fetched, not read
            assert reread_uploads(ingestor, kept_originals(manager.settings, "t", db), reparse=False).report.results == []
            done = reread_uploads(ingestor, kept_originals(manager.settings, "t", db), reparse=True)
            assert sorted((r.source, r.status) for r in done.report.results) == [("cards.md", "updated"),
                                                                                ("挂失.txt", "updated")]
        finally:
            store.close()
    finally:
        db.close()


def test_uploads_an_earlier_release_kept_on_a_workers_disk_move_into_the_database_at_start(
        manager, postgres, tmp_path):  # noqa: F811
    """Kept before this release by the worker that indexed them, under its own home: moved into PostgreSQL when
    the worker (or a replica) starts, so that every other one finds them; a damaged copy or one no upload names is
    not moved, and the folder goes (a KB's deletes never reach a worker's disk)."""
    docs = _files(tmp_path)
    manager.settings.parse_isolation = False
    manager.open("t", writable=True, create=True).close()
    for name in NAMES:  # as the earlier release kept them: in the KB's folder on this disk
        assert index_upload(manager, "t", name, docs / name, {}).reason == ""
    folder = manager.home / "t" / "originals"
    (folder / ("0" * 64 + ".txt")).write_text("no document names this copy", encoding="utf-8")
    sqlite = open_database(None, tmp_path)
    try:
        assert adopt_local_originals(manager, sqlite) == 0 and len(list(folder.iterdir())) == 3  # embedded: as it was
    finally:
        sqlite.close()
    cards = folder / (_sha(docs / "cards.md") + ".md")
    cards.write_bytes(cards.read_bytes().replace(b"1234", b"9999"))  # damaged on that disk

    db = _pg(postgres, tmp_path)
    try:
        assert adopt_local_originals(manager, db) == 1
        assert list(_kept(db)) == [_sha(docs / "挂失.txt") + ".txt"] and not folder.exists()
        todo = _plan(manager, db)
        assert [d.source for d in todo.todo] == ["挂失.txt"] and [d.source for d in todo.left] == ["cards.md"]
        assert reread_upload(manager, "t", upload_doc_id("t", "挂失.txt"), db).status == "updated"
        assert adopt_local_originals(manager, db) == 0  # the next start: nothing left to move
    finally:
        db.close()
