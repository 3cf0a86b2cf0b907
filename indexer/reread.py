"""Reading a file again after its parser or the chunker changed, though its bytes did not.

A document's content_hash records which parser read it (indexer.parse.versions.ParserStamp) and which version of
the chunker cut it (indexer.chunk.CHUNKER_VERSION), between the file's digest and the screen's version
(indexer.screen.fingerprint):

    <sha256 of the file>+parser:<stamp>+chunk:<version>[+screen:<version>]   e.g. "9f2c...+parser:pdf.1.ocr1+chunk:2+screen:3"

The stamp lives in content_hash because that field is free-form text in every store: the local catalog's
column, Milvus' `__docs` collection (a new field cannot be added to an existing collection in Milvus Lite
3.2.2, and an existing KB must keep working) and the export archive's document lines. Nothing else reads it
but the comparisons here and in indexer.screen.

The chunker's version is a part of its own ("+chunk:2") rather than a field of the parser's stamp: it is one
number for every format, it lives beside the chunker (indexer.chunk imports indexer.parse, so
indexer.parse.versions cannot import it), and the stamps written before it ("+parser:markdown.1", no chunk
part) stay what they were: a record without the part was cut by chunker version 1. (A release from before the
part reads "markdown.2+chunk:2" as no stamp at all and leaves the document as it is.)

An unchanged file (same bytes, tags and source) is read again when (`reread_reason`, first reason that applies):
- its format's parser version is newer than the one recorded ("parser updated");
- it is a PDF or an image read when OCR could not run, and OCR can run now ("OCR now available");
- OCR read some of its text (tag ocr=yes) with an older OCR version than today's ("OCR updated");
- the chunker's version is newer than the one recorded ("chunker updated"): every format; a PDF or image whose
  pages OCR read takes them from the KB's OCR cache (indexer.parse.ocr_cache) where OCR read them with today's
  settings, else OCR reads them again.
A document OCR read some of (tag ocr=yes) is not read again while OCR cannot run, whatever asks for it (one of the
reasons above, the screen's version ("screen updated"), `rag index --reparse`, or new tags or source given for
it): that would lose its scanned pages' text. It is `deferred` (rag index says so, per file) and read again by the
first run where OCR can.

Documents given as text rather than files (indexer.ingest.index_elements: benchmark corpora) record the chunker
as well, "<sha256 of the text>+chunk:2[+screen:N]": the same text given again is cut again when an older chunker
(or, recorded before the part, chunker version 1) cut it.

Documents indexed before stamps were recorded are taken as read by version 1 of every parser and of the chunker
(what that release shipped with, OCR unknown), so with the chunker at version 2 every such document is read
again once, like any record of version 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from indexer.chunk import CHUNKER_VERSION
from indexer.file_hash import sha256_file as sha256_file  # where it was: its users import it from here
from indexer.ocr_tags import OCR_TAG
from indexer.parse.versions import ParserStamp
from indexer.screen import file_digest
from indexer.types import DocumentInfo

_PARSER = "+parser:"
_CHUNKER = "+chunk:"
UNSTAMPED_VERSION = 1  # the parser and chunker version a record without theirs is taken to have been read by

PARSER_UPDATED = "parser updated"
OCR_AVAILABLE = "OCR now available"
OCR_UPDATED = "OCR updated"
CHUNKER_UPDATED = "chunker updated"
SCREEN_UPDATED = "screen updated"  # indexed under another version of indexer.screen's screen (or none)
REPARSE = "--reparse"
RETAGGED = "new tags or source"  # the same file given with other tags, or by another path to it


def stamped(sha: str, stamp: ParserStamp | None) -> str:
    """The file part of a content_hash: its digest, the stamp of the parser reading it and the chunker's version."""
    return chunked(f"{sha}{_PARSER}{stamp}") if stamp is not None else sha


def chunked(digest: str) -> str:
    """A digest followed by the chunker's version: what a document given as text (no file, no parser) records."""
    return f"{digest}{_CHUNKER}{CHUNKER_VERSION}"


def text_reread_reason(old: DocumentInfo, new_hash: str) -> str:
    """Why a document given as text (indexer.ingest.index_elements) whose text did not change is cut again:
    CHUNKER_UPDATED when an older chunker cut it; '' when its text changed, or nothing did."""
    if old.content_hash == new_hash or _text_part(old.content_hash) != _text_part(new_hash):
        return ""
    return CHUNKER_UPDATED if recorded_chunker(old.content_hash) < recorded_chunker(new_hash) else ""


def _text_part(content_hash: str) -> str:
    return file_digest(content_hash).split(_CHUNKER)[0]


DAMAGED_COPY = "its bytes no longer match the SHA-256 they were kept under"  # a KnownDigest's file, when checked


