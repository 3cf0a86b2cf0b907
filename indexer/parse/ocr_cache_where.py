"""Where a KB's OCR result cache is, the one place that picks (indexer.parse.ocr_cache_base): the service's state
database when the process was given its URL (cluster mode: IndexerSettings.ocr_cache_url, set by
api.jobs.ocr_cache from RAG_DATABASE_URL), else the SQLite file in the KB's folder.

    OcrCacheAt(path, url, kb)     # what travels to the parser processes (inside OcrOptions) and the stores hold
    open_cache(options, source, *steps) -> PageCache | None   # the cache one file's OCR reads and writes
    at.cache() -> PageCache | None                            # the KB's cache, for forget / keep_only
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from indexer.file_hash import sha256_file
from indexer.parse.ocr import OCR_VERSION, identity, program
from indexer.parse.ocr_cache import OcrCache
from indexer.parse.ocr_cache_base import MB, PageCache
from indexer.parse.ocr_cache_pg import PostgresOcrCache
from indexer.parse.ocr_deskew import LEVEL, MAX_ANGLE
from indexer.parse.ocr_lighting import UNEVEN
from indexer.parse.ocr_options import OcrOptions
from indexer.parse.ocr_orientation import MIN_CONFIDENCE
from indexer.parse.ocr_text import CELL_GAP, MIN_LINE_CONFIDENCE
from indexer.parse.ocr_text_size import CAP, DESCENDER, IDEOGRAPH, NARROW, SPACE, X_HEIGHT


@dataclass(frozen=True)
class OcrCacheAt:
    """path: the SQLite file (embedded mode; '' for a KB with no folder). url: the state database's PostgreSQL URL
    (cluster mode), where the cache is KB `kb`'s rows."""

    path: str = ""
    url: str = ""
    kb: str = ""

    @property
    def shared(self) -> bool:
        return bool(self.url and self.kb)

    def cache(self, max_bytes: int = 0, engine: str = "", owner: str = "") -> PageCache | None:
        """The KB's cache; None when it has none (no folder, or no file there yet: nothing to forget)."""
        if self.shared:
            return PostgresOcrCache(self.url, self.kb, max_bytes, engine, owner)
        if not self.path or (not engine and not Path(self.path).is_file()):
            return None
        return OcrCache(self.path, max_bytes, engine, owner)


def at(options: OcrOptions) -> OcrCacheAt:
    return OcrCacheAt(options.cache_path, options.cache_url, options.cache_kb)


def engine(options: OcrOptions, tesseract_identity: str, *steps: float) -> str:
    """Everything but the page that decides what OCR reads: part of every key."""
    settings = {"ocr": OCR_VERSION, "languages": options.languages, "psm": options.psm,
                "fallback_psm": options.fallback_psm, "tesseract": tesseract_identity,
                "steps": [MIN_LINE_CONFIDENCE, CELL_GAP, MAX_ANGLE, LEVEL, UNEVEN, MIN_CONFIDENCE, *steps],
                "sizes": [X_HEIGHT, CAP, DESCENDER, IDEOGRAPH, NARROW, SPACE]}  # the lines' sizes kept
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def open_cache(options: OcrOptions, source: Path | None, *steps: float) -> PageCache | None:
    """The cache one file's OCR uses; None: off (no cache place, cache_mb 0) or Tesseract unknown. source: the file
    being read (its pages' owner, by options.file_sha or else hashed here). steps: the caller's own constants that
    change what OCR reads (indexer.parse.ocr_pages')."""
    where = at(options)
    if not (where.path or where.shared) or options.cache_mb <= 0 or (tesseract := program()) is None:
        return None
    if not (who := identity(tesseract)):
        return None
    owner = options.file_sha  # hashed by the reader already (indexer.ingest): not read a second time
    if not owner and source is not None:
        try:
            owner = sha256_file(source)  # read in pieces: within the parser's memory limit
        except OSError:
            pass
    return where.cache(options.cache_mb * MB, engine(options, who, *steps), owner)
