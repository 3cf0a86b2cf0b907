"""Sentence helpers shared by the answer side (a text's script and language: indexer.script).

* `prose_sentences`: sentences of a passage, with lines wrapped by PDF or plain-text layout joined
  back first and list markers stripped (extractive answers, mined queries, drafted questions).
* `line_sentences`: sentences line by line, layout kept (passage fitting).
* `good_sentence`: a statement sentence of a useful length (tables and fragments skipped).

Both splitters cut where the chunker does (`indexer.chunk.split_sentences`: English . ! ? before a
space, Chinese 。！？；), except after a question named inside a sentence (`line_pieces`).
`rag.answering.cite.split_sentences` is different on purpose: it returns character
spans of an *answer* and keeps citation markers with the sentence they follow.
"""
from __future__ import annotations

import re

from indexer.chunk import split_sentences as chunk_sentences
from indexer.parse.line_breaks import KEY_VALUE  # noqa: F401  (re-exported: a "key: value" line; table rows in all but form)
from indexer.script import is_cjk, language  # noqa: F401  (re-exported for the answer side)
from indexer.tokenize import count_tokens

BULLET = re.compile(r"^\s*([-*•·>#|]|\d+[.)、]|[一二三四五六七八九十]+、)")
# a numbered list item's number ("2. ", "3、", "（4）"), the number in group 1 or 2, followed by the item's text
ITEM_NUMBER = re.compile(r"^\s*(?:(\d{1,2})\s*[.、．)）]|[（(](\d{1,2})[)）])\s*(?=\S)")
_LINE_END = re.compile(r"[.!?:;。！？；：]$")
_MARKUP = " \t-*#>|•·"
WRAP_MIN_CJK, WRAP_MIN_LATIN = 20, 40  # characters: shorter lines are headings or ends of paragraphs


_SENTENCE_END = (".", "!", "?", ";", ":", "。", "！", "？", "；", "：", "…")


def is_table_row(line: str) -> bool:
    """A row of a table as the parsers write them ("cell | cell", or Markdown's "| cell | cell |").
    A prose sentence that holds a shell pipe ("run dpkg -l | grep foo.") ends like a sentence and is
    not a row; a row whose cells end like sentences ("Reason we share | Does Harbor Bank share? | Can
    you limit it?") has three cells or more, each opening as a cell does (a capital, a digit, CJK), which
    the commands of a pipeline do not."""
    s = line.strip()
    if "|" not in s:
        return False
    if s.startswith("|") or s.endswith("|") or not s.endswith(_SENTENCE_END):
        return True
    cells = [c.strip() for c in s.split(" | ")]
    return len(cells) >= 3 and all(c[:1].isupper() or c[:1].isdigit() or is_cjk(c[:1]) for c in cells)


def is_heading(line: str) -> bool:
    """A short line that ends no sentence and starts no "key: value" pair: a heading ("Safe deposit boxes",
    "3. Replacement cards", "补卡"), which names a topic and says nothing of it."""
    text = line.strip()
    if _CHAPTER.match(text) and count_tokens(text) <= 20 and not _HEADING_END.search(text):
        return True  # "第 8 章 Debian 软件包管理工具", "Chapter 8 The Debian package management tools"
    return (count_tokens(text) < (8 if is_cjk(text) else 6) and not _HEADING_END.search(text)
            and not KEY_VALUE.match(text))


_HEADING_END = re.compile(r"[.!?。！？;；:：)）\]\d|]$")
_CHAPTER = re.compile(r"第\s*[\d一二三四五六七八九十百]+\s*[章节篇部]\s|(?:Chapter|Part|Section)\s+\d+(?:\.\d+)*\s+[A-Z]")


def _numbered_heading(line: str, following: str) -> bool:
    """A numbered section heading ("4. Your liability for unauthorized transactions", "2. Not sure if the
    card is lost? Lock it"): a numbered line of at most 10 words, the next opening with a capital. A
    wrapped list item is longer before it wraps, and what follows it seldom opens with a capital."""
    m = ITEM_NUMBER.match(line)
    return bool(m) and len(line[m.end():].split()) <= 10 and following[:1].isupper()


