"""Headings on a scanned page: which of OCR's lines (indexer.parse.ocr_text) head the text under them, so that a
scan's chunks get section titles ("一、探视时间", "Visiting Hours > ICU") as its text-layer or Markdown twin does.

    mark_headings(lines) -> lines, a heading's `heading` set to its level (1 = a title), a title's lines joined
    opened(path, level, text) -> the heading path [(level, text), ...] under a heading just read
    body_size(lines) -> the size of the page's body text

OCR gives no bold and no font, only where each line is and how large its type is. A line is a heading when it is
heading-shaped (at most 50 characters and 12 words, a letter or CJK character, not ending like a sentence or a
lead-in: . ! ? ; : , 。！？；：，、, not a table row) and one of:

- size: its type at least 1.3 times the size of the page's body text (the size covering most characters; sizes
  by indexer.parse.ocr_text_size): a title, level 1; the lines of one paragraph in a row at that size are one
  title (two lines of a hospital's name and the rules' name);
- number: it opens with a heading's number, level 3 and below by kind, outermost first: 第一编 / 第一章 / 第一节 /
  第一条, 一、, （一）, then 1. or 1、, 1.1, 1.1.1, (1). The Chinese kinds stand on their line ("一、探视时间" over
  its text); a digit's kind must also end its paragraph and follow a sentence's end or a paragraph break
  ("1. Report it straight away" with blank lines around it), as "1. 打开手机银行App" in a list of steps does not;
- alone: a paragraph of its own, followed by a body paragraph, ending before 70% of the page's text width
  ("Ways to pay", "GRADING SCALES"), and not under another short line that is no heading (the last of a list:
  tesseract makes each line of "A: 86-100%", "B: 73-85%" a paragraph), level 2.

Conservative, as a false heading cuts a paragraph in two: a numbered or lone line must end before 70% of the
page's text width (the first line of a long item wrapped at the margin does not), and numbered lines in a row
with no body between them are a list's items, not headings (a list of documents "一、身份证" "二、户口本"). Chosen on
bench/bench_ocr_headings.py's pages (docs/ocr.md).
"""
from __future__ import annotations

import re
from dataclasses import replace

from indexer.parse.cjk_spacing import join_cjk
from indexer.parse.ocr_text import BREAK, OcrLine
from indexer.parse.sentence_end import ENDS_LIKE_SENTENCE

TITLE_RATIO = 1.3  # a title's type is at least this many times the size of the page's body text
SHORT = 0.7  # a heading at body size ends before this share of the page's text width
MAX_CHARS = 50
MAX_WORDS = 12
TITLE, ALONE, NUMBERED = 1, 2, 3  # levels: a numbered heading's is NUMBERED + its kind's place in _NUMBERS

_CN = "一二三四五六七八九十百零〇"
_NUMBERS = [re.compile(p) for p in (
    rf"第[{_CN}\d]+[编篇部](?![分份])", rf"第[{_CN}\d]+章", rf"第[{_CN}\d]+节", rf"第[{_CN}\d]+条",
    rf"[{_CN}]+[、．.]", rf"[（(][{_CN}]+[)）]",
    r"\d{1,2}[.．、](?![\d%])\s*", r"\d{1,2}\.\d{1,2}(?![.\d%])\s*", r"\d{1,2}\.\d{1,2}\.\d{1,2}(?![.\d%])\s*",
    r"[（(]\d{1,2}[)）]")]
_CHINESE_KINDS = 6  # the first six kinds of _NUMBERS are Chinese; the rest are digits
_WORDY = re.compile(r"[^\W\d_]")  # a letter or CJK character


def mark_headings(lines: list[OcrLine]) -> list[OcrLine]:
    """`lines` (one page's, BREAK between paragraphs) with their headings marked (OcrLine.heading)."""
    body = body_size(lines)
    width = _text_width(lines)
    if not body or not width:
        return lines
    kinds = [_number_kind(line.text) for line in lines]
    out: list[OcrLine] = []
    for i, line in enumerate(lines):
        level = _level(lines, kinds, i, body, width)
        if level == ALONE and _listed(out, width):
            level = 0
        previous = out[-1] if out else BREAK
        if level == TITLE and previous.heading == TITLE:  # the next line of a title, in the same paragraph
            out[-1] = replace(previous, text=join_cjk(f"{previous.text} {line.text}"), right=line.right)
            continue
        out.append(replace(line, heading=level) if level else line)
    return out