@dataclass(frozen=True)
class KnownDigest:
    """A file's SHA-256 known before indexing it (an upload hashed once, a kept copy named by its digest), so the
    ingestor need not hash it. checked: hashed from these bytes now; else (a kept copy trusted by its size and
    mtime) the ingestor hashes it before parsing it and refuses it when it differs (a damaged copy)."""

    sha: str
    checked: bool = True


def file_sha(content_hash: str) -> str:
    """The file's own digest in a content_hash, without the parser's stamp or the screen's version."""
    return file_digest(content_hash).split(_PARSER)[0]


def recorded_stamp(content_hash: str) -> ParserStamp | None:
    """The stamp a content_hash records; None when it records none (indexed before stamps)."""
    _, found, text = file_digest(content_hash).partition(_PARSER)
    return ParserStamp.parse(text.split(_CHUNKER)[0]) if found else None


def recorded_chunker(content_hash: str) -> int:
    """The chunker version a content_hash records; UNSTAMPED_VERSION when it records none (or one not a number)."""
    _, found, text = file_digest(content_hash).partition(_CHUNKER)
    return int(text) if found and text.isdigit() else UNSTAMPED_VERSION


@dataclass(frozen=True)
class Check:
    """unchanged: nothing to do. reason: why an unchanged file is read again ('' when it is not, or it changed).
    deferred: unchanged for now though it would be read again for this reason, because OCR read some of it and
    cannot run now."""

    unchanged: bool
    reason: str = ""
    deferred: str = ""


def check(old: DocumentInfo, new_hash: str, stamp: ParserStamp | None) -> Check:
    """Compare a document's record with the content_hash reading its file now would give (`new_hash`, whose
    stamp is `stamp`); the caller has already found its tags and source unchanged."""
    if old.content_hash == new_hash:
        return Check(True)
    if file_sha(old.content_hash) != file_sha(new_hash):
        return Check(False)  # the file changed: indexed again as any changed file
    same_screen = screen_part(old.content_hash) == screen_part(new_hash)
    reason = reread_reason(old, stamp, recorded_chunker(new_hash))
    if (reason or not same_screen) and loses_ocr_text(old, stamp):
        return Check(True, deferred=reason or SCREEN_UPDATED)
    if reason or not same_screen:  # read again (under the new screen too, when that changed)
        return Check(False, reason)
    return Check(True)


def reread_reason(old: DocumentInfo, now: ParserStamp | None, chunker: int = CHUNKER_VERSION) -> str:
    """Why a document whose file did not change must be read again with today's parser and chunker (version
    `chunker`) ('' if it need not)."""
    if now is None:
        return ""
    was = recorded_stamp(old.content_hash)
    if was is None:  # indexed before stamps: version 1, OCR unknown
        if now.version > UNSTAMPED_VERSION:
            return PARSER_UPDATED
    elif was.format != now.format or was.version < now.version:
        return PARSER_UPDATED
    elif now.uses_ocr and now.ocr is not None:
        if was.ocr is None:
            return OCR_AVAILABLE
        if was.ocr < now.ocr and old.tags.get(OCR_TAG) == "yes":
            return OCR_UPDATED
    if recorded_chunker(old.content_hash) < chunker:
        return CHUNKER_UPDATED
    return ""


def loses_ocr_text(old: DocumentInfo, now: ParserStamp | None) -> bool:
    """Reading the document now would lose text: OCR read some of it and cannot run now (`now`: the stamp reading
    its file now would record). No trigger may read such a document again, --reparse included."""
    return now is not None and now.uses_ocr and now.ocr is None and old.tags.get(OCR_TAG) == "yes"


def screen_part(content_hash: str) -> str:
    """What a content_hash records after the file part: "+screen:<version>", or "" (not screened)."""
    return content_hash[len(file_digest(content_hash)):]


@dataclass(frozen=True)
class KBFiles:
    """A KB's documents for `rag index --reparse` without paths: the files found where they were indexed from,
    as (source, path, doc id); the sources of files indexed from a path that holds no file now (moved or
    deleted); and how many documents were indexed from another working directory (uploads are left out before:
    they are read again from their kept copies, indexer.upload_reread)."""

    found: list[tuple[str, Path, str]]
    missing: list[str]
    elsewhere: int


def kb_files(documents: list[DocumentInfo], doc_id_for: Callable[[Path], str]) -> KBFiles:
    """doc_id_for: indexer.ingest.doc_id_for (a path's document id), passed in to keep this module below ingest."""
    found: list[tuple[str, Path, str]] = []
    missing: list[str] = []
    elsewhere = 0
    for info in documents:
        path = Path(info.source)
        if doc_id_for(path) != info.doc_id:
            elsewhere += 1
        elif path.is_file():
            found.append((info.source, path, info.doc_id))
        else:
            missing.append(info.source)
    return KBFiles(found, missing, elsewhere)
