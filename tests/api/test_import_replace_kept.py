"""An import that replaces a KB (`?replace=true`, `rag kb import --replace`) leaves its kept uploads consistent
(indexer.archive.kept_settle): the archive's uploads are kept before the KB takes the name, where the KB it replaces
still keeps its own (cluster mode: under the same name in the state database; Milvus in embedded mode: in the KB's
folder). Afterwards the KB keeps exactly the uploads its documents name: none of the replaced KB's is left behind,
none of the archive's is lost to the room the replaced KB's took (originals_max_mb), or to a write to the replaced KB
while the import ran (its sweep names only its own documents).

Real PostgreSQL, the real job runner and importer, the local store, real parsers and MiniLM; English and Chinese
uploads."""
from __future__ import annotations

import threading

import pytest

from api.jobs.indexing import index_upload
from api.jobs.store import JobStore
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_import_kept_cleanup import OWN, _chunks, _db, _kept, _run_import, export_with_kept
from tests.api.test_kept_uploads import _sha
from tests.lost_cards import write_files


def _archive(manager, db, tmp_path):
    """KB 'src' of the two lost-card uploads (en, zh), kept in the database, exported with them."""
    docs = write_files(tmp_path / "docs")
    manager.open("src", writable=True, create=True).close()
    for name in ("cards.md", "挂失.txt"):
        assert index_upload(manager, "src", name, docs / name, {}, db).status == "indexed"
    archive = export_with_kept(manager, db, "src", tmp_path / "src.zip")
    return archive, {_sha(docs / "cards.md") + ".md", _sha(docs / "挂失.txt") + ".txt"}


def _bank(manager, db, tmp_path):
    """KB 'bank', keeping an upload of its own that the archive does not carry."""
    own = tmp_path / "own.txt"
    own.write_text(OWN, encoding="utf-8")
    manager.open("bank", writable=True, create=True).close()
    assert index_upload(manager, "bank", own.name, own, {}, db).status == "indexed"
    return own


def _named(manager, kb: str) -> set[str]:
    """The kept copies KB `kb`'s upload documents name."""
    from indexer.originals import is_upload, kept_name

    store = manager.open(kb)
    try:
        return {kept_name(d) for d in store.documents() if is_upload(d)}
    finally:
        store.close()


@pytest.mark.slow  # ~20 s: three uploads indexed, an export and an import job on PostgreSQL
def test_a_replacing_import_keeps_the_archives_uploads_and_none_of_the_replaced_kbs(manager, postgres, tmp_path):  # noqa: F811
    db = _db(postgres, tmp_path)
    try:
        manager.settings.parse_isolation = False
        archive, carried = _archive(manager, db, tmp_path)
        own = _bank(manager, db, tmp_path)
        # room for the archive's two uploads, not for them and the replaced KB's own upload besides
        manager.settings.originals_max_mb = sum(
            int(r["size"]) for r in db.query("SELECT size FROM kept_uploads WHERE kb = 'src'")) / 2**20
        job = _run_import(JobStore(db), manager, archive, "bank", replace=True)
        assert job.status == "done", job.error
        assert '"originals":2' in job.result.replace(" ", "") and "originals_not_kept" not in job.result.replace(
            '"originals_not_kept":0', ""), job.result
        assert _kept(db, "bank") == dict.fromkeys(carried, "")  # the replaced KB's own.txt copy went
        assert _chunks(db, "bank") == carried == _named(manager, "bank")
        assert _sha(own) + ".txt" not in _chunks(db, "bank")
    finally:
        db.close()


@pytest.mark.slow  # ~30 s: uploads indexed, an export and an import job on PostgreSQL, the KB written meanwhile
def test_uploads_written_to_the_replaced_kb_during_the_import_lose_none_of_the_archives(manager, postgres, tmp_path):  # noqa: F811
    """The replaced KB taking uploads until the import is in place (each write sweeps the copies its documents do not
    name, the import's among them): afterwards the KB keeps exactly what its documents name, the archive's too."""
    db = _db(postgres, tmp_path)
    try:
        manager.settings.parse_isolation = False
        archive, carried = _archive(manager, db, tmp_path)
        own = _bank(manager, db, tmp_path)
        stop, writes = threading.Event(), []

        def write_meanwhile():
            while not stop.is_set():  # own.txt uploaded again: unchanged, and the KB's copies swept after it
                try:
                    out = index_upload(manager, "bank", own.name, own, {}, db)
                except Exception as e:  # noqa: BLE001  (its folder removed under it: the job runner tries again)
                    writes.append(("raised", repr(e)))
                else:
                    writes.append((out.status, out.reason))
                stop.wait(0.05)  # an upload a moment: the import's own turns at the writer lock come between
        writer = threading.Thread(target=write_meanwhile)
        writer.start()
        try:
            job = _run_import(JobStore(db), manager, archive, "bank", replace=True)
        finally:
            stop.set()
            writer.join()
        assert job.status == "done", job.error
        # uploads in the moment the replaced KB's folder goes fail, or raise what the job runner tries again: the
        # uploads themselves are not what is checked here
        assert ("unchanged", "") in writes, writes
        named = _named(manager, "bank")  # the archive's two, and own.txt when uploaded after the import
        assert carried <= named and named <= carried | {_sha(own) + ".txt"}
        assert set(_kept(db, "bank")) == _chunks(db, "bank") == named
    finally:
        db.close()