def opened(path: list[tuple[int, str]], level: int, text: str) -> list[tuple[int, str]]:
    """The heading path once a heading of `level` opens: the headings of lower levels above it stay (levels
    have gaps: "二、" (level 7) under a title (1) replaces "一、", not the title)."""
    return [(above, said) for above, said in path if above < level] + [(level, text)]


def section(path: list[tuple[int, str]]) -> str:
    return " > ".join(text for _, text in path)


def _level(lines: list[OcrLine], kinds: list[int | None], i: int, body: int, width: int) -> int:
    line = lines[i]
    if not _heading_shaped(line.text):
        return 0
    if line.size >= TITLE_RATIO * body:
        return TITLE
    short = line.right - line.left <= SHORT * width
    ends = i + 1 == len(lines) or not lines[i + 1].text  # its paragraph
    kind = kinds[i]
    if kind is not None:
        listed = kind in (_neighbour_kind(lines, kinds, i, -1), _neighbour_kind(lines, kinds, i, 1))
        # tesseract may put a numbered heading in the paragraph of the sentence above it, not under it
        after_sentence = i == 0 or not lines[i - 1].text or ENDS_LIKE_SENTENCE.search(lines[i - 1].text) is not None
        if short and not listed and (kind < _CHINESE_KINDS or (after_sentence and ends)):
            return NUMBERED + kind
        return 0
    alone = _starts_paragraph(lines, i) and ends
    after = _next_paragraph(lines, i)
    if short and alone and after is not None and not _heading_shaped(lines[after].text):
        return ALONE
    return 0


def _listed(before: list[OcrLine], width: int) -> bool:
    """Is the line of text before (breaks passed over) short, heading-shaped and not a heading: the line after
    it is then the last of a list ("1 - Beginning" under "2 - Approaching expectations", "F: below 50%" under
    "C-: 50-59%"; tesseract makes each such line a paragraph)."""
    previous = next((line for line in reversed(before) if line.text), None)
    return (previous is not None and not previous.heading and _heading_shaped(previous.text)
            and previous.right - previous.left <= SHORT * width)


def _heading_shaped(text: str) -> bool:
    return (0 < len(text) <= MAX_CHARS and len(text.split()) <= MAX_WORDS and _WORDY.search(text) is not None
            and ENDS_LIKE_SENTENCE.search(text) is None and " | " not in text)


def _number_kind(text: str) -> int | None:
    """Which of _NUMBERS opens `text` (with words after it), or None."""
    for kind, number in enumerate(_NUMBERS):
        if (m := number.match(text)) and _WORDY.search(text, m.end()):
            return kind
    return None


def _neighbour_kind(lines: list[OcrLine], kinds: list[int | None], i: int, step: int) -> int | None:
    """The number kind of the line of text before (step -1) or after (+1) line i, breaks passed over."""
    j = i + step
    while 0 <= j < len(lines) and not lines[j].text:
        j += step
    return kinds[j] if 0 <= j < len(lines) else None


def _starts_paragraph(lines: list[OcrLine], i: int) -> bool:
    return i == 0 or not lines[i - 1].text


def _next_paragraph(lines: list[OcrLine], i: int) -> int | None:
    """The first line of the paragraph after line i's, when line i ends its paragraph."""
    if i + 1 < len(lines) and lines[i + 1].text:
        return None
    j = i + 1
    while j < len(lines) and not lines[j].text:
        j += 1
    return j if j < len(lines) else None


def body_size(lines: list[OcrLine]) -> int:
    """The type size covering most of the page's characters (the median, each line weighted by its length)."""
    sized = sorted((line.size, len(line.text)) for line in lines if line.text)
    half, seen = sum(n for _, n in sized) / 2, 0
    for size, n in sized:
        seen += n
        if seen >= half:
            return size
    return 0


def _text_width(lines: list[OcrLine]) -> int:
    """From the leftmost line start to the rightmost line end."""
    placed = [line for line in lines if line.text]
    return max((line.right for line in placed), default=0) - min((line.left for line in placed), default=0)
