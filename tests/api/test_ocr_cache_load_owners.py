"""A SQLite cache file going into the shared cache (indexer.parse.ocr_cache_pg.load) adds the file's owner row of
every page the database has, the pages whose copy in the file is damaged too: the owner says which document uses
the page, so that deleting that document (forget) or the other one takes the page only when neither uses it any
more. Since the load went by batches (46ba296) a batch read the owners of its sound pages only, and a batch of
damaged pages none at all: the database's page lost the file's document as an owner, and deleting the other
document took it while this one still used it (its next read ran OCR again). Real PostgreSQL; English and Chinese
pages."""
from __future__ import annotations

import pytest

from indexer.parse.ocr_cache import OcrCache
from indexer.parse.ocr_cache_base import checksum, entry_text
from indexer.parse.ocr_cache_pg import PostgresOcrCache, load
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_ocr_cache_sizes import _agree, _db, _page

LOADER, OTHER = "a" * 64, "b" * 64  # the file's document and the document another worker read the page in
CASES = {  # the page both documents use, and a page of the file alone; English and Chinese
    "en": (_page(11, "Report a lost card at once: call 95555"), _page(12, "Replacement card fee: $5")),
    "zh": (_page(13, "银行卡挂失：请立即致电95555"), _page(14, "补卡手续费：5元")),
}


def _owners(db, key: str) -> set[str]:
    return {r["file"] for r in db.query("SELECT file FROM ocr_cache_owners WHERE kb = 't' AND key = ?", (key,))}


def _cache_file(path, pages: list[tuple[str, list]], damaged: set[str], owned: list[str]) -> None:
    """A SQLite cache file of `pages`, those keyed in `damaged` with a checksum that fails, owned by LOADER with
    the keys `owned` (a key of no page of the file among them too)."""
    cache = OcrCache(str(path), 0, "")
    try:
        rows = [(key, text, checksum(key, text + ("x" if key in damaged else "")), 0, 1.0)
                for key, lines in pages for text in [entry_text(lines)]]
        cache.add_entries(rows, [(LOADER, key) for key in owned])
    finally:
        cache.close()


@pytest.mark.parametrize("lang", CASES)
@pytest.mark.parametrize("alone", [True, False], ids=["a-batch-of-damaged-pages", "beside-a-sound-page"])
def test_a_loaded_file_owns_the_databases_page_its_copy_of_which_is_damaged(postgres, tmp_path, lang, alone):  # noqa: F811
    db = _db(postgres, tmp_path)
    (shared, lines), (own, own_lines) = CASES[lang]
    other = PostgresOcrCache(postgres.url, "t", max_bytes=1 << 30, engine="test", owner=OTHER)
    try:
        other.put(shared, lines)  # another worker read the page first, in its own document
        pages = [(shared, lines)] if alone else [(shared, lines), (own, own_lines)]
        _cache_file(tmp_path / "cache.sqlite", pages, damaged={shared}, owned=[key for key, _ in pages])
        assert load(postgres.url, "t", tmp_path / "cache.sqlite", replace=False, max_bytes=1 << 30) == (
            0 if alone else 1)
        assert _owners(db, shared) == {LOADER, OTHER}
        if not alone:
            assert _owners(db, own) == {LOADER}
        _agree(db)

        assert other.forget(OTHER)  # the other document deleted: this one still uses the page
        assert shared in {r["key"] for r in db.query("SELECT key FROM ocr_cache_pages WHERE kb = 't'")}
        assert other.forget(LOADER)  # and then this one: the page goes
        assert db.query("SELECT count(*) AS n FROM ocr_cache_pages WHERE kb = 't'")[0]["n"] == 0
        assert _agree(db) == {"t": 0}
    finally:
        other.close()
        db.close()


@pytest.mark.parametrize("lang", CASES)
def test_owners_are_added_only_for_pages_the_database_has(postgres, tmp_path, lang):  # noqa: F811
    """The file's owner rows of a page the database has but the file does not (its copy trimmed away) are added
    as they were before the batches; those of a damaged page the database lacks are not (no page, no owner)."""
    db = _db(postgres, tmp_path)
    (shared, lines), (own, own_lines) = CASES[lang]
    other = PostgresOcrCache(postgres.url, "t", max_bytes=1 << 30, engine="test", owner=OTHER)
    try:
        other.put(shared, lines)
        _cache_file(tmp_path / "cache.sqlite", [(own, own_lines)], damaged={own}, owned=[shared, own])
        assert load(postgres.url, "t", tmp_path / "cache.sqlite", replace=False, max_bytes=1 << 30) == 0
        assert (_owners(db, shared), _owners(db, own)) == ({LOADER, OTHER}, set())
        _agree(db)
    finally:
        other.close()
        db.close()
