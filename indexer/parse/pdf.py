"""PDF text layer via pypdf, page by page, with a cheap font-size heading heuristic.

We deliberately avoid `unstructured[pdf]` (layout models, OCR, torch vision). pypdf reads the
text layer; scanned pages (an image and next to no text layer) are read by Tesseract OCR
(indexer.parse.pdf_ocr), page by page, so a mixed PDF keeps its text pages as they are. Their elements
say so (Element.ocr). Without OCR (off, or tesseract not installed) a PDF with no text gets the reason.

Headings: pypdf's visitor reports the font size of every text run during the same
extraction pass. The size covering most characters is the body size; short lines set at
least 15% larger are headings, the largest heading size being level 1. If the runs don't
reproduce the page's extracted text (unusual encodings), the page is kept as plain text. A scanned page's
headings are OCR's (indexer.parse.ocr_headings: taller text, numbers, lines alone), at their own levels.

Tables: pypdf gives a table's cells one per line; indexer.parse.pdf_tables finds tables from where
the text sits (pdfium's text runs aligned in rows and columns) and each becomes a `table` element in
the rows format of the other formats' tables ("Service | Price" lines, indexer.parse.tabular). The
page's lines that fall inside the table are replaced by it, when they hold the same characters as its
cells (else the page is kept as pypdf gives it); the rest of the page is unchanged.

Margins: running headers and footers (lines at a page's top or bottom repeated on most pages, numbers
aside) and lone page numbers are dropped (indexer.parse.page_margins); a one-page PDF keeps all.

Bounded work: a PDF's page tree may list at most `pdf_max_pages` pages (ParseLimits), checked
before any page is read. A page tree can list the same page object many times (a 7 KB file
listing one page 99,000 times took 39 s and gave 4,125 chunks): each distinct page object is
read once, at its first position, and the repeats are skipped.
"""
from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from indexer.parse.errors import ParseError
from indexer.parse.limits import ParseLimits
from indexer.parse.ocr import unavailable_reason
from indexer.parse.ocr_text import texts, visible_chars
from indexer.parse.page_elements import PageLine, page_elements
from indexer.parse.page_margins import margin_lines
from indexer.parse.pdf_limits import limit_reached
from indexer.parse.pdf_ocr import ocr_pdf_pages, scanned_pages
from indexer.parse.pdf_tables import Table, find_tables
from indexer.parse.table_pages import carried_header
from indexer.types import Element

logger = logging.getLogger(__name__)

# raise when what this parser gives for a file changes (text, sections, pages, tables): `rag index` then
# reads again the files it read before (indexer.parse.versions; vectors of unchanged chunks are reused)
# (OCR's own changes raise indexer.parse.ocr.OCR_VERSION instead)
# 2: a heading closes the headings of its level below a skipped one; 3: a table row's blank first cell under a
# named row carries that name (indexer.parse.row_names); 4: a year in the first column names the rows under it, a
# grand total row takes no group's name (indexer.parse.row_names)
PARSER_VERSION = 4

_HEADING_RATIO = 1.15
_HEADING_MAX_CHARS = 120
_HEADING_MAX_WORDS = 15
_NON_SPACE = re.compile(r"\s+")
_TABLE_SLACK = 3.0  # points: a line's start this far outside a table's box is still inside


@dataclass
class _Line:
    text: str
    size: float
    x: float | None = None  # where the line starts on the page (its first run), when known
    y: float | None = None
    table: list[list[str]] | None = None  # a table's rows, standing for the lines it replaced
    heading: int = 0  # a scanned page's heading level, as OCR found it (indexer.parse.ocr_headings; 1 = a title)


def parse_pdf(path: Path, limits: ParseLimits | None = None) -> list[Element]:
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    limits = limits or ParseLimits()
    reading: int | None = None  # the page being read, for a limit's message
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(f"{path.name} is password-protected. Remove the password "
                             "(print to PDF or save an unprotected copy) and upload it again.")
        pages: list[tuple[int, list[_Line]]] = []
        for number, page in _distinct_pages(reader, path, limits):
            reading = number
            pages.append((number, _read_page(page)))
    except ParseError:
        raise
    except LimitReachedError as exc:  # one of pypdf's bounds on hostile input (indexer.parse.pdf_limits)
        raise limit_reached(path, exc, reading) from exc
    except Exception as exc:  # pypdf raises PdfReadError, PdfStreamError, ValueError, ...
        raise ParseError(f"{path.name} could not be read as a PDF ({type(exc).__name__}: "
                         f"{exc}). The file may be damaged or not really a PDF; try "
                         "re-exporting or re-downloading it.") from exc
    pages, read_by_ocr = _scans_read(path, reader, pages, limits)
    levels = _heading_levels(pages)
    tables = find_tables(path, [number for number, page in pages if sum(line.y is not None for line in page) >= 2])
    pages = [(number, _place_tables(page, tables.get(number, []), path, number)) for number, page in pages]
    elements = _to_elements(_carry_headers(_drop_margins(pages)), levels)
    return [replace(e, ocr=True) if e.page in read_by_ocr else e for e in elements]


