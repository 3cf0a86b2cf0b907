"""A PDF page as a grayscale image for OCR (pypdfium2), at a bounded resolution.

    render_page(document, number, dpi, max_pixels) -> (image, dpi used)

The page is rendered at `dpi` (300: what tesseract reads best), lower when that would exceed `max_pixels`
(a poster-sized or hostile page box); a page that would need less than 100 DPI to fit is refused, as OCR at
that resolution reads nothing useful.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer.parse.errors import ParseError

if TYPE_CHECKING:
    from PIL.Image import Image

_MIN_DPI = 100


def open_document(path: Path) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise ParseError(f"{path.name}: its scanned pages could not be rendered for OCR ({exc}). The file may be "
                         "damaged; try printing it to a new PDF.") from None


def render_page(document: Any, name: str, number: int, dpi: int, max_pixels: int) -> "tuple[Image, int]":
    page = document[number - 1]
    try:
        width, height = page.get_size()  # points (1/72 inch)
        area = max(width * height, 1.0) / 72 / 72  # square inches
        fit = math.floor(math.sqrt(max_pixels / area))
        if fit < _MIN_DPI:
            raise ParseError(f"{name}: page {number} is {width / 72:.0f} x {height / 72:.0f} inches, too large to "
                             f"read by OCR within {max_pixels:,} pixels (ocr_max_pixels / RAG_OCR_MAX_PIXELS) at "
                             f"{_MIN_DPI} DPI or more. Split or rescale the page, or ask an administrator to raise "
                             "the limit.")
        used = min(dpi, fit)
        bitmap = page.render(scale=used / 72, grayscale=True)
        return bitmap.to_pil(), used
    finally:
        page.close()
