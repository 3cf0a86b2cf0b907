"""OCR of a file's pages, one after another, within the file's bounds (pages, total time), reporting progress.

    read_pages(name, pages, image_of, options) -> {page: lines}

`image_of(page)` gives the page's image and its resolution (None: unknown); `lines` are
indexer.parse.ocr_text's ("" between paragraphs). A page that reads as next to nothing is checked for a
sideways or upside-down scan and read again upright (indexer.parse.ocr_orientation); a photo's uneven
lighting is evened out first (indexer.parse.ocr_lighting), and a page at an angle turned level
(indexer.parse.ocr_deskew). Progress (pages done / total) goes to
indexer.parse.progress, which the indexing bar shows.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from indexer.parse import progress
from indexer.parse.errors import ParseError
from indexer.parse.ocr import recognize
from indexer.parse.ocr_deskew import straightened
from indexer.parse.ocr_lighting import even_lighting
from indexer.parse.ocr_options import OcrOptions
from indexer.parse.ocr_orientation import turn_needed
from indexer.parse.ocr_text import ocr_lines, visible_chars, word_chars

if TYPE_CHECKING:
    from PIL.Image import Image

# A page is checked for a sideways or upside-down scan when it gives fewer visible characters than this, or
# keeps less than this share of what tesseract read (the rest being garbage lines): a sideways notice kept one
# line of eight; an upright page with a signature and a speckled photo area beside its text kept over half.
UPRIGHT_CHARS = 20
UPRIGHT_SHARE = 0.5
PageImage = Callable[[int], "tuple[Image, int | None]"]


def read_pages(name: str, pages: Sequence[int], image_of: PageImage, options: OcrOptions,
               unit: str | None = "scanned page") -> dict[int, list[str]]:
    """unit: what the pages are, for messages ("scanned page", "frame"); None: an image alone, without numbers."""
    units = f"{unit or 'image'}s"
    if len(pages) > options.max_pages:
        raise ParseError(f"{name} has {len(pages)} {units} to read by OCR, over "
                         f"the limit of {options.max_pages} per file (ocr_max_pages / RAG_OCR_MAX_PAGES). Split it "
                         "into smaller files, or ask an administrator to raise the limit.")
    start, out = time.monotonic(), {}
    for done, page in enumerate(pages):
        elapsed = time.monotonic() - start
        if elapsed > options.timeout_s:
            raise ParseError(f"{name}: OCR was stopped after {elapsed:.0f} s, {done} of its {len(pages)} {units} "
                             f"read, over the limit of {options.timeout_s:g} s per file (ocr_timeout_s / "
                             "RAG_OCR_TIMEOUT_S). Split it into smaller files, or ask an administrator to raise "
                             "the limit.")
        image, dpi = image_of(page)
        try:
            with even_lighting(image) as evened, straightened(evened) as level:
                out[page] = _read(level, options, name, page if unit else None, dpi)
        finally:
            image.close()
        progress.report(done + 1, len(pages))
    return out


def _read(image: "Image", options: OcrOptions, name: str, page: int | None, dpi: int | None) -> list[str]:
    """The page's lines; a page that reads as next to nothing, or mostly as garbage, is read again turned upright
    when it lies sideways or upside down (indexer.parse.ocr_orientation)."""
    tsv = recognize(image, options, name, page, dpi)
    lines = ocr_lines(tsv)
    kept = visible_chars(lines)
    if kept >= UPRIGHT_CHARS and kept >= UPRIGHT_SHARE * word_chars(tsv):
        return lines
    if not (turn := turn_needed(image, options, name, page)):
        return lines
    with image.rotate(-turn, expand=True) as upright:  # PIL turns counter-clockwise
        again = ocr_lines(recognize(upright, options, name, page, dpi))
    return again if visible_chars(again) > visible_chars(lines) else lines

