"""A scan is hashed once per read: the ingest's SHA-256 of the file (indexer.reread.sha256_file) is handed to the
OCR cache (OcrOptions.file_sha) as its pages' owner, instead of the cache reading the whole file again; a parse
with no digest given still hashes it there. Real Tesseract, real local store and MiniLM; the count is of the
real hashlib.file_digest calls each file's bytes went through (both hashers use it)."""
from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from pathlib import Path

from indexer.ingest import Ingestor
from indexer.parse.ocr_cache import CACHE_FILE
from tests.ocr_scans import FEE_EN, HOURS_ZH, needs_tesseract, save_pdf, scan


def _hashes(monkeypatch) -> Counter:
    """The names of the files hashed by hashlib.file_digest from now on, counted."""
    seen, real = Counter(), hashlib.file_digest

    def counted(f, digest, *args, **kwargs):
        seen[Path(getattr(f, "name", "?")).name] += 1
        return real(f, digest, *args, **kwargs)

    monkeypatch.setattr(hashlib, "file_digest", counted)
    return seen


def _owners(cache: Path) -> set[str]:
    db = sqlite3.connect(cache)
    try:
        return {row[0] for row in db.execute("SELECT DISTINCT file FROM owners")}
    finally:
        db.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_tesseract  # ~10 s: two pages read by OCR in this process
def test_a_scan_indexed_once_is_hashed_once_and_its_pages_owned_by_its_digest(manager, tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    en, zh = save_pdf(docs / "fees.pdf", scan(["Card Services Fee Notice", "", FEE_EN])), \
        save_pdf(docs / "挂失.pdf", scan(["挂失须知", "", HOURS_ZH]))
    manager.settings.parse_isolation = False  # the parser runs here, where the hashes are counted
    hashed = _hashes(monkeypatch)
    store = manager.open("t", writable=True, create=True)
    try:
        report = Ingestor(store, manager.encoder(), manager.settings).index_paths([str(docs)], progress=False)
    finally:
        store.close()
    assert report.count("indexed") == 2, report.failed
    assert hashed == Counter({"fees.pdf": 1, "挂失.pdf": 1})  # was 2 each: the ingest's, then the OCR cache's
    assert _owners(manager.home / "t" / CACHE_FILE) == {_sha(en), _sha(zh)}  # deletes find their pages by it


@needs_tesseract
def test_a_scan_parsed_with_no_digest_given_is_hashed_by_the_ocr_cache(tmp_path, monkeypatch):
    from indexer.parse.dispatch import parse_file
    from indexer.parse.limits import ParseLimits
    from indexer.parse.ocr_options import OcrOptions

    pdf = save_pdf(tmp_path / "挂失.pdf", scan(["挂失须知", "", HOURS_ZH]))
    cache = tmp_path / CACHE_FILE
    hashed = _hashes(monkeypatch)
    elements = parse_file(pdf, limits=ParseLimits(ocr=OcrOptions(cache_path=str(cache))))
    assert any(HOURS_ZH[:6] in e.text for e in elements), [e.text for e in elements]
    assert hashed == Counter({"挂失.pdf": 1}) and _owners(cache) == {_sha(pdf)}
