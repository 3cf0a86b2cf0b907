"""Reading a file again after its parser changed, though its bytes did not.

A document's content_hash records which parser read it (indexer.parse.versions.ParserStamp) between the file's
digest and the screen's version (indexer.screen.fingerprint):

    <sha256 of the file>+parser:<stamp>[+screen:<version>]      e.g. "9f2c...+parser:pdf.1.ocr1+screen:3"

The stamp lives in content_hash because that field is free-form text in every store: the local catalog's
column, Milvus' `__docs` collection (a new field cannot be added to an existing collection in Milvus Lite
3.2.2, and an existing KB must keep working) and the export archive's document lines. Nothing else reads it
but the comparisons here and in indexer.screen.

An unchanged file (same bytes, tags and source) is read again when (`reread_reason`):
- its format's parser version is newer than the one recorded ("parser updated");
- it is a PDF or an image read when OCR could not run, and OCR can run now ("OCR now available");
- OCR read some of its text (tag ocr=yes) with an older OCR version than today's ("OCR updated").
A PDF read with OCR is not read again while OCR cannot run (that would lose its scanned pages' text).

Documents indexed before stamps were recorded are taken as read by version 1 of every parser (what this
version shipped with, OCR unknown), so upgrading does not re-read every document of every KB unasked:
they are left as they are and `rag index` says how many there are and that `--reparse` re-reads them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from indexer.ocr_tags import OCR_TAG
from indexer.parse.versions import ParserStamp
from indexer.screen import file_digest
from indexer.types import DocumentInfo

_PARSER = "+parser:"
UNSTAMPED_VERSION = 1  # the parser version an unstamped record is taken to have been read by

PARSER_UPDATED = "parser updated"
OCR_AVAILABLE = "OCR now available"
OCR_UPDATED = "OCR updated"
REPARSE = "--reparse"


def stamped(sha: str, stamp: ParserStamp | None) -> str:
    """The file part of a content_hash: its digest and the stamp of the parser reading it."""
    return f"{sha}{_PARSER}{stamp}" if stamp is not None else sha


def file_sha(content_hash: str) -> str:
    """The file's own digest in a content_hash, without the parser's stamp or the screen's version."""
    return file_digest(content_hash).split(_PARSER)[0]


def recorded_stamp(content_hash: str) -> ParserStamp | None:
    """The stamp a content_hash records; None when it records none (indexed before stamps)."""
    _, found, text = file_digest(content_hash).partition(_PARSER)
    return ParserStamp.parse(text) if found else None


@dataclass(frozen=True)
class Check:
    """unchanged: nothing to do. reason: why an unchanged file is read again ('' when it is not, or it changed).
    unstamped: unchanged, and its record is from before stamps (`rag index --reparse` re-reads it)."""

    unchanged: bool
    reason: str = ""
    unstamped: bool = False


def check(old: DocumentInfo, new_hash: str, stamp: ParserStamp | None) -> Check:
    """Compare a document's record with the content_hash reading its file now would give (`new_hash`, whose
    stamp is `stamp`); the caller has already found its tags and source unchanged."""
    if old.content_hash == new_hash:
        return Check(True)
    if file_sha(old.content_hash) != file_sha(new_hash):
        return Check(False)  # the file changed: indexed again as any changed file
    same_screen = screen_part(old.content_hash) == screen_part(new_hash)
    reason = reread_reason(old, stamp)
    if reason or not same_screen:  # read again (under the new screen too, when that changed)
        return Check(False, reason)
    return Check(True, unstamped=_PARSER not in file_digest(old.content_hash))


def reread_reason(old: DocumentInfo, now: ParserStamp | None) -> str:
    """Why a document whose file did not change must be read again with today's parser ('' if it need not)."""
    if now is None:
        return ""
    was = recorded_stamp(old.content_hash)
    if was is None:  # indexed before stamps: version 1, OCR unknown
        return PARSER_UPDATED if now.version > UNSTAMPED_VERSION else ""
    if was.format != now.format or was.version < now.version:
        return PARSER_UPDATED
    if now.uses_ocr and now.ocr is not None:
        if was.ocr is None:
            return OCR_AVAILABLE
        if was.ocr < now.ocr and old.tags.get(OCR_TAG) == "yes":
            return OCR_UPDATED
    return ""


def screen_part(content_hash: str) -> str:
    """What a content_hash records after the file part: "+screen:<version>", or "" (not screened)."""
    return content_hash[len(file_digest(content_hash)):]


@dataclass(frozen=True)
class KBFiles:
    """A KB's documents for `rag index --reparse` without paths: the files found where they were indexed from,
    as (source, path, doc id); the sources of files indexed from a path that holds no file now (moved or
    deleted); and how many documents did not come from a file path here (uploads, whose bytes are not kept,
    and files indexed from another working directory)."""

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
