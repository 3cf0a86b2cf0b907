"""What OCR may do for one file: on or off, languages, resolution and its bounds (scans are untrusted input).

OcrOptions travels inside ParseLimits into the sandboxed child process (indexer.parse.sandbox), so it holds
plain values only. Its defaults are IndexerSettings' ocr_* defaults (RAG_OCR_* in the environment).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# Tesseract's Debian packages, named in the messages that tell an administrator what to install.
TESSERACT_PACKAGE = "tesseract-ocr"
LANGUAGE_PACKAGES = {"eng": "tesseract-ocr-eng", "chi_sim": "tesseract-ocr-chi-sim",
                     "chi_tra": "tesseract-ocr-chi-tra"}


@dataclass(frozen=True)
class OcrOptions:
    """enabled: None = when tesseract is installed. languages: tesseract's, joined by '+' ('eng+chi_sim').
    dpi: pages of a PDF are rendered at this resolution (lowered for a page that would exceed max_pixels).
    max_pixels: an image (or a frame, or a rendered page) larger than this is refused (decompression bombs).
    max_pages: pages (PDF pages or TIFF frames) OCR'd per file. page_timeout_s / memory_mb: one tesseract run
    (wall and CPU seconds, address space). timeout_s: all the OCR of one file. psm: tesseract's page
    segmentation mode (3: automatic layout, 4: one column of lines of any size, 6: one block of even lines);
    fallback_psm: the mode a page is read with again when psm left a line of it out as garbage (the reading
    keeping more characters is used; None: never). cache_path: the KB's OCR result cache (indexer.parse.ocr_cache;
    '' = none), at most cache_mb MB (0 = none); cache_url and cache_kb: in cluster mode the cache is KB cache_kb's in
    the state database at cache_url (indexer.parse.ocr_cache_where), not the file. file_sha: the SHA-256 of the file being read when its reader already
    hashed it (indexer.ingest), the owner of its pages in the cache; '' = the cache hashes the file itself.
    docs/ocr.md has the measurements."""

    enabled: bool | None = None
    languages: str = "eng+chi_sim"
    dpi: int = 300
    max_pixels: int = 50_000_000
    max_pages: int = 500
    page_timeout_s: float = 60
    timeout_s: float = 3600
    memory_mb: int = 1024
    psm: int = 4
    fallback_psm: int | None = 3
    cache_path: str = ""
    cache_url: str = ""
    cache_kb: str = ""
    cache_mb: int = 512
    file_sha: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "OcrOptions":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})
