"""The KB's OCR result cache (indexer.parse.ocr_cache): a scan read again is not OCR'd again for the same pages.

Real tesseract, run through a wrapper script on PATH that logs each run before running the real one, on scans
drawn here (tests/ocr_scans.py), English and Chinese; the real local store and MiniLM model."""
from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from indexer.ingest import Ingestor
from indexer.parse.ocr_cache import CACHE_FILE, OcrCache
from indexer.parse.ocr_text import BREAK, OcrLine
from tests.ocr_scans import FEE_EN, FEE_ZH, HOURS_ZH, needs_tesseract, save_pdf, scan


def _logged_tesseract(tmp_path: Path, monkeypatch) -> Path:
    """A `tesseract` on PATH that appends its arguments to a log, then runs the real one; returns the log."""
    real, log = shutil.which("tesseract"), tmp_path / "tesseract.log"
    wrapper = tmp_path / "bin" / "tesseract"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    log.touch()
    return log


def _page_runs(log: Path) -> int:
    """Tesseract runs on a page image (reading it or its orientation), not --version or --list-langs."""
    return sum(" stdin " in f" {line} " for line in log.read_text().splitlines())


def _index(manager, docs: Path, **kwargs):
    store = manager.open("t", writable=True, create=True)
    try:
        report = Ingestor(store, manager.encoder(), manager.settings).index_paths([str(docs)], progress=False,
                                                                                  **kwargs)
        texts = {d.source: [c.text for c in store.doc_chunks(d.doc_id)] for d in store.documents()}
    finally:
        store.close()
    assert not report.failed, report.failed
    return report, texts


def _fee_scan(tmp_path: Path) -> Path:
    """tmp_path/docs holding fees.pdf: an English and a Chinese scanned page."""
    docs = tmp_path / "docs"
    docs.mkdir()
    save_pdf(docs / "fees.pdf", scan(["Card Services Fee Notice", "", FEE_EN]), scan(["银行卡服务收费公告", "", FEE_ZH]))
    return docs


def _scans(tmp_path: Path) -> Path:
    """_fee_scan's folder with 挂失.pdf too: three scanned pages in two files."""
    docs = _fee_scan(tmp_path)
    save_pdf(docs / "挂失.pdf", scan(["挂失须知", "", HOURS_ZH]))
    return docs


@needs_tesseract  # ~25 s: three pages read by OCR, twice (two settings), in this process
def test_a_scan_read_again_is_not_ocrd_again_until_an_ocr_setting_changes(manager, tmp_path, monkeypatch):
    docs = _scans(tmp_path)
    log = _logged_tesseract(tmp_path, monkeypatch)
    manager.settings.parse_isolation = False  # the parser runs here, and sees the wrapper on PATH

    first, texts = _index(manager, docs)
    assert first.count("indexed") == 2
    read = _page_runs(log)
    assert read >= 3  # each of the three pages at least once
    assert (manager.home / "t" / CACHE_FILE).is_file()
    assert any(FEE_ZH[:8] in t for t in texts[str(docs / "fees.pdf")]), texts
    assert any("$29" in t for t in texts[str(docs / "fees.pdf")]), texts

    again, same = _index(manager, docs, reparse=True)
    assert [r.reread for r in again.results] == ["--reparse"] * 2
    assert _page_runs(log) == read  # no page read by Tesseract again
    assert same == texts

    manager.settings.ocr_psm = 6  # another setting reads every page again
    _index(manager, docs, reparse=True)
    assert _page_runs(log) >= read + 3  # each page at least once more

    cache = manager.home / "t" / CACHE_FILE
    manager.delete("t")
    assert not cache.exists() and not cache.with_name(CACHE_FILE + "-wal").exists()  # the cache went with the KB


