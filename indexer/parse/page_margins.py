"""Running headers and footers of a paged document, and page numbers: lines of a page's margins, not content.

    margin_lines(pages) -> [indices of the lines to drop, per page]

`pages` holds, per page, its lines as (text, y) in reading order, y being the line's baseline height on the
page (larger is higher: PDF user space), None where unknown. A PDF's footer ("Lakeside Clinic Handbook -
page 2") became a chunk of its own, quoted as an answer, and joined the chunk of the page before (it is
drawn first, so it opened the page's text).

* Candidates: the lines at the two topmost and the two bottommost heights of a page (lines within 2 pt
  are at one height); on a page where no line has a height, its first two and last two lines.
* Running header or footer: a candidate whose text, case-folded and with every number as '#' ("page 1",
  "page 2"; "- 3 -"; "第 3 页"), is a candidate on at least 2 pages and on at least half of the pages
  with text. All its occurrences among the candidates are dropped.
* Page number: a candidate that is a page number alone ("3", "- 3 -", "Page 3 of 10", "3 / 10", "iv",
  "第 3 页", "第3页 共10页"), on a document of two or more pages.

A one-page document keeps all its lines: there is no repetition to go by. Nor are repeated lines dropped
when that would empty most pages (the same page twice, a form filled in again): that is content.
"""
from __future__ import annotations

import re
from collections import Counter

__all__ = ["margin_lines", "page_number", "running_key"]

_SAME_HEIGHT = 2.0  # points
_LEVELS = 2  # heights at the top and at the bottom of a page searched
_NUMBER = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_PAGE_NUMBER = re.compile(
    r"(?:(?:page|pg\.?|p\.)\s*)?[-–—]?\s*(?:\d{1,5}|(?=[ivx])x{0,3}(?:ix|iv|v?i{0,3}))\s*[-–—]?(?:\s*(?:/|of)\s*\d{1,5})?"
    r"|第\s*\d{1,5}\s*页(?:\s*[,，/]?\s*共\s*\d{1,5}\s*页)?"
    r"|共\s*\d{1,5}\s*页\s*[,，/]?\s*第\s*\d{1,5}\s*页")

Line = tuple[str, "float | None"]


def running_key(text: str) -> str:
    """What a running header or footer keeps from page to page: case-folded, numbers as '#'."""
    return _SPACE.sub(" ", _NUMBER.sub("#", text.casefold())).strip()


def page_number(text: str) -> bool:
    """The line is a page number alone."""
    return bool(_PAGE_NUMBER.fullmatch(_SPACE.sub(" ", text.casefold()).strip()))


def margin_lines(pages: list[list[Line]]) -> list[set[int]]:
    drop: list[set[int]] = [set() for _ in pages]
    with_text = [i for i, page in enumerate(pages) if any(text.strip() for text, _ in page)]
    if len(with_text) < 2:
        return drop
    candidates = {i: _candidates(pages[i]) for i in with_text}
    seen: Counter[str] = Counter()
    for i in with_text:
        seen.update({running_key(pages[i][k][0]) for k in candidates[i]})
    enough = max(2, (len(with_text) + 1) // 2)
    running = {key for key, pages_seen in seen.items() if pages_seen >= enough}
    for attempt in range(2):
        for i in with_text:
            drop[i] = {k for k in candidates[i]
                       if running_key(pages[i][k][0]) in running or page_number(pages[i][k][0])}
        emptied = sum(1 for i in with_text if all(k in drop[i] for k, (text, _) in enumerate(pages[i]) if text.strip()))
        if attempt or emptied * 2 <= len(with_text):
            break
        running = set()  # most pages would be left empty: the same page again (a form, a copy), not margins
    return drop


def _candidates(page: list[Line]) -> list[int]:
    """Indices of the non-empty lines at the top and bottom heights of the page."""
    lines = [k for k, (text, _) in enumerate(page) if text.strip()]
    placed = [k for k in lines if page[k][1] is not None]
    if not placed:
        return sorted(set(lines[:_LEVELS] + lines[-_LEVELS:]))
    levels: list[float] = []  # distinct heights, top first
    for y in sorted((page[k][1] for k in placed), reverse=True):  # type: ignore[type-var]
        if not levels or levels[-1] - y > _SAME_HEIGHT:
            levels.append(y)
    edges = levels[:_LEVELS] + levels[-_LEVELS:]
    return [k for k in placed if any(abs(page[k][1] - level) <= _SAME_HEIGHT for level in edges)]  # type: ignore[operator]
