"""Over-long lines of plain text and Markdown, cut into pieces of bounded size before partitioning.

A text file of 2.6 MB on a single line was one paragraph to `unstructured`, which ran spaCy over it
(~30 s and ~3 GB per million characters) and the parser sandbox stopped it at its 1024 MB. A line
(a paragraph, once `unstructured` has grouped the lines of a plain-text file) longer than
MAX_LINE_CHARS is cut into pieces of at most that many characters, near-equal in size so that none
is a short scrap, each cut after the last sentence end (. ! ? 。！？) within the second half of its
piece, else at the last whitespace there, else (Chinese without punctuation, a run of symbols)
right at the size. Every piece is a paragraph of its own. Lines up to the size are left alone, so
what ordinary files parse to is unchanged (no line in the sample and domain documents is longer
than 3,500 characters).
"""
from __future__ import annotations

import re

MAX_LINE_CHARS = 20_000
# a sentence ends after . ! ? (and closing quotes or brackets) before whitespace, or after 。！？
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s)|[。！？][”’」』）)]*")
_SPACE = re.compile(r"\s+")


def cut_line(line: str, max_chars: int = MAX_LINE_CHARS) -> list[str]:
    """`line` in pieces of at most `max_chars` characters (stripped; the whitespace at a cut is dropped)."""
    pieces: list[str] = []
    start = 0
    while len(line) - start > max_chars:
        left = len(line) - start
        size = -(-left // -(-left // max_chars))  # the pieces still to cut, of equal size
        window = line[start + size // 2:start + size]
        end = _last(_SENTENCE_END, window)
        if end is None:
            space = _last(_SPACE, window, start_of_match=True)
            end = space if space is not None else len(window)
        end += start + size // 2
        piece = line[start:end].strip()
        if piece:
            pieces.append(piece)
        start = end
    tail = line[start:].strip()
    if tail:
        pieces.append(tail)
    return pieces


def _last(pattern: re.Pattern[str], text: str, start_of_match: bool = False) -> int | None:
    """Where the last match of `pattern` in `text` ends (or starts), None if there is none."""
    last = None
    for last in pattern.finditer(text):
        pass
    if last is None:
        return None
    return last.start() if start_of_match else last.end()


def bound_lines(text: str, max_chars: int = MAX_LINE_CHARS) -> str:
    """`text` with every line longer than `max_chars` cut into pieces (`cut_line`) separated by a blank
    line; `text` itself when no line is that long."""
    if len(text) <= max_chars:
        return text
    lines = text.split("\n")
    if all(len(line) <= max_chars for line in lines):
        return text
    return "\n".join("\n\n".join(cut_line(line, max_chars)) if len(line) > max_chars else line
                     for line in lines)