@pytest.mark.slow
@needs_tesseract  # ~15 s
def test_a_damaged_cache_entry_or_file_never_fails_indexing_and_is_written_again(manager, tmp_path, monkeypatch):
    docs = _scans(tmp_path)
    log = _logged_tesseract(tmp_path, monkeypatch)
    manager.settings.parse_isolation = False
    _, texts = _index(manager, docs)
    cache = manager.home / "t" / CACHE_FILE

    db = sqlite3.connect(cache)  # an entry whose text no longer matches its checksum (a torn or altered write)
    with db:
        db.execute("""UPDATE pages SET lines = '["The replacement card fee is $1 per card."]'""")
    db.close()
    runs = _page_runs(log)
    _, again = _index(manager, docs, reparse=True)
    assert again == texts and _page_runs(log) > runs  # read by OCR again, not taken from the entry
    runs = _page_runs(log)
    _index(manager, docs, reparse=True)
    assert _page_runs(log) == runs  # and written again: the next re-read takes it

    for name in (cache, Path(f"{cache}-wal"), Path(f"{cache}-shm")):
        name.unlink(missing_ok=True)
    cache.write_bytes(b"not a database " * 512)  # a damaged file
    report, again = _index(manager, docs, reparse=True)
    assert again == texts and report.count("updated") == 2 and _page_runs(log) > runs
    runs = _page_runs(log)
    _index(manager, docs, reparse=True)
    assert _page_runs(log) == runs  # started again: a working cache


def test_the_cache_keeps_to_its_size_by_dropping_the_entries_used_longest_ago(tmp_path):
    """Real SQLite; a cap of 4 KB and entries of about 1 KB: a put past the cap trims down to 90% of it, the
    entries used longest ago first (a get counts as a use)."""
    from PIL import Image

    cache = OcrCache(str(tmp_path / CACHE_FILE), max_bytes=4000, engine="test")
    pages = [Image.new("L", (40, 20), shade) for shade in range(6)]
    keys = [cache.key(page, 300) for page in pages]
    assert len(set(keys)) == 6 and cache.key(pages[0], 150) != keys[0]  # the resolution is part of the key
    for i, key in enumerate(keys[:3]):
        cache.put(key, [OcrLine(f"第{i}页 page {i}", 100, 420, 50), BREAK, OcrLine("x" * 800, 100, 2200, 50)])
    # page 0 used last now: page 1 is the oldest
    assert cache.get(keys[0]) == [OcrLine("第0页 page 0", 100, 420, 50), OcrLine(""), OcrLine("x" * 800, 100, 2200, 50)]
    cache.put(keys[3], [OcrLine("page 3"), OcrLine("x" * 800)])
    cache.put(keys[4], [OcrLine("page 4"), OcrLine("x" * 800)])
    assert cache.get(keys[1]) is None and cache.get(keys[2]) is None
    assert [cache.get(k) is not None for k in (keys[0], keys[3], keys[4])] == [True, True, True]
    cache.close()
    assert os.path.getsize(tmp_path / CACHE_FILE) < 64 * 1024


def _cached_text(manager) -> str:
    db = sqlite3.connect(manager.home / "t" / CACHE_FILE)
    try:
        return "\n".join(lines for (lines,) in db.execute("SELECT lines FROM pages"))
    finally:
        db.close()


@needs_tesseract  # ~15 s
def test_a_deleted_or_replaced_scan_takes_its_pages_out_of_the_cache(manager, tmp_path, monkeypatch):
    """A hospital deleting a patient's scan must not keep its text in the cache: `rag delete` (and --prune, the
    HTTP delete: the store's delete) removes the pages only that file held; a new version of a file drops the
    pages of the old one that it does not have."""
    from indexer.ingest import delete

    docs = _scans(tmp_path)
    manager.settings.parse_isolation = False
    _index(manager, docs)
    cached = _cached_text(manager)
    assert HOURS_ZH[:10] in cached and FEE_ZH[:10] in cached and "$29" in cached, cached

    store = manager.open("t", writable=True)
    try:
        assert delete(store, str(docs / "挂失.pdf"))
    finally:
        store.close()
    (docs / "挂失.pdf").unlink()
    cached = _cached_text(manager)
    assert HOURS_ZH[:10] not in cached and FEE_ZH[:10] in cached, cached

    save_pdf(docs / "fees.pdf", scan(["Card Services Fee Notice", "", FEE_EN]))  # the Chinese page taken out
    log = _logged_tesseract(tmp_path, monkeypatch)
    report, texts = _index(manager, docs)
    assert [r.status for r in report.results] == ["updated"] and _page_runs(log) == 0  # its page, from the cache
    cached = _cached_text(manager)
    assert FEE_ZH[:10] not in cached and "$29" in cached, cached
    assert not any(FEE_ZH[:10] in t for t in texts[str(docs / "fees.pdf")])
