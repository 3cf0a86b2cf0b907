"""`rag kb import` in cluster mode (RAG_DATABASE_URL) marks the uploads it keeps in the state database as its own
until the KB is in place, as an import job does (api.jobs.importing): an import that fails removes them, one that
succeeds leaves them to the KB. Before, a failed command-line import left its rows under a name no KB took. Real
PostgreSQL; English and Chinese uploads."""
from __future__ import annotations

import pytest

from cli.archive_originals import import_kept_for
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_import_kept_cleanup import _db, _kept


@pytest.mark.slow  # PostgreSQL and MiniLM for a check of the marks alone
@pytest.mark.parametrize("text", ["Call 400-800-1234 to report a lost card.\n", "挂失银行卡请拨打400-800-1234。\n"])
def test_a_failed_cli_import_removes_the_uploads_it_kept_and_a_finished_one_leaves_them_to_the_kb(
        manager, postgres, tmp_path, monkeypatch, text):  # noqa: F811
    db = _db(postgres, tmp_path)
    monkeypatch.setenv("RAG_DATABASE_URL", postgres.url)
    upload = tmp_path / "cards.md"
    upload.write_text(text, encoding="utf-8")
    with pytest.raises(RuntimeError), import_kept_for(manager) as kept_for:
        assert kept_for("bank").keep(upload, "cards.md").kept
        assert list(_kept(db, "bank").values())[0].startswith("cli-import-")  # marked as this run's
        raise RuntimeError("the import failed after restoring the uploads")
    assert _kept(db, "bank") == {}
    with import_kept_for(manager) as kept_for:
        assert kept_for("bank").keep(upload, "cards.md").kept
    assert list(_kept(db, "bank").values()) == [""]  # the KB's own now
    db.close()