@pytest.mark.slow  # ~25 s: uploads indexed, an export, and `rag kb import` loading the model
def test_rag_kb_import_replace_keeps_the_archives_uploads_and_none_of_the_replaced_kbs(manager, postgres, tmp_path):  # noqa: F811
    from tests.cli.test_cli import rag

    db = _db(postgres, tmp_path)
    try:
        manager.settings.parse_isolation = False
        archive, carried = _archive(manager, db, tmp_path)
        _bank(manager, db, tmp_path)
        room = sum(int(r["size"]) for r in db.query("SELECT size FROM kept_uploads WHERE kb = 'src'")) / 2**20
        p = rag(manager.home, "kb", "import", str(archive), "--as", "bank", "--replace", RAG_DATABASE_URL=postgres.url,
                RAG_ORIGINALS_MAX_MB=repr(room), RAG_EMBED_MODEL="minilm")
        assert "replaced 'bank'" in p.stdout and "restored 2 kept uploads" in p.stdout, p.stdout
        assert "not kept" not in p.stdout, p.stdout
        assert _kept(db, "bank") == dict.fromkeys(carried, "") and _chunks(db, "bank") == carried
        assert _named(manager, "bank") == carried
    finally:
        db.close()


@pytest.mark.slow  # ~30 s: Milvus Lite, uploads indexed, an export and an import job
def test_a_replacing_import_into_a_milvus_kb_leaves_none_of_its_uploads_in_the_kbs_folder(minilm, tmp_path):
    """Embedded mode (SQLite state, uploads kept in the KB's folder) with a Milvus KB: the import's files join the
    folder the replaced KB keeps its uploads in (indexer.archive.staging.MilvusStaging), which kept them all."""
    pytest.importorskip("milvus_lite")
    from milvus_lite.server_manager import server_manager_instance

    from api.state.factory import open_database
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager
    from indexer.originals import Originals

    uri = tmp_path / "kb.db"
    manager = KBManager(IndexerSettings(home=tmp_path / "home", embed_model="minilm", store_uri=str(uri),
                                        parse_isolation=False), encoders={"minilm": minilm})
    db = open_database(None, tmp_path)
    try:
        archive, carried = _archive(manager, None, tmp_path)
        _bank(manager, None, tmp_path)
        job = _run_import(JobStore(db), manager, archive, "bank", replace=True)
        assert job.status == "done", job.error
        assert '"originals":2' in job.result.replace(" ", ""), job.result
        folder = Originals.of(manager.settings, "bank").folder
        assert {p.name for p in folder.iterdir()} == carried == _named(manager, "bank")  # own.txt's copy went
    finally:
        db.close()
        server_manager_instance.release_server(str(uri))


@pytest.mark.slow  # ~20 s a store: uploads indexed, an export and an import job
@pytest.mark.parametrize("backend", ["local", "milvus"])
def test_a_replacing_import_waits_for_a_write_to_the_kb_it_replaces(minilm, tmp_path, capfd, backend):
    """Embedded mode: the import takes the replaced KB's name under its writer lock (the local folder's, the Milvus
    KB's), so a write begun on that KB (here a delete, its commit and the sweep of its kept copy) ends there instead
    of being fenced off half-done, and the imported KB keeps exactly the archive's uploads."""
    from api.state.factory import open_database
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager
    from indexer.originals import Originals, sweep_written, upload_doc_id

    if backend == "milvus":
        pytest.importorskip("milvus_lite")
    uri = str(tmp_path / "kb.db") if backend == "milvus" else ""
    manager = KBManager(IndexerSettings(home=tmp_path / "home", embed_model="minilm", store_uri=uri,
                                        parse_isolation=False), encoders={"minilm": minilm})
    db = open_database(None, tmp_path)
    try:
        archive, carried = _archive(manager, None, tmp_path)
        own = _bank(manager, None, tmp_path)
        held = manager.open("bank", writable=True)  # a delete under way
        jobs: list = []
        importing = threading.Thread(target=lambda: jobs.append(
            _run_import(JobStore(db), manager, archive, "bank", replace=True)))
        importing.start()
        try:
            waited = ""
            for _ in range(600):  # the import reaches the swap and waits for the writer lock
                waited += capfd.readouterr().err
                if "waiting for another writer of" in waited or not importing.is_alive():
                    break
                importing.join(0.1)
            assert "waiting for another writer of" in waited, waited
            assert held.delete_document(upload_doc_id("bank", own.name))
            held.commit()  # the KB it opened is still under its name
            assert sweep_written(Originals.of(manager.settings, "bank"), held) == 1  # own.txt's copy
        finally:
            held.close()
            importing.join(120)
        (job,) = jobs
        assert job.status == "done", job.error
        folder = Originals.of(manager.settings, "bank").folder
        assert {p.name for p in folder.iterdir()} == carried == _named(manager, "bank")
    finally:
        db.close()
        if uri:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(uri)
