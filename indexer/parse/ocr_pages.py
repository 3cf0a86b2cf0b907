"""OCR of a file's pages, one after another, within the file's bounds (pages, total time), reporting progress.

    read_pages(name, pages, image_of, options) -> {page: lines}

`image_of(page)` gives the page's image and its resolution (None: unknown); `lines` are
indexer.parse.ocr_text's OcrLines (BREAK between paragraphs), their headings marked (indexer.parse.ocr_headings).
A page that reads as next to nothing is checked for a sideways or upside-down scan and read again upright (indexer.parse.ocr_orientation); a photo's uneven
lighting is evened out first (indexer.parse.ocr_lighting), and a page at an angle turned level
(indexer.parse.ocr_deskew). Progress (pages done / total) goes to
indexer.parse.progress, which the indexing bar shows. A page read before, as it is now and with the same
settings, is taken from the KB's OCR cache (indexer.parse.ocr_cache) instead of being read again.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.parse import ocr_reread, progress
from indexer.parse.errors import ParseError
from indexer.parse.ocr import recognize
from indexer.parse.ocr_cache_where import open_cache
from indexer.parse.ocr_deskew import straightened
from indexer.parse.ocr_headings import TITLE_RATIO, body_size, mark_headings
from indexer.parse.ocr_lighting import even_lighting
from indexer.parse.ocr_options import OcrOptions
from indexer.parse.ocr_orientation import turn_needed
from indexer.parse.ocr_text import OcrLine, Reading, read_tsv, texts, visible_chars, word_chars
from indexer.parse.ocr_titles import MARGIN, MAX_RETRIES, recovered

if TYPE_CHECKING:
    from PIL.Image import Image

# A page is checked for a sideways or upside-down scan when it gives fewer visible characters than this, or
# keeps less than this share of what tesseract read (the rest being garbage lines): a sideways notice kept one
# line of eight; an upright page with a signature and a speckled photo area beside its text kept over half.
UPRIGHT_CHARS = 20
UPRIGHT_SHARE = 0.5
PageImage = Callable[[int], "tuple[Image, int | None]"]


def read_pages(name: str, pages: Sequence[int], image_of: PageImage, options: OcrOptions,
               unit: str | None = "scanned page", source: Path | None = None) -> dict[int, list[OcrLine]]:
    """unit: what the pages are, for messages ("scanned page", "frame"); None: an image alone, without numbers.
    source: the file the pages are of (the owner of their entries in the OCR cache)."""
    units = f"{unit or 'image'}s"
    if len(pages) > options.max_pages:
        raise ParseError(f"{name} has {len(pages)} {units} to read by OCR, over "
                         f"the limit of {options.max_pages} per file (ocr_max_pages / RAG_OCR_MAX_PAGES). Split it "
                         "into smaller files, or ask an administrator to raise the limit.")
    start, out = time.monotonic(), {}
    # this module's constants, ocr_titles' and ocr_reread's: changing one reads the pages again
    steps = (UPRIGHT_CHARS, UPRIGHT_SHARE, TITLE_RATIO, MAX_RETRIES, MARGIN, *ocr_reread.SETTINGS)
    cache = open_cache(options, source, *steps) if pages else None
    try:
        for done, page in enumerate(pages):
            elapsed = time.monotonic() - start
            if elapsed > options.timeout_s:
                raise ParseError(f"{name}: OCR was stopped after {elapsed:.0f} s, {done} of its {len(pages)} {units} "
                                 f"read, over the limit of {options.timeout_s:g} s per file (ocr_timeout_s / "
                                 "RAG_OCR_TIMEOUT_S). Split it into smaller files, or ask an administrator to raise "
                                 "the limit.")
            image, dpi = image_of(page)
            try:
                key = cache.key(image, dpi) if cache else ""
                lines = cache.get(key) if cache else None
                if lines is None:
                    with even_lighting(image) as evened, straightened(evened) as level:
                        lines = _read(level, options, name, page if unit else None, dpi)
                    if cache:
                        cache.put(key, lines)
                out[page] = mark_headings(lines)  # after the cache: it keeps what OCR read, not what it means
            finally:
                image.close()
            progress.report(done + 1, len(pages))
    finally:
        if cache:
            cache.close()
    return out


def _read(image: "Image", options: OcrOptions, name: str, page: int | None, dpi: int | None) -> list[OcrLine]:
    """The page's lines; a page that reads as next to nothing, or mostly as garbage, is read again turned upright
    when it lies sideways or upside down (indexer.parse.ocr_orientation); the upright page is read again with
    options.fallback_psm when a line of it was left out (_or_fallback), and a large line left out is read again
    alone (indexer.parse.ocr_titles)."""
    tsv = recognize(image, options, name, page, dpi)
    first = read_tsv(tsv)
    kept = visible_chars(texts(first.lines))
    if kept >= UPRIGHT_CHARS and kept >= UPRIGHT_SHARE * word_chars(tsv):
        return _completed(first, image, options, name, page, dpi).lines
    if not (turn := turn_needed(image, options, name, page)):
        return _completed(first, image, options, name, page, dpi).lines
    with image.rotate(-turn, expand=True) as upright:  # PIL turns counter-clockwise
        again = _completed(read_tsv(recognize(upright, options, name, page, dpi)), upright, options, name, page,
                           dpi)
    return again.lines if visible_chars(texts(again.lines)) > kept else first.lines


def _completed(reading: Reading, image: "Image", options: OcrOptions, name: str, page: int | None,
               dpi: int | None) -> Reading:
    """`reading` or the fallback's (_or_fallback), its body lines left out for low confidence that look like text
    read again on their own (indexer.parse.ocr_reread), its large lines left out as garbage too
    (indexer.parse.ocr_titles)."""
    chosen = _or_fallback(reading, image, options, name, page, dpi)
    chosen = ocr_reread.reread(chosen, image, options, name, page, dpi, body_size(chosen.lines))
    return recovered(chosen, image, options, name, page, dpi)


def _or_fallback(reading: Reading, image: "Image", options: OcrOptions, name: str, page: int | None,
                 dpi: int | None) -> Reading:
    """`reading`, or the page read with options.fallback_psm when that keeps more characters: asked only when
    `reading` left a line out as garbage. One column of lines (--psm 4) put a Chinese line under an English one
    in the English line's paragraph and read it with the English model ("REE AS 3007." for
    "保管箱租金为每年300元。", confidence 43-53, left out); the automatic layout (--psm 3) gave it a block of its
    own and read it right."""
    if not reading.dropped or options.fallback_psm in (None, options.psm):
        return reading
    other = read_tsv(recognize(image, replace(options, psm=options.fallback_psm), name, page, dpi))
    return other if visible_chars(texts(other.lines)) > visible_chars(texts(reading.lines)) else reading
