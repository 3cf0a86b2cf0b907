"""PDF text layer via pypdf, page by page, with a cheap font-size heading heuristic.

We deliberately avoid `unstructured[pdf]` (layout models, OCR, torch vision). pypdf reads the
text layer only; a PDF without one (a scan) is rejected with advice to OCR it.

Headings: pypdf's visitor reports the font size of every text run during the same
extraction pass. The size covering most characters is the body size; short lines set at
least 15% larger are headings, the largest heading size being level 1. If the runs don't
reproduce the page's extracted text (unusual encodings), the page is kept as plain text.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.parse.errors import ParseError
from indexer.parse.limits import ParseLimits
from indexer.types import Element

logger = logging.getLogger(__name__)

_HEADING_RATIO = 1.15
_HEADING_MAX_CHARS = 120
_HEADING_MAX_WORDS = 15
_NON_SPACE = re.compile(r"\s+")


@dataclass
class _Line:
    text: str
    size: float


def parse_pdf(path: Path, limits: ParseLimits | None = None) -> list[Element]:
    from pypdf import PdfReader

    limits = limits or ParseLimits()
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(f"{path.name} is password-protected. Remove the password "
                             "(print to PDF or save an unprotected copy) and upload it again.")
        pages = [(number, _read_page(page)) for number, page in _distinct_pages(reader, path, limits)]
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises PdfReadError, PdfStreamError, ValueError, ...
        raise ParseError(f"{path.name} could not be read as a PDF ({type(exc).__name__}: "
                         f"{exc}). The file may be damaged or not really a PDF; try "
                         "re-exporting or re-downloading it.") from exc
    if not any(line.text.strip() for _, page in pages for line in page):
        raise ParseError(f"{path.name} has no extractable text: it looks like a scanned "
                         "document (images of pages). Run it through OCR (e.g. ocrmypdf or "
                         "your scanner's searchable-PDF option) and upload the result.")
    return _to_elements(pages)


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
    runs: list[tuple[str, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: object, size: float) -> None:
        runs.append((text, abs(size) * _scale(tm) * _scale(cm)))

    text = page.extract_text(visitor_text=visit) or ""  # type: ignore[attr-defined]
    if _NON_SPACE.sub("", "".join(t for t, _ in runs)) != _NON_SPACE.sub("", text):
        return [_Line(line, 0.0) for line in text.splitlines()]
    lines: list[_Line] = [_Line("", 0.0)]
    for run, size in runs:
        for i, part in enumerate(run.split("\n")):
            if i:
                lines.append(_Line("", 0.0))
            if part.strip():
                lines[-1].text += part
                lines[-1].size = max(lines[-1].size, size)
    return lines


def _scale(matrix: list[float]) -> float:
    try:
        a, b, c, d = matrix[:4]
        return math.sqrt(abs(a * d - b * c)) or 1.0
    except (TypeError, ValueError):
        return 1.0


def _to_elements(pages: list[tuple[int, list[_Line]]]) -> list[Element]:
    chars: Counter[float] = Counter()
    for _, page in pages:
        for line in page:
            if line.size:
                chars[round(line.size, 1)] += len(line.text.strip())
    body = chars.most_common(1)[0][0] if chars else 0.0
    levels = sorted({s for s in chars if body and s >= body * _HEADING_RATIO}, reverse=True)

    elements: list[Element] = []
    path: list[str] = []
    for page_no, page in pages:
        paragraph: list[str] = []

        def flush() -> None:
            if text := "\n".join(paragraph).strip():
                elements.append(Element(text, "text", " > ".join(path), page_no))
            paragraph.clear()

        for line in page:
            text = line.text.strip()
            size = round(line.size, 1)
            if text and size in levels and _heading_shaped(text):
                flush()
                path[:] = path[:levels.index(size)] + [text]
                elements.append(Element(text, "title", " > ".join(path), page_no))
            elif text:
                paragraph.append(text)
            else:
                flush()  # blank line: paragraph break
        flush()
    return elements


def _heading_shaped(text: str) -> bool:
    return (len(text) <= _HEADING_MAX_CHARS and len(text.split()) <= _HEADING_MAX_WORDS
            and any(ch.isalpha() for ch in text))
