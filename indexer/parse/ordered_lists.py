"""Numbers for the items of ordered lists in HTML (and Markdown, which is parsed as the HTML it renders
to): unstructured gives a list item's text without the number its browser would show, so the steps of a
procedure ("1. Select Forgot password? 2. Enter your username ...") lost their order in the chunk text,
and an answer quoting them could not say which step comes first. Each `<li>` of an `<ol>` gets its
number written in ("1. ", from the list's `start`, counting down for `reversed`); `<ul>` items are left
as they are. A tag scan, not a parse: the document is passed on byte for byte apart from the numbers,
and a malformed one is numbered as far as its tags allow.
"""
from __future__ import annotations

import re

_TAG = re.compile(r"<(/?)(ol|ul|li)\b([^>]*)>", re.IGNORECASE)
_START = re.compile(r"""\bstart\s*=\s*["']?(-?\d{1,9})""", re.IGNORECASE)
_REVERSED = re.compile(r"\breversed\b", re.IGNORECASE)
# a loose item's text is in a <p>, a web page's often in a <div> (<div><p> too): the number goes in it
_ITEM_PARAGRAPH = re.compile(r"(?:\s*<(?:p|div)\b[^>]*>)+", re.IGNORECASE)
_MARKDOWN_EXTENSIONS = ["tables", "fenced_code"]  # what unstructured's partition_md renders with


def number_ordered_lists(html: str) -> str:
    """`html` with "N. " written after the opening tag of every item of an ordered list."""
    out: list[str] = []
    stack: list[list[int] | None] = []  # per open list: [next number, step] for <ol>, None for <ul>
    last = 0
    for m in _TAG.finditer(html):
        closing, tag, attrs = m.group(1), m.group(2).lower(), m.group(3)
        out.append(html[last:m.end()])
        last = m.end()
        if tag in ("ol", "ul"):
            if closing:
                if stack:
                    stack.pop()
            elif tag == "ul":
                stack.append(None)
            else:
                start = _START.search(attrs)
                step = -1 if _REVERSED.search(attrs) else 1
                stack.append([int(start.group(1)) if start else 1, step])
        elif not closing and stack and stack[-1] is not None:
            counter = stack[-1]
            if p := _ITEM_PARAGRAPH.match(html, last):
                out.append(html[last:p.end()])
                last = p.end()
            out.append(f"{counter[0]}. ")
            counter[0] += counter[1]
    out.append(html[last:])
    return "".join(out)


def markdown_html(text: str) -> str:
    """Markdown rendered to HTML as unstructured renders it, with its ordered lists numbered from the number
    each starts at in the source (indexer.parse.markdown_list_starts)."""
    import markdown

    from indexer.parse.markdown_list_starts import SourceListStarts

    extensions = [*_MARKDOWN_EXTENSIONS, SourceListStarts()]
    return number_ordered_lists(markdown.markdown(text, extensions=extensions))
