"""Office documents (.docx/.pptx/.xlsx) whose XML declares a DTD are refused, and told why.

A DTD (`<!DOCTYPE x [<!ENTITY ...>]>`) is what "billion laughs" (entities that expand a few bytes
into gigabytes) and external-entity attacks (an entity that reads another file) are made of. The
Open Packaging Conventions (ECMA-376 Part 2) do not allow DTDs in a package's XML, and Word, WPS,
Excel and PowerPoint never write one, so any XML member holding `<!DOCTYPE` is refused. The parsers
already refused these files, but as "damaged" (lxml's amplification guard), "undefined entity" or
"empty" (entities dropped unread), which sent users looking for a fault that is not there.

DtdScanner looks for the keyword in a member's bytes as indexer.parse.zipcheck inflates it (no
second decompression); in XML text a literal `<` is always escaped, so the keyword is markup.
entity_refusal() turns a parser's entity error into the same reason when the zip check is off.
"""
from __future__ import annotations

from pathlib import Path

from indexer.parse.errors import ParseError

_KEYWORD = "<!DOCTYPE"
_XML_SUFFIXES = (".xml", ".rels", ".vml")
# what lxml (docx, pptx) and ElementTree (openpyxl, xlsx) say about entities
_ENTITY_ERRORS = ("entity", "amplification")


def is_xml_member(name: str) -> bool:
    return name.lower().endswith(_XML_SUFFIXES)


class DtdScanner:
    """Fed a member's bytes in order, tells whether `<!DOCTYPE` occurs in them (UTF-8 or UTF-16,
    the encodings OOXML allows; which one is read from the first bytes)."""

    def __init__(self) -> None:
        self._needle: bytes | None = None
        self._tail = b""

    def feed(self, data: bytes) -> bool:
        if self._needle is None:
            if not data:
                return False
            self._needle = _KEYWORD.encode(_encoding(data))
        window = self._tail + data
        self._tail = window[-(len(self._needle) - 1):]
        return self._needle in window


def _encoding(start: bytes) -> str:
    if start[:2] == b"\xff\xfe" or start[:2] == b"<\x00":
        return "utf-16-le"
    if start[:2] == b"\xfe\xff" or start[:2] == b"\x00<":
        return "utf-16-be"
    return "utf-8"


def dtd_refused(path: Path, member: str | None = None) -> ParseError:
    where = member or "one of its XML parts"
    return ParseError(f"{path.name} was refused: {where} declares XML entities (a <!DOCTYPE> section), "
                      "which are refused for safety: they can make a parser expand a few bytes into "
                      "gigabytes or read other files on the server, and Word, WPS, Excel and PowerPoint "
                      "never write them. Open the file in Word or WPS (Excel or PowerPoint for .xlsx and "
                      ".pptx), save it again and upload it again.")


def entity_refusal(path: Path, exc: BaseException) -> ParseError | None:
    """The DTD reason if `exc` (or what it wraps) is an XML parser's error about entities, else None."""
    seen: BaseException | None = exc
    while seen is not None:
        module = type(seen).__module__
        if module.startswith(("lxml", "xml.")) and any(w in str(seen).lower() for w in _ENTITY_ERRORS):
            return dtd_refused(path)
        seen = seen.__cause__ or seen.__context__
    return None
