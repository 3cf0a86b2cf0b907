"""Bounds on the work one file may cause while it is parsed (documents are untrusted input).

ParseLimits travels with a parse request, also into the sandboxed child process
(indexer.parse.sandbox), so it holds plain values only. Its defaults are the ones
IndexerSettings uses (RAG_PARSE_* in the environment); parse_file() applies them when it
is given none, so the checks are on unless a caller switches them off.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from indexer.parse.ocr_options import OcrOptions

MB = 1024 * 1024


@dataclass(frozen=True)
class ParseLimits:
    """zip_*: .docx/.pptx/.xlsx are ZIP archives, checked before any parser reads them
    (indexer.parse.zipcheck): every member's declared uncompressed size, their total, and the
    compression ratio of members over 1 MB. pdf_max_pages: page-tree entries per PDF
    (indexer.parse.pdf); the same page object listed several times is parsed once. ocr: scanned PDF pages and
images (indexer.parse.ocr_options)."""

    zip_check: bool = True
    zip_member_mb: float = 100
    zip_total_mb: float = 300
    zip_ratio: float = 100
    pdf_max_pages: int = 2000
    ocr: OcrOptions = field(default_factory=OcrOptions)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ParseLimits":
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if isinstance(values.get("ocr"), dict):
            values["ocr"] = OcrOptions.from_dict(values["ocr"])
        return cls(**values)
