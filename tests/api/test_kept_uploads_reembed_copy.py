"""`rag kb reembed NAME --into COPY` keeps the KB's uploads for the copy too (indexer.kbs.KBManager._copy_kept,
indexer.originals.copy_kept), where this site keeps them: the copy's folder (hardlinked) or, in cluster mode, the
state database under the copy's name; within the copy's bounds. Before, the copy had none: every upload of it was
named NOT RE-READ by `rag index --reparse`. Real parsers, the real MiniLM model, the local store, a real
PostgreSQL and real `rag` subprocesses for the cluster form; English and Chinese uploads."""
import os

import pytest

from api.jobs.indexing import reread_upload
from indexer.originals import upload_doc_id
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_kept_uploads import _kept, _sha, _upload_all
from tests.indexer.test_reparse import _files

NAMES = ("cards.md", "挂失.txt")


def _kept_in(manager, kb: str) -> set[str]:
    folder = manager.home / kb / "originals"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_a_reembedded_copy_keeps_the_kbs_uploads_and_reads_them_again(manager, tmp_path):
    docs = _files(tmp_path)
    _upload_all(manager, docs)
    kept = {_sha(docs / "cards.md") + ".md", _sha(docs / "挂失.txt") + ".txt"}

    rep = manager.reembed("t", "minilm", progress=False, into="t2")
    assert (rep["kb"], rep["uploads_kept"], rep["uploads_not_kept"]) == ("t2", 2, [])
    assert _kept_in(manager, "t2") == kept and _kept(manager) == kept  # the KB keeps its own
    for name in kept:  # one file on disk for both KBs
        assert os.stat(manager.home / "t" / "originals" / name).st_ino == \
            os.stat(manager.home / "t2" / "originals" / name).st_ino

    manager.delete("t")  # the copy's stand on their own
    for name in NAMES:
        (docs / name).unlink()
        out = reread_upload(manager, "t2", upload_doc_id("t", name))
        assert (out.status, out.reason) == ("updated", ""), out
    assert _kept_in(manager, "t2") == kept


def test_a_copys_uploads_are_kept_within_its_bounds(manager, tmp_path):
    docs = _files(tmp_path)
    _upload_all(manager, docs)
    md = (docs / "cards.md").stat().st_size
    manager.settings.originals_max_mb = md / 2**20  # room for the English upload only
    rep = manager.reembed("t", "minilm", progress=False, into="t2")
    assert (rep["uploads_kept"], rep["uploads_not_kept"]) == (1, ["挂失.txt"]), rep
    assert _kept_in(manager, "t2") == {_sha(docs / "cards.md") + ".md"}

    manager.settings.keep_originals = False
    rep = manager.reembed("t", "minilm", progress=False, into="t3")
    assert (rep["uploads_kept"], sorted(rep["uploads_not_kept"])) == (0, sorted(NAMES)), rep
    assert _kept_in(manager, "t3") == set()


def test_a_copy_on_milvus_keeps_the_kbs_uploads_in_its_folder(manager, tmp_path):
    """With the Milvus store a copy is a KB of its own from the start (KBManager._reembed_copy): its uploads are
    kept in its folder on this machine, as its source's are."""
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager
    from tests.indexer.test_store_milvus import _release

    docs = _files(tmp_path)
    db = tmp_path / "milvus.db"
    milvus = KBManager(IndexerSettings(home=tmp_path / "mhome", store_uri=str(db), embed_model="minilm",
                                       parse_isolation=False), encoders=manager._encoders)
    try:
        _upload_all(milvus, docs)
        rep = milvus.reembed("t", "minilm", progress=False, into="t2")
        assert (rep["uploads_kept"], rep["uploads_not_kept"]) == (2, []), rep
        assert _kept_in(milvus, "t2") == _kept_in(milvus, "t") == {_sha(docs / "cards.md") + ".md",
                                                                  _sha(docs / "挂失.txt") + ".txt"}
        for name in NAMES:
            assert reread_upload(milvus, "t2", upload_doc_id("t", name)).status == "updated"
    finally:
        _release(db)


@pytest.mark.slow  # ~40 s: two rag commands, each loading the model
def test_in_cluster_mode_a_copys_uploads_are_kept_in_the_database_under_its_name(manager, postgres, tmp_path):  # noqa: F811
    from tests.api.test_kept_uploads_db import _pg
    from tests.cli.test_cli import rag

    db = _pg(postgres, tmp_path)
    try:
        docs = _files(tmp_path)
        _upload_all(manager, docs, db=db)
        env = {"RAG_DATABASE_URL": postgres.url}

        p = rag(manager.home, "kb", "reembed", "t", "--embed-model", "minilm", "--into", "t2", **env)
        assert "t2: 2 uploads kept" in p.stdout, (p.stdout, p.stderr)
        def rows(kb: str) -> set[str]:
            return {r["name"] for r in db.query("SELECT name FROM kept_uploads WHERE kb = ?", (kb,))}

        assert rows("t2") == rows("t") == {_sha(docs / "cards.md") + ".md", _sha(docs / "挂失.txt") + ".txt"}
        assert _kept_in(manager, "t2") == set()  # not in the folder: no replica would read them there

        p = rag(manager.home, "index", "--kb", "t2", "--reparse", "--no-calibrate", **env)
        assert "0 indexed, 2 updated" in p.stdout and "NOT RE-READ" not in p.stderr, (p.stdout, p.stderr)
    finally:
        db.close()
