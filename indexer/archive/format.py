"""The archive's layout and its typed records: the manifest and one document line (see indexer.archive)."""
from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from indexer.types import Chunk, DocumentInfo

FORMAT = "harbor-rag-kb"
VERSION = 1  # a reader refuses a newer version (its records may mean something this one does not know)
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
VECTORS = "vectors.f32"
MEMBERS = (MANIFEST, DOCUMENTS, VECTORS)
# written only when asked (`rag kb export --with-state`): the service's state for the KB (its API keys as
# hashes, chat channels, promoted settings), opaque to this layer (api.archive_state reads it). A version of
# the software from before it refuses an archive holding it, naming the member.
STATE = "service_state.json"
# written unless left out (`rag kb export --without-originals`): the KB's kept uploads (indexer.originals), one
# member each, named as the KB keeps them (the SHA-256 of its bytes and its extension), and the KB's OCR result
# cache (indexer.parse.ocr_cache), so that the imported KB re-reads its uploads without their being uploaded again
# and its scans without OCR running again (indexer.archive.kept_files)
OCR_CACHE = "ocr-cache.sqlite"
ORIGINALS = "originals/"
ORIGINAL_MEMBER = re.compile(r"^originals/([0-9a-f]{64})(\.[a-z0-9]{1,10})?$")
MAX_ORIGINALS = 200_000  # members of kept uploads: a KB's uploads, each one file (the zip directory's size)
OPTIONAL = (STATE, OCR_CACHE)
MAX_STATE_MB = 16.0  # a KB's keys, channels and settings take a few KB


def is_original(name: str) -> bool:
    return ORIGINAL_MEMBER.match(name) is not None

# Milvus's limits bound what any store can hold (indexer.store.milvus.schema): ids 4,096 bytes, text 65,535
ID_MAX = 4096
TEXT_MAX = 65535
MAX_DIM = 8192          # the largest embedding any supported model gives is 768 (e5+minilm)
MAX_META = 1000         # KB settings carried (a KB has about ten)
MAX_CHUNKS_PER_DOC = 100_000  # indexing caps a file at max_chunks_per_file (5,000 by default)

Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX)]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX)]


class ArchiveError(ValueError):
    """The archive cannot be used: the message says what is wrong with it and what to do."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Member(_Strict):
    size: int = Field(ge=0)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class LeftOut(_Strict):
    """A document of the KB that the archive does not hold: it was rewritten throughout the export."""
    doc_id: Id
    source: Text


class Manifest(_Strict):
    format: Literal["harbor-rag-kb"]
    version: int = Field(ge=1)
    kb: Id
    exported_at: Text
    embed_model: Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX)]
    dim: int = Field(ge=1, le=MAX_DIM)
    context_window: int = Field(ge=0, le=64)
    chunking: dict[Id, int] = Field(description="the exporting configuration's [indexer.chunk] settings")
    documents: int = Field(ge=0)
    chunks: int = Field(ge=0)
    meta: dict[Id, Text] = Field(description="the KB's own settings (refusal threshold, ...)")
    members: dict[str, Member]
    # written only when some document was left out, so that a complete archive stays readable by versions
    # of the software from before this field (their readers refuse fields they do not know)
    left_out: list[LeftOut] = Field(default=[], description="documents of the KB not "
                                    "in the archive: rewritten throughout the export (export again once indexing "
                                    "is done)")

    def to_json(self) -> str:
        return json.dumps(self.model_dump(exclude={"left_out"} if not self.left_out else None), ensure_ascii=False,
                          indent=1)

    @field_validator("meta")
    @classmethod
    def _bounded(cls, v: dict[str, str]) -> dict[str, str]:
        if len(v) > MAX_META:
            raise ValueError(f"{len(v)} settings, over the limit of {MAX_META}")
        return v

    @property
    def archive_id(self) -> str:
        """What identifies the archive's content (its members' checksums): an interrupted import resumes
        only with the same archive."""
        return self.members[DOCUMENTS].sha256[:32] + self.members[VECTORS].sha256[:32]


class ChunkLine(_Strict):
    chunk_id: Id
    ordinal: int = Field(ge=0)
    text: Text
    title: Text = ""
    page: int | None = None
    n_tokens: int = Field(ge=0)
    # (offset in text, page starting there) per later page (indexer.page_breaks); written only for a chunk
    # spanning pages, so that an archive without any stays readable by versions from before this field
    page_breaks: list[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=1)]]] = Field(
        default=[], max_length=TEXT_MAX, exclude_if=lambda v: not v)


class DocumentLine(_Strict):
    doc_id: Id
    source: Text
    content_hash: Id
    size: int = Field(ge=0)
    indexed_at: Annotated[str, StringConstraints(max_length=64)]
    tags: dict[Id, Text] = {}
    chunks: list[ChunkLine] = Field(min_length=1, max_length=MAX_CHUNKS_PER_DOC)

    @field_validator("chunks")
    @classmethod
    def _ids_of_this_document(cls, chunks: list[ChunkLine], info) -> list[ChunkLine]:
        doc_id = info.data.get("doc_id")
        seen = set()
        for c in chunks:
            if doc_id is not None and not c.chunk_id.startswith(f"{doc_id}:"):
                raise ValueError(f"chunk {c.chunk_id!r} does not belong to document {doc_id!r}")
            if c.chunk_id in seen:
                raise ValueError(f"chunk {c.chunk_id!r} appears twice")
            seen.add(c.chunk_id)
        return chunks

    def info(self) -> DocumentInfo:
        return DocumentInfo(doc_id=self.doc_id, source=self.source, content_hash=self.content_hash, size=self.size,
                            chunks=len(self.chunks), indexed_at=self.indexed_at, tags=dict(self.tags))

    def as_chunks(self) -> list[Chunk]:
        return [Chunk(c.chunk_id, self.doc_id, c.ordinal, c.text, c.title, c.page, c.n_tokens, tuple(c.page_breaks))
                for c in self.chunks]

    @classmethod
    def of(cls, info: DocumentInfo, chunks: list[Chunk]) -> "DocumentLine":
        return cls(doc_id=info.doc_id, source=info.source, content_hash=info.content_hash, size=info.size,
                   indexed_at=info.indexed_at, tags=dict(info.tags),
                   chunks=[ChunkLine(chunk_id=c.chunk_id, ordinal=c.ordinal, text=c.text, title=c.title,
                                     page=c.page, n_tokens=c.n_tokens, page_breaks=list(c.page_breaks))
                           for c in chunks])
