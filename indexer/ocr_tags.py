"""A document whose text was read by OCR says so in its tags, which every search hit carries (`tags`), so a
reader can tell that a citation came from a scan, and `--tag ocr=yes` finds (or a filter leaves out) them.

    ocr: "yes"            some of the document's text was read from images by OCR
    ocr_pages: "1-3,5"    which pages (PDFs, multi-page TIFFs; an image alone has none)

The tags the user gives win over these; a document indexed again with the same tags is unchanged
(`given_tags` leaves ours out of the comparison).
"""
from __future__ import annotations

from indexer.types import Element

OCR_TAG = "ocr"
OCR_PAGES_TAG = "ocr_pages"


def ocr_tags(elements: list[Element]) -> dict[str, str]:
    if not any(e.ocr for e in elements):
        return {}
    pages = sorted({e.page for e in elements if e.ocr and e.page is not None})
    return {OCR_TAG: "yes", **({OCR_PAGES_TAG: _ranges(pages)} if pages else {})}


def with_ocr_tags(elements: list[Element], given: dict[str, str]) -> dict[str, str]:
    return {**ocr_tags(elements), **given}


def given_tags(stored: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """The stored tags without the OCR tags that indexing added (those the user gave stay)."""
    return {k: v for k, v in stored.items() if k in given or k not in (OCR_TAG, OCR_PAGES_TAG)}


def _ranges(pages: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3,5'"""
    out: list[str] = []
    start = prev = pages[0]
    for page in [*pages[1:], None]:
        if page is not None and page == prev + 1:
            prev = page
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if page is not None:
            start = prev = page
    return ",".join(out)
