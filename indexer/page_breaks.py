"""Where a chunk's text crosses onto another page (PDF pages, PPTX slides, TIFF frames), so that a citation
names every page its words are on ("p. 3–4"), or the one page of the sentence it quotes.

A chunk keeps `page` (the page it starts on, as before) and `page_breaks`: (offset in its text, page that
starts there) for each page after the first, in order. A chunk within one page, or from a file without
pages, has none. Stored as text ("57:4,130:5": indexer.store), read back leniently: a chunk written before
page breaks were kept, or a damaged value, counts as one page.
"""
from __future__ import annotations

PageBreaks = tuple[tuple[int, int], ...]


def encode(breaks: PageBreaks) -> str | None:
    """The stored form: "offset:page" pairs joined by ','; None for a chunk on one page."""
    return ",".join(f"{offset}:{page}" for offset, page in breaks) or None


def decode(stored: str | None) -> PageBreaks:
    """The breaks of a stored value; () for None, '' or anything malformed (shown as the first page alone)."""
    if not stored:
        return ()
    try:
        pairs = tuple((int(a), int(b)) for a, b in (item.split(":") for item in stored.split(",")))
    except ValueError:
        return ()
    return pairs if all(o >= 0 and p >= 1 for o, p in pairs) else ()


def last_page(page: int | None, breaks: PageBreaks) -> int | None:
    """The page the chunk ends on."""
    return breaks[-1][1] if page is not None and breaks else page


def pages_of(page: int | None, breaks: PageBreaks, start: int, end: int) -> tuple[int | None, int | None]:
    """(first, last) page of the chunk's text[start:end]."""
    if page is None:
        return None, None
    first = last = page
    for offset, p in breaks:
        if offset <= start:
            first = p
        if offset < end:
            last = p
    return first, max(first, last)


def page_label(page: int | None, page_end: int | None) -> str:
    """"p.3", "p.3–4", or "" without a page."""
    if page is None:
        return ""
    return f"p.{page}" if page_end is None or page_end == page else f"p.{page}–{page_end}"



def moved(page: int | None, breaks: PageBreaks, old: str, new: str) -> tuple[int | None, PageBreaks]:
    """(page, breaks) of `new`, which is `old` less some of its text (indexer.screen takes flagged
    sentences out): a break inside text that went moves to where the text after it resumes, and a page
    left with no text is no longer named."""
    if not breaks:
        return page, ()
    from difflib import SequenceMatcher

    blocks = [b for b in SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks() if b.size]
    out: list[tuple[int, int]] = []
    for offset, p in breaks:
        at = next((b.b + max(0, offset - b.a) for b in blocks if offset < b.a + b.size), len(new))
        if at >= len(new):
            break
        if at == 0:
            page = p
        elif out and out[-1][0] == at:
            out[-1] = (at, p)
        else:
            out.append((at, p))
    return page, tuple(out)
