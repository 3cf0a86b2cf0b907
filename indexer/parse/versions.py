"""Which parser read a document: its format, the version of that format's parser, and for PDFs and images
whether OCR could run and which version of it.

    stamp_for(extension, ocr_ready) -> ParserStamp      # what reading a file now would record
    ParserStamp.parse(text) -> ParserStamp | None       # what a document's record says ("pdf.1.ocr1")

Each parser keeps its version beside its code (PARSER_VERSION in pdf.py and images.py, PARSER_VERSIONS in
unstructured_docs.py, CSV_/XLSX_PARSER_VERSION in tabular.py, OCR_VERSION in ocr.py) and raises it when what it
gives for a file changes; indexer.reread decides from two stamps whether a file is read again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.parse.images import IMAGE_EXTENSIONS
from indexer.parse.images import PARSER_VERSION as IMAGE_VERSION
from indexer.parse.ocr import OCR_VERSION
from indexer.parse.pdf import PARSER_VERSION as PDF_VERSION
from indexer.parse.tabular import CSV_PARSER_VERSION, XLSX_PARSER_VERSION
from indexer.parse.unstructured_docs import PARSER_VERSIONS

# extension -> (format, its parser's version, whether OCR reads (part of) such a file)
_FORMATS: dict[str, tuple[str, int, bool]] = {
    **dict.fromkeys((".md", ".markdown"), ("markdown", PARSER_VERSIONS["markdown"], False)),
    **dict.fromkeys((".html", ".htm"), ("html", PARSER_VERSIONS["html"], False)),
    **dict.fromkeys((".txt", ".text"), ("text", PARSER_VERSIONS["text"], False)),
    ".docx": ("docx", PARSER_VERSIONS["docx"], False),
    ".pptx": ("pptx", PARSER_VERSIONS["pptx"], False),
    ".pdf": ("pdf", PDF_VERSION, True),
    **dict.fromkeys((".csv", ".tsv"), ("csv", CSV_PARSER_VERSION, False)),
    ".xlsx": ("xlsx", XLSX_PARSER_VERSION, False),
    **dict.fromkeys(IMAGE_EXTENSIONS, ("image", IMAGE_VERSION, True)),
}
_STAMP = re.compile(r"([a-z]+)\.(\d+)(?:\.(noocr|ocr(\d+)))?")


@dataclass(frozen=True)
class ParserStamp:
    """format.version, then for a format OCR reads: '.ocrN' (OCR version N could run) or '.noocr' (it could
    not: off, tesseract or a language missing), e.g. 'pdf.1.ocr1', 'pdf.1.noocr', 'markdown.1'."""

    format: str
    version: int
    ocr: int | None = None  # the OCR version that could run; None: it could not, or the format has no OCR
    uses_ocr: bool = False

    def __str__(self) -> str:
        if not self.uses_ocr:
            return f"{self.format}.{self.version}"
        return f"{self.format}.{self.version}." + (f"ocr{self.ocr}" if self.ocr is not None else "noocr")

    @classmethod
    def parse(cls, text: str) -> "ParserStamp | None":
        """The stamp written by str(); None for text that is not one (a record from before stamps)."""
        m = _STAMP.fullmatch(text)
        if m is None:
            return None
        return cls(m.group(1), int(m.group(2)), int(m.group(4)) if m.group(4) else None, m.group(3) is not None)


def stamp_for(extension: str, ocr_ready: bool) -> ParserStamp | None:
    """The stamp of reading a file with this extension now; None for an extension no parser reads."""
    known = _FORMATS.get(extension)
    if known is None:
        return None
    fmt, version, uses_ocr = known
    return ParserStamp(fmt, version, OCR_VERSION if uses_ocr and ocr_ready else None, uses_ocr)