def _scans_read(path: Path, reader: Any, pages: list[tuple[int, list[_Line]]],
                limits: ParseLimits) -> tuple[list[tuple[int, list[_Line]]], set[int]]:
    """The pages with the scanned ones read by OCR (indexer.parse.pdf_ocr), and the numbers of those pages.
    Without OCR, a PDF with some text keeps its text pages; one with none gets the reason OCR cannot run."""
    has_text = any(line.text.strip() for _, page in pages for line in page)
    reason = unavailable_reason(limits.ocr)
    if has_text and reason is not None:
        return pages, set()
    scanned = scanned_pages(reader, [(number, [line.text for line in page]) for number, page in pages])
    if not has_text and not scanned:
        raise ParseError(f"{path.name} has no text: its pages are blank (no text and no images). "
                         "Check that the right file was uploaded.")
    scan = f"{path.name} has no extractable text: it looks like a scanned document (images of pages), and"
    if reason is not None:
        raise ParseError(f"{scan} {reason}.")
    if not scanned:
        return pages, set()
    read = ocr_pdf_pages(path, scanned, limits.ocr)
    used = {n for n, page in pages
            if n in read and visible_chars(texts(read[n])) > visible_chars([line.text for line in page])}
    pages = [(n, [_Line(line.text, 0.0, heading=line.heading) for line in read[n]] if n in used else page)
             for n, page in pages]
    if not any(line.text.strip() for _, page in pages for line in page):
        many = len(scanned) > 1
        count, they = (f"{len(scanned)} scanned pages", "they do") if many else ("scanned page", "it does")
        raise ParseError(f"{scan} OCR read no text on its {count} (languages {limits.ocr.languages}). If {they} "
                         f"show text, scan {'them' if many else 'it'} again, sharper and straight, or set "
                         "ocr_languages (RAG_OCR_LANGUAGES) to the document's language.")
    return pages, used


def _distinct_pages(reader: Any, path: Path, limits: ParseLimits) -> list[tuple[int, Any]]:
    """(1-based position, page) for each distinct page object, within the page limit."""
    cap = limits.pdf_max_pages
    try:  # the declared count: refuse early, before walking a huge page tree
        declared = int(reader.trailer["/Root"]["/Pages"]["/Count"])
    except Exception:  # missing or odd: the walk below counts
        declared = 0
    if declared > cap:
        raise _too_many_pages(path, f"declares {declared} pages", cap)
    pages = reader.pages
    count = len(pages)
    if count > cap:
        distinct = len({_page_key(pages[i], i) for i in range(cap)})
        repeats = (f" (its first {cap} are just {distinct} page object{'s' if distinct > 1 else ''} "
                   "listed again and again: a malformed or hostile file)") if distinct * 2 <= cap else ""
        raise _too_many_pages(path, f"has {count} pages{repeats}", cap)
    out: list[tuple[int, Any]] = []
    seen: set[tuple] = set()
    for i in range(count):
        page = pages[i]
        if (key := _page_key(page, i)) not in seen:
            seen.add(key)
            out.append((i + 1, page))
    if len(out) < count:
        logger.warning("%s: the page tree lists %d pages but only %d distinct page objects; "
                       "the repeats were skipped", path.name, count, len(out))
    return out


def _page_key(page: Any, index: int) -> tuple:
    ref = getattr(page, "indirect_reference", None)
    return (ref.idnum, ref.generation) if ref is not None else ("direct", index)


def _too_many_pages(path: Path, what: str, cap: int) -> ParseError:
    return ParseError(f"{path.name} {what}, over the limit of {cap} pages per PDF "
                      "(parse_max_pages / RAG_PARSE_MAX_PAGES). Split it into smaller PDFs, or ask an "
                      "administrator to raise the limit.")


def _read_page(page: object) -> list[_Line]:
    runs: list[tuple[str, float, tuple[float, float] | None]] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: object, size: float) -> None:
        runs.append((text, abs(size) * _scale(tm) * _scale(cm), _origin(tm, cm)))

    text = page.extract_text(visitor_text=visit) or ""  # type: ignore[attr-defined]
    if _NON_SPACE.sub("", "".join(t for t, _, _ in runs)) != _NON_SPACE.sub("", text):
        return [_Line(line, 0.0) for line in text.splitlines()]
    lines: list[_Line] = [_Line("", 0.0)]
    for run, size, origin in runs:
        for i, part in enumerate(run.split("\n")):
            if i:
                lines.append(_Line("", 0.0))
            if part.strip():
                if not lines[-1].text and i == 0 and origin is not None:
                    lines[-1].x, lines[-1].y = origin
                lines[-1].text += part
                lines[-1].size = max(lines[-1].size, size)
    return lines


