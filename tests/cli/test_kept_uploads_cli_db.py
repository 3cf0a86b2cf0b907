"""`rag docs`, `rag index --reparse` and `rag delete` in cluster mode (RAG_DATABASE_URL set) find a KB's uploads
where the service keeps them there, in PostgreSQL (api.state.kept_uploads), not in the KB's folder: real `rag`
subprocesses, a real PostgreSQL, the real MiniLM model, English and Chinese uploads."""
import json

import pytest

from indexer.originals import upload_doc_id
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_kept_uploads import _upload_all
from tests.api.test_kept_uploads_db import _pg
from tests.cli.test_cli import rag
from tests.indexer.test_reparse import _files

NAMES = ("cards.md", "挂失.txt")


@pytest.mark.slow  # ~60 s: three rag commands, each loading the model
def test_the_cli_reads_and_removes_uploads_kept_in_the_database(manager, postgres, tmp_path):  # noqa: F811
    db = _pg(postgres, tmp_path)
    try:
        docs = _files(tmp_path)
        _upload_all(manager, docs, db=db)
        env = {"RAG_DATABASE_URL": postgres.url}

        listed = json.loads(rag(manager.home, "docs", "--kb", "t", "--json", **env).stdout)
        assert {d["source"]: d["original_kept"] for d in listed} == {n: True for n in NAMES}

        p = rag(manager.home, "index", "--kb", "t", "--reparse", "--no-calibrate", **env)
        assert "0 indexed, 2 updated" in p.stdout and "NOT RE-READ" not in p.stderr, (p.stdout, p.stderr)

        rag(manager.home, "delete", upload_doc_id("t", "挂失.txt"), "--kb", "t", "--no-calibrate", **env)
        names = [r["name"] for r in db.query("SELECT name FROM kept_uploads WHERE kb = 't'")]
        assert [n.rsplit(".", 1)[1] for n in names] == ["md"]
    finally:
        db.close()
