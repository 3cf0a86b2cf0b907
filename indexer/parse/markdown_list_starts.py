"""Markdown ordered lists start at the number their source gives them, as CommonMark renders them.

Python-Markdown ignores the first number of an ordered list by default, so a list cut in two by a stray
block (a paragraph or code block not indented under item "1.", a "（一）" line between items) began again
at 1: its "2. 签署协议" read "1. 签署协议", and a quote of the steps gave two first steps. Its sane_lists
extension honours the number but also splits lists it joins (a bullet after an ordered item), which
changes what files without this break give; this extension changes the first number only. Imported when
Markdown is rendered (indexer.parse.ordered_lists.markdown_html), as markdown itself is.
"""
from __future__ import annotations

from markdown import Extension, Markdown
from markdown.blockprocessors import OListProcessor

# HTML's start attribute as indexer.parse.ordered_lists reads it (and CommonMark's bound on a list
# number): a longer number starts at 1, as before
_MAX_DIGITS = 9


class _SourceStartOListProcessor(OListProcessor):
    LAZY_OL = False  # <ol start="N"> from the list's first item

    def get_items(self, block: str) -> list[str]:
        items = super().get_items(block)
        if len(self.STARTSWITH) > _MAX_DIGITS:
            self.STARTSWITH = "1"
        return items


class SourceListStarts(Extension):
    """Python-Markdown's ordered list processor (same name and priority), keeping each list's first number."""

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 (Python-Markdown's name)
        md.parser.blockprocessors.register(_SourceStartOListProcessor(md.parser), "olist", 40)
