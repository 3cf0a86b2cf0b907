"""An upload kept by an import that ended without removing it (`rag kb import` interrupted with Ctrl-C, whose mark
names no job; a removal that failed) and kept again by a later import is that import's (api.state.kept_uploads):
removed if it fails too. It became nobody's (unmarked, as a KB's own copy is), so after the later import failed it
stayed under a name no KB had, counted in that name's originals_max_mb, read by none, removed by nothing. A KB's
own copy kept again by an import stays the KB's, whatever the import's end.

Real PostgreSQL; English and Chinese uploads."""
from __future__ import annotations

from api.state.kept_uploads import DatabaseOriginals, abandoned, taken
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_import_kept_cleanup import _chunks, _db, _kept
from tests.api.test_kept_uploads import _sha
from tests.lost_cards import write_files


def test_an_upload_an_unfinished_import_left_is_removed_by_the_next_import_that_fails(postgres, tmp_path):  # noqa: F811
    db = _db(postgres, tmp_path)
    try:
        docs = write_files(tmp_path / "docs")
        cards, lost = docs / "cards.md", docs / "挂失.txt"
        # `rag kb import` into "gone", interrupted: its mark names no job, so no failed job's clean-up finds it
        interrupted = DatabaseOriginals(db, "gone", scratch=tmp_path, job="cli-import-interrupted")
        assert interrupted.keep(cards, cards.name).kept and interrupted.keep(lost, lost.name).kept
        # the job importing the same archive into "gone" keeps the same bytes, then fails
        importing = DatabaseOriginals(db, "gone", scratch=tmp_path, job="job_later")
        assert importing.keep(cards, cards.name).kept and importing.keep(lost, lost.name).kept
        assert set(_kept(db, "gone").values()) == {"job_later"}
        assert abandoned(db, "job_later") == 2
        assert _kept(db, "gone") == {} and _chunks(db, "gone") == set()

        # a KB's own copy, kept again by an import that then fails: the KB's
        assert DatabaseOriginals(db, "bank", scratch=tmp_path).keep(lost, lost.name).kept
        assert DatabaseOriginals(db, "bank", scratch=tmp_path, job="job_replacing").keep(lost, lost.name).kept
        assert abandoned(db, "job_replacing") == 0 and _kept(db, "bank") == {_sha(lost) + ".txt": ""}

        # an import that succeeds keeps what it took over
        assert DatabaseOriginals(db, "copy", scratch=tmp_path, job="cli-import-2").keep(cards, cards.name).kept
        assert DatabaseOriginals(db, "copy", scratch=tmp_path, job="job_done").keep(cards, cards.name).kept
        taken(db, "job_done")
        assert _kept(db, "copy") == {_sha(cards) + ".md": ""}
    finally:
        db.close()
