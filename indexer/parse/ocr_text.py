"""Tesseract's TSV -> the page's lines, paragraphs apart, low-confidence garbage left out.

    ocr_lines(tsv) -> ["Card Services Fee Notice", "", "The fee is $29 per card.", ...]   ("" = paragraph break)
    read_tsv(tsv) -> Reading(lines, dropped, left_out)   (the same lines as OcrLine, with where they sit and the
                          size of their type; how many lines were left out as garbage, and where those were)

Layout: tesseract's TSV gives each word with its block, paragraph and line; a page's words are joined into its
lines in that order, a blank line between paragraphs (and blocks), so headings, list items and table rows
stay lines of their own as far as tesseract found them. Within a line, words more than twice the line's (median)
word height apart are in different cells of a table or form ("办理渠道 | 办理时间 | 说明"), joined by " | " as the
rows of the other formats' tables are: without it, removing the spaces between Chinese words ran the cells of a
row together ("办理渠道办理时间说明"). Chinese spacing: indexer.parse.cjk_spacing.

Garbage: a line whose mean word confidence (weighted by characters) is under 60 is left out, and so is a line
with no letter, digit or CJK character. Chosen on generated scans: the lines tesseract read from a signature
scribble, a speckled photo area and stray strokes had means of 8-47 (pieces like "ee AE \\A ; v4"), real lines
of a clean page 93-97 and of a blurred, low-contrast, speckled, tilted one at half the resolution 82-96. A
threshold per word would lose real characters of degraded Chinese lines (a "元" read right at 23, "请" at 55).
"""
from __future__ import annotations

from dataclasses import dataclass

from indexer.parse.cjk_spacing import join_cjk
from indexer.parse.ocr_text_size import text_size

MIN_LINE_CONFIDENCE = 60.0


CELL_GAP = 2.0  # a gap between two words wider than this many times the line's word height parts cells


@dataclass(frozen=True)
class _Word:
    text: str
    confidence: float
    left: int
    right: int
    height: int
    top: int = 0


@dataclass
class _Line:
    paragraph: tuple[str, str, str]  # page, block, paragraph
    words: list[_Word]

    @property
    def confidence(self) -> float:
        chars = sum(len(w.text) for w in self.words)
        return sum(len(w.text) * max(w.confidence, 0.0) for w in self.words) / max(chars, 1)

    @property
    def text(self) -> str:
        """The words joined by spaces, Chinese without them; cells (wide gaps) apart by ' | '."""
        heights = sorted(w.height for w in self.words)
        gap = CELL_GAP * heights[len(heights) // 2]
        cells: list[list[str]] = [[]]
        for before, word in zip([None, *self.words], self.words):
            if before is not None and word.left - before.right > gap:
                cells.append([])
            cells[-1].append(word.text)
        return " | ".join(join_cjk(" ".join(cell)) for cell in cells)

    def box(self, text: str) -> tuple[int, int, int]:
        """Where the line starts and ends across the page, and the size of its type (indexer.parse.ocr_text_size)."""
        left, right = self.words[0].left, self.words[-1].right
        return left, right, text_size([(w.text, w.height) for w in self.words], right - left, text)

    def left_out(self, position: int) -> "LeftOut":
        text = self.text
        _, _, size = self.box(text)
        return LeftOut(position, self.words[0].left, min(w.top for w in self.words), self.words[-1].right,
                       max(w.top + w.height for w in self.words), size, text,
                       tuple((w.text, w.height) for w in self.words))


@dataclass(frozen=True)
class OcrLine:
    """A line OCR read: its text ("" for a paragraph break) and, in pixels, where it starts and ends across the
    page and the size of its type (its em: indexer.parse.ocr_text_size); indexer.parse.ocr_headings tells
    headings by them. `heading`: 0 for body text, else the heading's level (1 = a title), set by
    indexer.parse.ocr_headings."""

    text: str
    left: int = 0
    right: int = 0
    size: int = 0
    heading: int = 0


BREAK = OcrLine("")


@dataclass(frozen=True)
class LeftOut:
    """A line left out as garbage: where it would stand among the lines kept (the index it would have), its box
    on the page (pixels) and the size of its type as read (indexer.parse.ocr_titles reads large ones again), its text
    and its words with their heights as read (indexer.parse.ocr_reread tells text from noise by them)."""

    position: int
    left: int
    top: int
    right: int
    bottom: int
    size: int
    text: str = ""
    words: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Reading:
    """A page's lines (BREAK between paragraphs) and how many lines with a letter, digit or CJK character were
    left out as garbage (under the confidence threshold), with where they were."""

    lines: list[OcrLine]
    dropped: int
    left_out: tuple[LeftOut, ...] = ()


def texts(lines: list[OcrLine]) -> list[str]:
    return [line.text for line in lines]


def ocr_lines(tsv: str, min_confidence: float = MIN_LINE_CONFIDENCE) -> list[str]:
    return texts(read_tsv(tsv, min_confidence).lines)


def read_tsv(tsv: str, min_confidence: float = MIN_LINE_CONFIDENCE) -> Reading:
    lines: dict[tuple[str, ...], _Line] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t", 11)
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip(" |"):  # "|": a table's rule read as a word
            continue
        try:
            left, top, width, height = int(cells[6]), int(cells[7]), int(cells[8]), int(cells[9])
            confidence = float(cells[10])
        except ValueError:
            continue
        key = (cells[1], cells[2], cells[3], cells[4])
        word = _Word(cells[11].strip(), confidence, left, left + width, height, top)
        lines.setdefault(key, _Line((cells[1], cells[2], cells[3]), [])).words.append(word)
    out: list[OcrLine] = []
    left_out: list[LeftOut] = []
    previous: tuple[str, str, str] | None = None
    for line in lines.values():
        text = line.text
        if not any(ch.isalnum() for ch in text):
            continue
        if line.confidence < min_confidence:
            left_out.append(line.left_out(len(out)))
            continue
        if previous is not None and line.paragraph != previous:
            out.append(BREAK)
        out.append(OcrLine(text, *line.box(text)))
        previous = line.paragraph
    return Reading(out, len(left_out), tuple(left_out))


def word_chars(tsv: str) -> int:
    """Characters of all the words tesseract read, kept or not."""
    return sum(len(cells[11].strip()) for row in tsv.splitlines()[1:]
               if len(cells := row.split("\t", 11)) == 12 and cells[0] == "5")


def visible_chars(lines: list[str]) -> int:
    """Characters of `lines` other than white space (what a reader sees of a page)."""
    return sum(1 for line in lines for ch in line if not ch.isspace())
