"""Which pages of a PDF are scans, and their text by OCR (indexer.parse.ocr_pages, pages rendered by
indexer.parse.pdf_render).

A page is a scan when it draws an image and its text layer has fewer than 50 visible characters: a
scanner's stamp ("Scanned by CamScanner") or a page number is not the page's text. Its OCR'd text is used
when it has more visible characters than the text layer (a cover page with a logo and a title keeps
whichever holds more). Pages with a text layer keep it: a mixed PDF is read page by page.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from indexer.parse.ocr_options import OcrOptions
from indexer.parse.ocr_pages import read_pages
from indexer.parse.ocr_text import OcrLine, visible_chars
from indexer.parse.pdf_images import draws_image
from indexer.parse.pdf_render import open_document, render_page

SCANNED_CHARS = 50


def scanned_pages(reader: Any, pages: list[tuple[int, list[str]]]) -> list[int]:
    """The numbers of the pages that are scans (`pages`: number and text-layer lines)."""
    return [number for number, lines in pages if visible_chars(lines) < SCANNED_CHARS and draws_image(reader, number)]


def ocr_pdf_pages(path: Path, numbers: list[int], options: OcrOptions) -> dict[int, list[OcrLine]]:
    """OCR'd lines of pages `numbers` (BREAK between paragraphs, headings marked). Raises ParseError
    (indexer.parse.ocr_pages)."""
    document = open_document(path)
    try:
        return read_pages(path.name, numbers,
                          lambda n: render_page(document, path.name, n, options.dpi, options.max_pixels), options,
                          source=path)
    finally:
        document.close()
