"""Typed records that flow through ingestion: parsed elements, documents and chunks."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from indexer.page_breaks import PageBreaks, last_page

ElementKind = Literal["title", "text", "table", "list"]


@dataclass(frozen=True)
class Element:
    """One structural piece of a parsed file, in reading order.

    `section` is the heading path the element sits under ("Fees > Wire transfers"),
    `page` is the 1-based page number where the format has pages (PDF, PPTX slides, TIFF frames),
    `ocr` says the text was read by OCR from an image (a scanned page, a photo), not from the file's text.
    """

    text: str
    kind: ElementKind = "text"
    section: str = ""
    page: int | None = None
    ocr: bool = False


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit of text. `chunk_id` is stable: `{doc_id}:{ordinal}:{content hash}`.
    `page` is the page it starts on; `page_breaks` where its text passes onto a later page
    (indexer.page_breaks; none for a chunk within one page)."""

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    title: str = ""
    page: int | None = None
    n_tokens: int = 0
    page_breaks: PageBreaks = ()

    @property
    def page_end(self) -> int | None:
        return last_page(self.page, self.page_breaks)


@dataclass(frozen=True)
class DocumentInfo:
    """A document as the store knows it."""

    doc_id: str
    source: str
    content_hash: str
    size: int
    chunks: int
    indexed_at: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Filters:
    """Restrict a search: any of these doc ids, any of these sources, all of these tags."""

    doc_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.sources or self.tags)

    @classmethod
    def make(cls, doc_ids=None, sources=None, tags: dict[str, str] | None = None) -> "Filters":
        return cls(tuple(doc_ids or ()), tuple(sources or ()), tuple(sorted((tags or {}).items())))


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk with its document's source and tags."""

    row: int
    chunk_id: str
    doc_id: str
    source: str
    text: str
    title: str
    page: int | None
    tags: dict[str, str]
    page_breaks: PageBreaks = ()  # a chunk stored before these were kept has none: shown as its first page

    @property
    def page_end(self) -> int | None:
        return last_page(self.page, self.page_breaks)

    def as_chunk(self, ordinal: int, n_tokens: int) -> Chunk:
        return Chunk(self.chunk_id, self.doc_id, ordinal, self.text, self.title, self.page, n_tokens,
                     self.page_breaks)
