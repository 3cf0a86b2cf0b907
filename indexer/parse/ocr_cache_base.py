"""What a KB's OCR result cache is, whichever holds it (indexer.parse.ocr_cache_where picks):

- indexer.parse.ocr_cache.OcrCache: a SQLite file in the KB's folder (embedded mode, the default);
- indexer.parse.ocr_cache_pg.PostgresOcrCache: the service's state database, shared by every `rag worker` and API
  replica (cluster mode, RAG_DATABASE_URL=postgresql://...).

Both keep the same entries under the same keys (a page's image and everything that changes what OCR reads), with
the same checksums, the same bound (max_bytes per KB, the entries used longest ago removed down to KEEP of it) and
the same owners (the SHA-256 of each file a page was found in), and both never fail indexing: a cache that fails
is logged and skipped for that page."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from indexer.parse.ocr_text import OcrLine

if TYPE_CHECKING:
    from PIL.Image import Image

MB = 1024 * 1024
KEEP = 0.9  # a trim leaves this share of the cap, so that the next puts do not trim again at once


class PageCache(Protocol):
    """One KB's cache. No method raises: a failure is logged (once per file read) and the page read by OCR."""

    def key(self, image: "Image", dpi: int | None) -> str:
        """The page as rendered, before lighting, deskew, turning, with what decides what OCR reads from it."""
        ...

    def get(self, key: str) -> list[OcrLine] | None:
        """The page's lines, or None (not there, damaged, or the cache failed); a hit marks it used now."""
        ...

    def put(self, key: str, lines: list[OcrLine]) -> None:
        """Keep the page's lines, owned by this reader's file; past the cap the entries used longest ago go."""
        ...

    def forget(self, file_sha: str) -> bool:
        """The pages of file `file_sha` go (its document was deleted or replaced), but those another file holds;
        False when the cache failed (logged) and they are still there."""
        ...

    def keep_only(self, files: Iterable[str]) -> int | None:
        """Only the pages of `files` (SHA-256s) stay; how many went (None: the cache failed)."""
        ...

    def close(self) -> None: ...


def entry_text(lines: list[OcrLine]) -> str:
    """A page's lines as kept: JSON, each [text, left, right, size]."""
    return json.dumps([[line.text, line.left, line.right, line.size] for line in lines], ensure_ascii=False)


def entry_bytes(key: str, text: str) -> int:
    return len(key) + len(text.encode()) + 64  # the row's own bytes, about


def checksum(key: str, text: str) -> str:
    return hashlib.sha256(f"{key}\n{text}".encode()).hexdigest()[:32]


def entry_lines(key: str, text: object, check: object) -> list[OcrLine] | None:
    """The entry's lines; None when it is damaged (checksum, JSON or shape), so that the page is read again."""
    if not isinstance(text, str) or check != checksum(key, text):
        return None
    try:
        rows = json.loads(text)
    except ValueError:
        return None
    if not isinstance(rows, list) or not all(_line_shaped(row) for row in rows):
        return None
    return [OcrLine(*row) for row in rows]


def hit(key: str, row: tuple | None, touch: Callable[[], object]) -> list[OcrLine] | None:
    """`get` of either backend: the lines of the row (lines, checksum) read for `key`, after `touch` (marking the
    entry used and owned by the file being read); None, untouched, for no row or a damaged one."""
    lines = entry_lines(key, *row) if row else None
    if lines is not None:
        touch()
    return lines


def _line_shaped(row: object) -> bool:
    """[text, left, right, size]"""
    return (isinstance(row, list) and len(row) == 4 and isinstance(row[0], str)
            and all(isinstance(n, int) and not isinstance(n, bool) for n in row[1:]))