# a line opening with a Chinese date starts an entry of its own (a calendar's or timetable's line,
# "2025年11月10日至11月12日期中考试" under "...共8天"), even after a long line with no end punctuation
_DATED = re.compile(r"^(?:\d{4}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*[日号])")  # Chinese dates: "at\n10:30" wraps


def _wrapped(line: str) -> bool:
    """Long enough to have been wrapped by the layout (a PDF or plain-text line), not a heading."""
    return len(line) >= (WRAP_MIN_CJK if is_cjk(line) else WRAP_MIN_LATIN)


def join_wrapped_lines(text: str) -> list[str]:
    """Lines, with wrapped ones joined back: a line continues the previous one when that one is long
    (as wrapped lines are; a short one is a heading), did not end a sentence, and the line does not
    start a list item (a bullet, a number, or a "key: value" pair). Table rows (cells split by |) stay
    lines of their own."""
    out: list[str] = []
    prev = ""  # the previous raw line (out[-1] may hold several joined ones)
    items = 0  # "key: value" lines in a row: after two or more, a line of another kind ends the list
    for line in text.splitlines():
        line = line.strip()
        if not line:
            out.append("")
        elif (out and out[-1] and _wrapped(prev) and not _LINE_END.search(prev) and not BULLET.match(line)
              and not KEY_VALUE.match(line) and items < 2 and not is_table_row(line) and not is_table_row(prev)
              and not _numbered_heading(prev, line) and not _DATED.match(line)):
            out[-1] += ("" if is_cjk(line) else " ") + line
        else:
            out.append(line)
        items = items + 1 if KEY_VALUE.match(line) else 0
        prev = line
    return [x for x in out if x]


def prose_lines(text: str) -> list[list[str]]:
    """`prose_sentences`, line by line; a table row is one, whole ("Reason we share | Does Harbor Bank
    share? | Can you limit it?" is no two sentences)."""
    return [sents for line in join_wrapped_lines(text)
            if (sents := [s.strip(_MARKUP) for s in ([line] if is_table_row(line) else line_pieces(line))
                          if s.strip(_MARKUP)])]


# A '?' or '!' the chunker cut at that ends no sentence: a question named inside one ("(see Section 7.4, “What
# is a Debian control file?”) that comes with each package.", "详见“如何挂号？”一节。"). Quoted alone, the rest
# ("that comes with each package.") was a fragment. The chunker keeps the cut (a chunk may still end there).
_LOWER_START = re.compile(r"[a-z]")  # what follows opens in lower case: the same sentence goes on
_LATIN_END = re.compile(r"[?!][\"'”’)]*$")  # after a '?' or '!' (a Chinese 。 before "iPhone 用户" ends one)
_INNER_END = re.compile(r"[?!？！][”’」』)）]*[”’」』)）]$")  # a question or exclamation closed by quotes or brackets
_OPENERS = "“‘「『(（"


def line_pieces(line: str) -> list[str]:
    """The chunker's sentences of one line, a piece that goes on with the sentence before it joined back to it:
    one opening in lower case after a '?' or '!', or, in Chinese, one after a question or exclamation in quotes or brackets that
    open inside that sentence (one opening the sentence is a sentence of its own: "（是否免费？）是的。")."""
    out: list[str] = []
    for piece in chunk_sentences(line):
        if out and goes_on(out[-1], piece):
            out[-1] += ("" if is_cjk(piece[:1]) else " ") + piece
        else:
            out.append(piece)
    return out


def goes_on(before: str, piece: str) -> bool:
    """Does `piece`, cut from `before` after its end mark, go on with the same sentence (see line_pieces)?"""
    if _LOWER_START.match(piece) and _LATIN_END.search(before):
        return True
    return bool(_INNER_END.search(before)) and is_cjk(piece[:1]) and max(map(before.rfind, _OPENERS)) > 0


def prose_sentences(text: str) -> list[str]:
    return [s for sents in prose_lines(text) for s in sents]


def line_sentences(text: str) -> list[str]:
    return [s.strip() for line in text.splitlines() for s in line_pieces(line) if s.strip()]


def good_sentence(s: str) -> bool:
    if is_table_row(s) or sum(c.isalpha() for c in s) < 0.6 * sum(not c.isspace() for c in s):  # tables
        return False
    n = count_tokens(s)
    return 8 <= n <= 80 if is_cjk(s) else 6 <= n <= 40
