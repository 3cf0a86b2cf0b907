"""Decode text-like files (txt, md, csv, html) whose encoding nobody told us.

Order: byte-order mark, then UTF-16 without one (Windows "Unicode" text saved by some tools, and
Excel's "Unicode Text" export when the BOM was lost), then strict UTF-8, then (for HTML) a declared
<meta charset>, then a Chinese reading where one is clearly right (indexer.parse.chinese_encoding:
charset-normalizer misreads short GBK and Big5 text), then charset-normalizer's best guess.
charset-normalizer is good at CJK (GBK/GB18030, Big5, Shift-JIS) and at Cyrillic on longer text,
but on short Western text it picks an arbitrary member of a tie (cp1250, cp437, even UTF-16 for
four bytes), so among single-byte guesses that carry no language evidence we prefer Windows-1252,
the usual legacy encoding of Western office files and a superset of Latin-1's printable range.
"""
from __future__ import annotations

import codecs
import re
import unicodedata
from pathlib import Path

import charset_normalizer

from indexer.parse.chinese_encoding import decode_chinese
from indexer.parse.extension import file_extension

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
    return decode_bytes(path.read_bytes(), html=file_extension(path) in (".html", ".htm"))


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
    if (wide := utf16_without_bom(data)) is not None:
        return wide
    if looks_binary(data):
        raise TextDecodeError("the content is binary (NUL bytes or control characters)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if html and (declared := _declared_charset(data)) is not None:
        return declared
    return _guess(data)


def utf16_without_bom(data: bytes, partial: bool = False) -> str | None:
    """`data` decoded as UTF-16 (little-, else big-endian) when it reads as text that way, else None.
    `partial`: `data` is the start of a file, possibly cut inside a character.

    Text reads as text when it has no control characters but whitespace, no unassigned or private-use
    code points, and few characters whose low byte is zero: ASCII in one byte order read in the other
    gives exactly those ("Th" as U+5400 U+6800), and binary data gives NULs and unassigned points."""
    if partial:
        data = data[:len(data) - len(data) % 2]
    if len(data) < 4 or len(data) % 2 or b"\x00" not in data[:_SAMPLE]:  # ASCII is half NULs in UTF-16
        return None
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            if not partial:
                continue
            try:  # cut between the two halves of a surrogate pair
                text = data[:-2].decode(encoding)
            except UnicodeDecodeError:
                continue
        if _reads_as_text(text):
            return text
    return None


def _reads_as_text(text: str) -> bool:
    sample = text[:_SAMPLE]
    if not sample or any(ch < " " and ch not in "\t\n\r\f" for ch in sample):
        return False
    odd = sum(1 for ch in sample if unicodedata.category(ch) in ("Cn", "Co", "Cs"))
    low_zero = sum(1 for ch in sample if ord(ch) > 0xFF and ord(ch) & 0xFF == 0)
    return odd <= len(sample) / 100 and low_zero <= len(sample) / 10


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:_SAMPLE])
    if match is None:
        return None
    try:
        return data.decode(match.group(1).decode("ascii"))
    except (LookupError, UnicodeDecodeError):
        return None


def _guess(data: bytes) -> str:
    if (chinese := decode_chinese(data)) is not None:
        return chinese
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
