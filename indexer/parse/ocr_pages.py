"""OCR of a file's pages, one after another, within the file's bounds (pages, total time), reporting progress.

    read_pages(name, pages, image_of, options) -> {page: lines}

`image_of(page)` gives the page's image and its resolution (None: unknown); `lines` are
indexer.parse.ocr_text's ("" between paragraphs). Progress (pages done / total) goes to
indexer.parse.progress, which the indexing bar shows.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from indexer.parse import progress
from indexer.parse.errors import ParseError
from indexer.parse.ocr import recognize
from indexer.parse.ocr_options import OcrOptions
from indexer.parse.ocr_text import ocr_lines

if TYPE_CHECKING:
    from PIL.Image import Image

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
            out[page] = ocr_lines(recognize(image, options, name, page if unit else None, dpi))
        finally:
            image.close()
        progress.report(done + 1, len(pages))
    return out
