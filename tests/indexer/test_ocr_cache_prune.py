"""indexer.parse.ocr_cache_prune.keep_only, what a cluster worker runs against a KB's documents (api.jobs.ocr_prune;
end to end: tests/cluster/test_ocr_cache_cluster.py): the pages of files no document holds go, a page another
listed file holds too stays. Real SQLite, the real cache; English and Chinese lines."""
from __future__ import annotations

import sqlite3

from PIL import Image

from indexer.parse.ocr_cache import CACHE_FILE, OcrCache
from indexer.parse.ocr_cache_prune import keep_only
from indexer.parse.ocr_text import OcrLine

KEPT, DELETED = "a" * 64, "b" * 64  # the SHA-256s of a kept document's file and a deleted one's


def _texts(path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {lines for (lines,) in db.execute("SELECT lines FROM pages")}
    finally:
        db.close()


def test_only_the_pages_of_files_no_document_holds_leave_the_cache(tmp_path):
    path = tmp_path / CACHE_FILE
    pages = {"kept": "The replacement card fee is $29 per card.", "deleted": "患者张伟，住院号20231115。",
             "shared": "江州市第一人民医院探视规定", "ownerless": "Patient form, page 2"}
    keys = {}
    for n, (name, text) in enumerate(pages.items()):
        owners = {"kept": [KEPT], "deleted": [DELETED], "shared": [KEPT, DELETED], "ownerless": [""]}[name]
        for owner in owners:
            cache = OcrCache(str(path), 1 << 20, "test", owner)
            keys[name] = cache.key(Image.new("L", (40, 20), n), 300)
            cache.put(keys[name], [OcrLine(text, 100, 900, 40)])
            cache.close()
    assert all(any(text in t for t in _texts(path)) for text in pages.values())

    assert keep_only(path, {KEPT}) == 2
    left = "\n".join(_texts(path))
    assert pages["kept"] in left and pages["shared"] in left
    assert pages["deleted"] not in left and pages["ownerless"] not in left
    cache = OcrCache(str(path), 1 << 20, "test", KEPT)
    try:
        assert cache.get(keys["kept"]) == [OcrLine(pages["kept"], 100, 900, 40)]
    finally:
        cache.close()

    assert keep_only(path, set()) == 2  # a KB with no document left: nothing stays
    assert _texts(path) == set()
    assert keep_only(tmp_path / "none.sqlite", {KEPT}) == 0  # no cache: nothing to do, no file made
    assert not (tmp_path / "none.sqlite").exists()
