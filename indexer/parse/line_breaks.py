"""The line breaks of a plain-text paragraph that carry structure, which `unstructured` joins away.

partition_text gives each block of lines (up to a blank line) as one element with its lines joined by
spaces. A heading on the line above its text ("Your bill" over "After a hospital stay ...") then runs
into the first sentence, and list items into each other ("Ways to pay - Online at ... - By phone: ...
- In person: ..."): an answer quoting the first sentence quoted "Your bill After a hospital stay ...",
and a list item could not be told from the one before it. Here such breaks are put back, and only
those: a line after a heading-like line (short, ending no sentence, no "key: value" pair) and a line
opening a list item (a bullet or a number). A line wrapped by the layout stays joined, so elements,
chunks and what is searched stay as they were (whitespace aside); the answer side reads lines.
"""
from __future__ import annotations

import re

from indexer.script import is_cjk
from indexer.tokenize import count_tokens

# a list item's opening: a bullet, "2." / "2)" / "2、", "一、", "（3）"
_ITEM = re.compile(r"^(?:[-*•·]\s|\d{1,2}[.)、．]\s*\S|[一二三四五六七八九十]+、|[（(]\d{1,2}[)）])")
# a heading ends no sentence and holds no "key: value" pair
_ENDS_SENTENCE = re.compile(r"[.!?;:,。！？；：，、…]$")
_KEY_VALUE = re.compile(r"[:：]\s*\S")
# how far past the last element an element's words are looked for: unstructured's elements come in
# source order, close together; bounded so a text it changed cannot make every search scan the file
_WINDOW = 4


def keep_line_breaks(texts: list[str], source: str) -> list[str]:
    """`texts` (unstructured's elements of `source`, in order) with the line breaks of `source` that
    follow a heading-like line or open a list item put back; an element whose words are not found in
    order (unstructured changed a character) is left as it is."""
    out, cursor = [], 0
    for text in texts:
        words = text.split()
        if len(words) < 2:
            out.append(text)
            continue
        found = _find_words(words, source, cursor, min(len(source), cursor + _WINDOW * len(text) + 1000))
        if found is None:
            out.append(text)
            continue
        span = source[found[0]:found[1]]
        cursor = found[1]
        out.append(_rejoin(text, span) if "\n" in span else text)
    return out


def _find_words(words: list[str], source: str, start: int, end: int) -> tuple[int, int] | None:
    """(start, end) of the first place in source[start:end] where `words` follow one another, separated by
    whitespace; None if there is none. What re.search(r"\s+".join(map(re.escape, words))) finds, without
    compiling a pattern of every word (a 20,000-character paragraph's took 0.1 s)."""
    first, rest = words[0], words[1:]
    while (at := source.find(first, start, end)) >= 0:
        pos = at + len(first)
        for word in rest:
            gap = pos
            while gap < end and source[gap].isspace():
                gap += 1
            if gap == pos or not source.startswith(word, gap, end):
                break
            pos = gap + len(word)
        else:
            return at, pos
        start = at + 1
    return None


def _rejoin(text: str, span: str) -> str:
    """`text` with its words laid out as in `span`, where a kept break falls; `text` itself when none does."""
    lines = [line for line in (" ".join(raw.split()) for raw in span.splitlines()) if line]
    breaks = [_heading_like(prev) or bool(_ITEM.match(line)) for prev, line in zip(lines, lines[1:])]
    if not any(breaks):
        return text
    out = lines[0]
    for line, kept in zip(lines[1:], breaks):
        out += ("\n" if kept else " ") + line
    return out


def _heading_like(line: str) -> bool:
    """Short (under 6 words, 8 tokens in Chinese: "Payment plans", "一、探视时间"), ending no sentence and holding
    no "key: value" pair. Unlike rag.text.is_heading (the answer side, which indexer may not import), a line
    ending in ")" or a digit counts: "Paying for yourself (self-pay)" heads its paragraph."""
    return (count_tokens(line) < (8 if is_cjk(line) else 6)
            and not _ENDS_SENTENCE.search(line) and not _KEY_VALUE.search(line))
