"""Large lines OCR left out as garbage, read again on their own with the languages the other way round: a
Chinese title in large type was read by the English model first and lost.

    recovered(reading, image, options, name, page, dpi) -> reading, such lines put back where they were

With `eng+chi_sim`, tesseract read a 22 pt Chinese title at 300 DPI ("江州市第一人民医院探视规定", 二号, the size of a
Chinese official notice's title) as "LIN TH SBA RE BER AA E" at confidences 0-52, left out as garbage with
either page segmentation mode, and the bank page of bench_ocr.py lost its 18 pt title when tilted or darkened;
the title's line alone, read as one line (--psm 7) with `chi_sim+eng`, came out right. A line is read again
when its type is at least TITLE_RATIO times the size of the page's body text (a signature or a photo area is
large too: read again, it stays garbage and left out), at most MAX_RETRIES lines a page (one small tesseract
run each), and only when more than one language is set. It is put back as a paragraph of its own when its
reading clears the confidence threshold (indexer.parse.ocr_text).
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from indexer.parse.ocr import recognize
from indexer.parse.ocr_headings import TITLE_RATIO, body_size
from indexer.parse.ocr_options import OcrOptions
from indexer.parse.ocr_text import BREAK, LeftOut, OcrLine, Reading, read_tsv

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_RETRIES = 3
MARGIN = 0.25  # of the line's height, around its box in the crop read again


def recovered(reading: Reading, image: "Image", options: OcrOptions, name: str, page: int | None,
              dpi: int | None) -> Reading:
    languages = options.languages.split("+")
    body = body_size(reading.lines)
    large = [gone for gone in reading.left_out if body and gone.size >= TITLE_RATIO * body][:MAX_RETRIES]
    if len(languages) < 2 or not large:
        return reading
    other = replace(options, languages="+".join(reversed(languages)), psm=7)
    lines = list(reading.lines)
    for gone in reversed(large):  # from the last: the positions before it stay right
        if (line := _read_alone(gone, image, other, name, page, dpi)) is not None:
            before = [BREAK] if gone.position > 0 and lines[gone.position - 1].text else []
            after = [BREAK] if gone.position < len(lines) and lines[gone.position].text else []
            lines[gone.position:gone.position] = [*before, line, *after]
    return replace(reading, lines=lines)


def _read_alone(gone: LeftOut, image: "Image", options: OcrOptions, name: str, page: int | None,
                dpi: int | None) -> OcrLine | None:
    """The line in `gone`'s box read on its own; None when it is garbage again."""
    pad = round(MARGIN * (gone.bottom - gone.top))
    left, top = max(0, gone.left - pad), max(0, gone.top - pad)
    with image.crop((left, top, min(image.width, gone.right + pad), min(image.height, gone.bottom + pad))) as crop:
        read = read_tsv(recognize(crop, options, name, page, dpi))
    kept = [line for line in read.lines if line.text]
    if len(kept) != 1 or read.dropped:
        return None
    return replace(kept[0], left=kept[0].left + left, right=kept[0].right + left)