def _origin(tm: list[float], cm: list[float]) -> tuple[float, float] | None:
    """Where text drawn at text matrix `tm` under `cm` starts on the page (PDF user space)."""
    try:
        x, y = float(tm[4]), float(tm[5])
        a, b, c, d, e, f = (float(v) for v in cm[:6])
        return x * a + y * c + e, x * b + y * d + f
    except (TypeError, ValueError, IndexError):
        return None


def _scale(matrix: list[float]) -> float:
    try:
        a, b, c, d = matrix[:4]
        return math.sqrt(abs(a * d - b * c)) or 1.0
    except (TypeError, ValueError):
        return 1.0


def _place_tables(lines: list[_Line], tables: list[Table], path: Path, number: int) -> list[_Line]:
    """Each table in place of the page's lines that start inside its box, when those lines hold the same
    characters as its cells (a table pdfium found where pypdf's lines do not match is left out)."""
    for table in tables:
        x0, y0, x1, y1 = table.bbox
        inside = [i for i, line in enumerate(lines)
                  if line.table is None and line.text.strip() and line.x is not None and line.y is not None
                  and x0 - _TABLE_SLACK <= line.x <= x1 + _TABLE_SLACK
                  and y0 - _TABLE_SLACK <= line.y <= y1 + _TABLE_SLACK]
        if not inside or not _same_characters([lines[i].text for i in inside], table.rows):
            logger.debug("%s page %d: a table of %d rows was found but not placed (its text is not "
                         "the same in pypdf's lines)", path.name, number, len(table.rows))
            continue
        drop = set(inside[1:])
        lines = [replace(line, text="", table=table.rows) if i == inside[0] else line
                 for i, line in enumerate(lines) if i not in drop]
    return lines


def _same_characters(texts: list[str], rows: list[list[str]]) -> bool:
    ours = Counter(ch for text in texts for ch in text if ch.isalnum())
    theirs = Counter(ch for row in rows for cell in row for ch in cell if ch.isalnum())
    return sum((ours & theirs).values()) >= 0.97 * max(sum(ours.values()), sum(theirs.values()), 1)


def _drop_margins(pages: list[tuple[int, list[_Line]]]) -> list[tuple[int, list[_Line]]]:
    drop = margin_lines([[(line.text, line.y) for line in page] for _, page in pages])
    return [(number, [line for i, line in enumerate(page) if i not in gone])
            for (number, page), gone in zip(pages, drop)]


def _carry_headers(pages: list[tuple[int, list[_Line]]]) -> list[tuple[int, list[_Line]]]:
    """A table opening a page that continues the table closing the page before gets that one's header
    (indexer.parse.table_pages)."""
    previous: list[list[str]] | None = None  # the table the page before ended with
    for _, page in pages:
        content = [line for line in page if line.table is not None or line.text.strip()]
        if content and content[0].table is not None and previous is not None:
            if (header := carried_header(previous, content[0].table)) is not None:
                content[0].table = [header, *content[0].table]
        previous = content[-1].table if content else None
    return pages


def _heading_levels(pages: list[tuple[int, list[_Line]]]) -> list[float]:
    """Font sizes of headings, largest (level 1) first: the sizes at least 15% above the body's (the size
    of most characters, counted over all the lines, tables and margins included, as before either)."""
    chars: Counter[float] = Counter()
    for _, page in pages:
        for line in page:
            if line.size:
                chars[round(line.size, 1)] += len(line.text.strip())
    body = chars.most_common(1)[0][0] if chars else 0.0
    return sorted({s for s in chars if body and s >= body * _HEADING_RATIO}, reverse=True)


def _to_elements(pages: list[tuple[int, list[_Line]]], levels: list[float]) -> list[Element]:
    return page_elements((number, [_page_line(line, levels) for line in page]) for number, page in pages)


def _page_line(line: _Line, levels: list[float]) -> PageLine:
    """A line with its heading level: a scan's is OCR's; a text layer's, its size's rank among the heading sizes
    (a level may be skipped: 24 then 14 pt), when it is heading-shaped."""
    text, size = line.text.strip(), round(line.size, 1)
    level = line.heading or (levels.index(size) + 1 if size in levels and _heading_shaped(text) else 0)
    return PageLine(line.text, level, line.table)


def _heading_shaped(text: str) -> bool:
    return (len(text) <= _HEADING_MAX_CHARS and len(text.split()) <= _HEADING_MAX_WORDS
            and any(ch.isalpha() for ch in text))
