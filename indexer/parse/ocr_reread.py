"""Body lines OCR left out for low confidence alone, read a second time on their own at the size tesseract reads
best: a scanned PDF's ordinary line was lost while the same page as an image read fine.

    reread(reading, image, options, name, page, dpi) -> reading, such lines put back where they were

A 150 DPI scan of a hospital's notice, its PDF page rendered at 300 DPI (16 pt type, an em of about 80 px), had
"办理入院需带：" read by the English model as "DIE ART :" at confidence 39 and left out as garbage (the cut, 60,
is indexer.parse.ocr_text's); the same page as a PNG kept it. The line's crop alone, scaled to an em of TARGET_EM
px and read as one line (--psm 7), came out right and confident. A line is read again only when it looks like
text, not like noise (a stamp, a scribble, a photo's speckles): its type the size of the page's body text
(within SIZE_RANGE of it: larger lines are indexer.parse.ocr_titles' to read again), at least LETTER_SHARE of its
characters letters or ideographs, and at least EVEN_SHARE of its words of one size (within EVEN_SIZE of the
line's): tesseract's noise lines mix word boxes of 2 to 135 px ("NN : co = cee Boe ="). It is put back only when
the second reading is one line that clears the confidence threshold; at most MAX_REREADS lines a page, one small
tesseract run each.
"""
from __future__ import annotations

import statistics
from dataclasses import replace
from typing import TYPE_CHECKING

from indexer.parse.ocr import recognize
from indexer.parse.ocr_options import OcrOptions
from indexer.parse.ocr_text import LeftOut, OcrLine, Reading, read_tsv
from indexer.parse.ocr_text_size import word_ems

if TYPE_CHECKING:
    from PIL.Image import Image

TARGET_EM = 40  # px: a size tesseract reads body type well at; the lost line (an em of 82 px) read right halved
SIZE_RANGE = (0.8, 1.3)  # times the page's body size: 1.3 is ocr_headings' TITLE_RATIO
LETTER_SHARE = 0.75
EVEN_SHARE, EVEN_SIZE = 0.75, 0.3
MAX_REREADS = 5
MARGIN = 0.25  # of the line's height, around its box in the crop read again
SETTINGS = (TARGET_EM, *SIZE_RANGE, LETTER_SHARE, EVEN_SHARE, EVEN_SIZE, MAX_REREADS, MARGIN)  # OCR cache key


def looks_like_text(gone: LeftOut, body: int) -> bool:
    """Whether a line left out looks like a body line misread rather than noise (see the module's notes)."""
    if not body or not SIZE_RANGE[0] * body <= gone.size < SIZE_RANGE[1] * body:
        return False
    chars = [ch for ch in gone.text if not ch.isspace() and ch != "|"]
    if not chars or sum(ch.isalpha() for ch in chars) < LETTER_SHARE * len(chars):
        return False
    ems = word_ems(list(gone.words))
    if not ems:
        return False
    middle = statistics.median(ems)
    return sum(abs(em - middle) <= EVEN_SIZE * middle for em in ems) >= EVEN_SHARE * len(ems)


def reread(reading: Reading, image: "Image", options: OcrOptions, name: str, page: int | None,
           dpi: int | None, body: int) -> Reading:
    """`reading` with its text-like body lines left out read again (looks_like_text); the lines still left out
    keep their places among the lines (positions moved past the lines put back)."""
    chosen = [gone for gone in reading.left_out if looks_like_text(gone, body)][:MAX_REREADS]
    if not chosen:
        return reading
    lines, put_back = list(reading.lines), []
    for gone in reversed(chosen):  # from the last: the positions before it stay right
        if (line := _read_alone(gone, image, options, name, page, dpi)) is not None:
            lines[gone.position:gone.position] = [line]
            put_back.append(gone)
    left = tuple(replace(gone, position=gone.position + sum(1 for back in put_back if back.position <= gone.position))
                 for gone in reading.left_out if gone not in put_back)
    return Reading(lines, len(left), left)


def _read_alone(gone: LeftOut, image: "Image", options: OcrOptions, name: str, page: int | None,
                dpi: int | None) -> OcrLine | None:
    """The line in `gone`'s box, scaled to TARGET_EM, read as one line; None when that is no confident line."""
    from PIL import Image

    pad = round(MARGIN * (gone.bottom - gone.top))
    left, top = max(0, gone.left - pad), max(0, gone.top - pad)
    scale = TARGET_EM / gone.size
    with image.crop((left, top, min(image.width, gone.right + pad), min(image.height, gone.bottom + pad))) as crop, \
            crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
                        Image.Resampling.LANCZOS) as scaled:
        read = read_tsv(recognize(scaled, replace(options, psm=7), name, page,
                                  round(dpi * scale) if dpi else None))
    kept = [line for line in read.lines if line.text]
    if len(kept) != 1 or read.dropped:
        return None
    return OcrLine(kept[0].text, gone.left, gone.right, gone.size)
