"""A file's SHA-256, read in pieces: the name a kept upload is stored under, the owner of a scan's pages in the OCR
cache. Its own module, below indexer.reread and indexer.parse.ocr_cache, which both use it (ocr_cache cannot
import indexer.reread: reread imports the parsers' versions, which import the OCR modules)."""
from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path | str) -> str:
    """The SHA-256 of a file's bytes (the file part of a content_hash), read in pieces: a 50 MB upload is never
    in memory at once. Raises OSError."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
