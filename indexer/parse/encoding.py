"""Decode text-like files (txt, md, csv, html) whose encoding nobody told us.

Order: byte-order mark, then strict UTF-8, then (for HTML) a declared <meta charset>,
then charset-normalizer's best guess. charset-normalizer is good at CJK (GBK/GB18030,
Big5, Shift-JIS) and at Cyrillic, but on short Western text it picks an arbitrary member
of a tie (cp1250, cp437, even UTF-16 for four bytes), so among single-byte guesses that
carry no language evidence we prefer Windows-1252, the usual legacy encoding of Western
office files and a superset of Latin-1's printable range.
"""
from __future__ import annotations

import codecs
import re
from pathlib import Path

import charset_normalizer

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Without a BOM, text containing NUL bytes is binary to us, so wide encodings are out.
_WIDE = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"]
_WESTERN = ("cp1252", "latin_1", "iso8859_15")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_SAMPLE = 8192
# C0 controls other than tab, LF, FF, CR, and ESC (used by some terminals' logs); plus DEL.
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27)) + b"\x7f"


class TextDecodeError(ValueError):
    """The bytes are not text in any encoding we can recognise (binary content)."""


def read_text(path: str | Path) -> str:
    """Read a text-like file and return its decoded content (BOM removed)."""
    path = Path(path)
    return decode_bytes(path.read_bytes(), html=path.suffix.lower() in (".html", ".htm"))


def looks_binary(data: bytes) -> bool:
    """True for content that is not text: NUL bytes or many control characters."""
    sample = data[:_SAMPLE]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = sum(sample.count(c) for c in _CONTROL)
    return controls / len(sample) > 0.05


def decode_bytes(data: bytes, *, html: bool = False) -> str:
    """Decode `data`, guessing the encoding. Raises TextDecodeError for binary content."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding).lstrip("\ufeff")
            except UnicodeDecodeError as exc:
                raise TextDecodeError(f"invalid {encoding} text after its byte-order mark") from exc
    if looks_binary(data):
        raise TextDecodeError("the content is binary (NUL bytes or control characters)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if html and (declared := _declared_charset(data)) is not None:
        return declared
    return _guess(data)


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:_SAMPLE])
    if match is None:
        return None
    try:
        return data.decode(match.group(1).decode("ascii"))
    except (LookupError, UnicodeDecodeError):
        return None


def _guess(data: bytes) -> str:
    results = charset_normalizer.from_bytes(data, cp_exclusion=_WIDE)
    best = results.best()
    if best is None:
        raise TextDecodeError("no text encoding fits the content")
    if _single_byte(best.encoding, data):
        tied = {m.encoding for m in results
                if m.chaos <= best.chaos + 1e-9 and m.coherence >= best.coherence - 1e-9}
        western = next((enc for enc in _WESTERN if enc in tied), None)
        if western is None and best.coherence == 0.0:
            western = "cp1252"  # no language evidence at all: take the common default
        if western is not None:
            try:
                return data.decode(western)
            except UnicodeDecodeError:
                pass  # cp1252 leaves five byte values undefined
    return str(best)


def _single_byte(encoding: str, data: bytes) -> bool:
    try:
        return len(data.decode(encoding)) == len(data)
    except (LookupError, UnicodeDecodeError):
        return False
