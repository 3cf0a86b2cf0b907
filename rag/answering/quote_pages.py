"""The pages a citation's quote is on: a passage may run over a page break (indexer.page_breaks), and the
sentence it quotes may lie on one of its pages, or on both where a page break cuts it. A citation [n] backs
every answer sentence marked [n], each with its own sentence of the passage: its pages are those of all of
them (cited_pages), so a reader finds each sentence on the pages named.

The quote is found in the passage with spacing ignored (quotes join a PDF's wrapped lines with spaces, and
Chinese ones without); a quote shortened with "…" by its head and tail. A quote not found as it is (one
put together from several places) gets every page of its passage.
"""
from __future__ import annotations

import re

from indexer.page_breaks import pages_of
from rag.types import Hit

_SPACE = re.compile(r"\s+")


def quote_pages(hit: Hit, quote: str) -> tuple[int | None, int | None]:
    """(first, last) page of `quote` in the passage; the passage's own pages when it is not found there."""
    whole = (hit.page, hit.page_end if hit.page_end is not None else hit.page)
    if hit.page is None or not hit.page_breaks:
        return whole
    pieces = [_SPACE.sub("", p) for p in quote.split("…")]
    pieces = [p for p in pieces if p]
    if not pieces:
        return whole
    kept = [i for i, ch in enumerate(hit.text) if not ch.isspace()]  # passage position of each non-space
    bare = "".join(hit.text[i] for i in kept)
    start = bare.find(pieces[0])
    end = bare.find(pieces[-1], start + len(pieces[0]) if len(pieces) > 1 else start)
    if start < 0 or end < 0:
        return whole
    breaks = tuple((int(o), int(p)) for o, p in hit.page_breaks)
    return pages_of(hit.page, breaks, kept[start], kept[end + len(pieces[-1]) - 1] + 1)


def cited_pages(hit: Hit, quotes: list[str]) -> tuple[int | None, int | None]:
    """(first, last) page over the passage's sentences quoted for one citation."""
    spans = [quote_pages(hit, q) for q in quotes] or [quote_pages(hit, "")]
    if hit.page is None:
        return None, None
    return min(a for a, _ in spans if a is not None), max(b for _, b in spans if b is not None)
