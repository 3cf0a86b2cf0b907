"""The pages a citation's quote is on: a passage may run over a page break (indexer.page_breaks), and the
sentence it quotes may lie on one of its pages, or on both where a page break cuts it. A citation [n] backs
every answer sentence marked [n], each with its own sentence of the passage: its pages are those of all of
them (AnswerPages.cited), so a reader finds each sentence on the pages named.

The quote is found in the passage with spacing ignored (quotes join a PDF's wrapped lines with spaces, and
Chinese ones without); a quote shortened with "…" by its head and tail. A quote not found as it is (one
put together from several places) gets every page of its passage.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from indexer.page_breaks import PageBreaks, pages_of
from rag.types import Hit

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class _Passage:
    """A passage read once for the pages of its quotes: its text less white space (`bare`), where each of those
    characters stands in the passage (`kept`), and its page breaks."""

    whole: tuple[int, int]  # (first, last) page of the passage
    breaks: PageBreaks
    bare: str
    kept: list[int]

    @classmethod
    def of(cls, hit: Hit, page: int) -> _Passage:
        """`page`: the hit's first page (a passage without one has no pages to find)."""
        whole = (page, hit.page_end if hit.page_end is not None else page)
        if not hit.page_breaks:  # one page: every quote is on it
            return cls(whole, (), "", [])
        kept = [i for i, ch in enumerate(hit.text) if not ch.isspace()]
        return cls(whole, tuple((int(o), int(p)) for o, p in hit.page_breaks), "".join(hit.text[i] for i in kept), kept)

    def pages(self, quote: str) -> tuple[int | None, int | None]:
        """(first, last) page of `quote` in the passage; the passage's own pages when it is not found there."""
        pieces = [p for p in (_SPACE.sub("", p) for p in quote.split("…")) if p]
        if not self.breaks or not pieces:
            return self.whole
        start = self.bare.find(pieces[0])
        end = self.bare.find(pieces[-1], start + len(pieces[0]) if len(pieces) > 1 else start)
        if start < 0 or end < 0:
            return self.whole
        return pages_of(self.whole[0], self.breaks, self.kept[start], self.kept[end + len(pieces[-1]) - 1] + 1)


class AnswerPages:
    """The pages of one answer's citations, over its passages (`hits`, the prompt's: [n] is hits[n-1]); each
    passage is read once, however many of its quotes the answer's citations look up."""

    def __init__(self, hits: Sequence[Hit]):
        self._hits = hits
        self._read: dict[int, _Passage] = {}

    def cited(self, n: int, quotes: list[str]) -> tuple[int | None, int | None]:
        """(first, last) page over passage [n]'s sentences quoted for one citation."""
        hit = self._hits[n - 1]
        if hit.page is None:
            return None, None
        if n not in self._read:
            self._read[n] = _Passage.of(hit, hit.page)
        passage = self._read[n]
        spans = [passage.pages(q) for q in quotes] or [passage.whole]
        return min(a for a, _ in spans if a is not None), max(b for _, b in spans if b is not None)
