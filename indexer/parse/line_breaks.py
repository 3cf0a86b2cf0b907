"""The line breaks of a plain-text paragraph that carry structure, which `unstructured` joins away.

partition_text gives each block of lines (up to a blank line) as one element with its lines joined by
spaces. A heading on the line above its text ("Your bill" over "After a hospital stay ...") then runs
into the first sentence, and list items into each other ("Ways to pay - Online at ... - By phone: ...
- In person: ..."): an answer quoting the first sentence quoted "Your bill After a hospital stay ...",
and a list item could not be told from the one before it. Here such breaks are put back, and only
those: a line after a heading-like line (short, ending no sentence, no "key: value" pair), a line
opening a list item (a bullet or a number), and a "key: value" line after another (a calendar's
"Winter break: ..." over "Spring break: ...": joined, ten dates were one 500-character sentence that
no answer could quote). A line wrapped by the layout stays joined, so elements,
chunks and what is searched stay as they were (whitespace aside); the answer side reads lines.

Chinese is not wrapped by hand: a line break next to Chinese text (a line ending in a Chinese character or
full-width punctuation, or starting with a Chinese character) is kept, so a list of unpunctuated lines
("2025年11月10日至11月12日期中考试" over "2026年1月19日期末考试") is not read as one sentence. Only a block
that looks wrapped (three lines or more, all but the last of one length) is joined, and Chinese joins
Chinese without a space: a space is put only between two Latin words. Markdown and HTML paragraphs (whose
soft line breaks unstructured joins with a space, "每次探视人数不超过2人。 ICU探视…") go through the same
rules, against their text with the tags taken out (`html_source_text`).
"""
from __future__ import annotations

import re

from indexer.parse.sentence_end import ENDS_LIKE_SENTENCE
from indexer.script import is_cjk
from indexer.tokenize import count_tokens

# a list item's opening: a bullet, "2." / "2)" / "2、", "一、", "（3）"
LIST_ITEM = re.compile(r"^(?:[-*•·]\s|\d{1,2}[.)、．]\s*\S|[一二三四五六七八九十]+、|[（(](?:\d{1,2}|[一二三四五六七八九十]+)[)）])")
# a heading ends no sentence and holds no "key: value" pair
_KEY_VALUE = re.compile(r"[:：]\s*\S")
# a line of a "key: value" list ("周六、周日：10:00—16:00", "Spring break: Monday 31 March to Friday 11 April
# 2025", "ATM outside the United States: $5.00 per withdrawal"): group 1 the key, group 2 what follows it.
# Such lines in a row are a list, each an item (rag.text reads them as table rows in all but form)
KEY_VALUE = re.compile(r"^\s*(?:[-*•]\s*)?([^\s:：|。，.!?]{1,20}(?=：)|[A-Z][\w ,'/&()-]{0,59}(?=:\s))[:：]\s*(.*)$")
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
    """`text` with its words laid out as in `span`, where a kept break falls; `text` itself when none does
    and no Chinese was joined to Chinese by a space."""
    lines = [line for line in (" ".join(raw.split()) for raw in span.splitlines()) if line]
    wrapped = _wrapped_block(lines)
    pairs = [bool(KEY_VALUE.match(line)) for line in lines]
    # a "key: value" line opening a list of them, or in one (the line before or after it is one too)
    listed = [pair and ((i > 0 and pairs[i - 1]) or (i + 1 < len(lines) and pairs[i + 1])) for i, pair in enumerate(pairs)]
    # ... and the line after the list's last item, when it opens a sentence of its own (a capital letter)
    ends = [listed[i - 1] and not pairs[i] and line[:1].isupper() for i, line in enumerate(lines) if i]
    breaks = [_heading_like(prev) or bool(LIST_ITEM.match(line))
              or (not wrapped and (_chinese_edge(prev, line) or listed[i] or ends[i - 1]))
              for i, (prev, line) in enumerate(zip(lines, lines[1:]), 1)]
    glued = [not kept and _cjk_end(prev) and _cjk_start(line)
             for prev, line, kept in zip(lines, lines[1:], breaks)]
    if not any(breaks) and not any(glued):
        return text
    out = lines[0]
    for line, kept, glue in zip(lines[1:], breaks, glued):
        out += ("\n" if kept else "" if glue else " ") + line
    return out


# Chinese characters and full-width punctuation (。，；：！？、（）“” …): what joins Chinese without a space
_CJK_SIDE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef—…“”‘’]")


def _cjk_end(line: str) -> bool:
    return bool(line) and bool(_CJK_SIDE.match(line[-1]))


def _cjk_start(line: str) -> bool:
    return bool(line) and bool(_CJK_SIDE.match(line[0]))


def _chinese_edge(prev: str, line: str) -> bool:
    """A line break with Chinese on one side of it (see the module doc): kept."""
    return _cjk_end(prev) or (_cjk_start(line) and is_cjk(line))


def _wrapped_block(lines: list[str]) -> bool:
    """Three lines or more, all but the last of the same length (within two characters) and none of them
    ending a sentence: text wrapped at a fixed width, whose breaks are layout."""
    body = lines[:-1]
    if len(body) < 2:
        return False
    return (max(map(len, body)) - min(map(len, body)) <= 2
            and not any(ENDS_LIKE_SENTENCE.search(line) for line in body))


_TAG = re.compile(r"<[^>]*>")
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)


def html_source_text(html: str) -> str:
    """The text of `html` with its line breaks (source newlines and <br>) where they are, tags taken out
    (each as a space), entities decoded: what keep_line_breaks finds an HTML element's words in."""
    import html as html_lib

    return html_lib.unescape(_TAG.sub(" ", _BREAK_TAG.sub("\n", html)))


def _heading_like(line: str) -> bool:
    """Short (under 6 words, 8 tokens in Chinese: "Payment plans", "一、探视时间"), ending no sentence and holding
    no "key: value" pair. Unlike rag.text.is_heading (the answer side, which indexer may not import), a line
    ending in ")" or a digit counts: "Paying for yourself (self-pay)" heads its paragraph."""
    return (count_tokens(line) < (8 if is_cjk(line) else 6)
            and not ENDS_LIKE_SENTENCE.search(line) and not _KEY_VALUE.search(line))
