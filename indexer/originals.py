"""Uploaded files kept in their KB's folder, so that they can be read again after a parser or chunker upgrade.

A file uploaded over HTTP reaches the indexer as a scratch copy that is removed once indexed; without its bytes
a document could never be read again (indexer.reread). So the service keeps each upload's bytes under

    <home>/<kb>/originals/<sha256 of the bytes><extension>      e.g. originals/9f2c...e1.pdf

named by content (two uploads of the same bytes share one file) with the extension its parser dispatches on.
Nothing else records which document it belongs to: a document's content_hash starts with the same SHA-256
(indexer.reread.file_sha) and its source is the uploaded name, so the name follows from the record.

Every write here happens under the KB's writer lock (the store opened writable): a kept file is written
atomically (indexer.atomic) before its document, and `sweep` removes every file no upload document names any
more (a document deleted or replaced by other bytes, an upload whose indexing failed or was killed, a
temporary a killed writer left). The folder goes with the KB's folder (`rag kb delete`), or with
`discard` where the KB lives in Milvus. `keep_originals = false` keeps none and removes those kept at the
KB's next write; `originals_max_mb` bounds the bytes kept per KB.
"""
from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from indexer.atomic import atomic_target
from indexer.config import IndexerSettings
from indexer.parse.extension import file_extension
from indexer.reread import file_sha
from indexer.types import DocumentInfo

FOLDER = "originals"
_UPLOAD_ID = re.compile(r"^u[0-9a-f]{15}$")
_EXT = re.compile(r"^\.[a-z0-9]{1,10}$")
NOT_KEPT_ADVICE = "upload it again to read it with today's parsers"


def upload_doc_id(kb: str, filename: str) -> str:
    """The document id of file `filename` uploaded to `kb`: stable per (KB, name), so uploading a file again
    replaces its document."""
    return "u" + hashlib.sha1(f"{kb}/{filename}".encode()).hexdigest()[:15]


def is_upload(info: DocumentInfo) -> bool:
    """A document that came from an upload (its id is upload_doc_id's form), not from a path or text."""
    return bool(_UPLOAD_ID.match(info.doc_id))


def original_name(sha: str, source: str) -> str:
    """The kept file of bytes `sha` uploaded as `source`: the digest and the extension its parser needs."""
    ext = file_extension(source)
    return sha + (ext if _EXT.match(ext) else "")


@dataclass(frozen=True)
class Kept:
    """What keeping an upload's bytes did: kept (or already there), or why not ('' when keeping is off)."""

    kept: bool
    reason: str = ""


class Originals:
    """The kept uploads of one KB: `folder` is <home>/<kb>/originals."""

    def __init__(self, folder: Path, enabled: bool = True, max_bytes: int | None = None):
        self.folder, self.enabled, self.max_bytes = Path(folder), enabled, max_bytes

    @classmethod
    def of(cls, settings: IndexerSettings, kb: str) -> Originals:
        return cls(Path(settings.home) / kb / FOLDER, settings.keep_originals,
                   int(settings.originals_max_mb * 2**20))

    def path_for(self, info: DocumentInfo) -> Path | None:
        """The kept bytes of upload document `info`, or None (not an upload, not kept, or keeping is off)."""
        if not self.enabled or not is_upload(info):
            return None
        path = self.folder / original_name(file_sha(info.content_hash), info.source)
        return path if path.is_file() else None

    def used_bytes(self) -> int:
        if not self.folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def keep(self, path: Path, source: str, sha: str | None = None) -> Kept:
        """Keep the bytes at `path`, uploaded as `source` (call under the KB's writer lock, before its document is
        written). Not kept, with the reason, when keeping is off or the KB's kept bytes would pass the cap.
        OSError (a full disk) is raised: the caller decides whether the upload waits."""
        if not self.enabled:
            return Kept(False)
        sha = sha or _sha256(path)
        dest = self.folder / original_name(sha, source)
        if dest.is_file():
            return Kept(True)
        size = path.stat().st_size
        if self.max_bytes is not None and self.used_bytes() + size > self.max_bytes:
            return Kept(False, f"its original was not kept: the knowledge base's kept uploads would pass "
                               f"originals_max_mb ({self.max_bytes / 2**20:g} MB), so after a parser upgrade it is "
                               f"read again only when uploaded again; raise RAG_ORIGINALS_MAX_MB to keep it")
        with atomic_target(dest) as tmp:
            shutil.copyfile(path, tmp)
        return Kept(True)

    def sweep(self, documents: list[DocumentInfo]) -> int:
        """Remove every kept file no upload among `documents` (the KB's, after its write) names, and any temporary
        a killed writer left; with keeping off, every kept file. Call under the KB's writer lock. How many went."""
        if not self.folder.is_dir():
            return 0
        wanted = {original_name(file_sha(d.content_hash), d.source) for d in documents if is_upload(d)} \
            if self.enabled else set()
        gone = 0
        for p in self.folder.iterdir():
            if p.name not in wanted:
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
                gone += 1
        return gone

    def discard(self) -> None:
        """Remove the KB's kept uploads (the KB was deleted where its documents do not live in this folder)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            self.folder.parent.rmdir()  # the KB's folder, when it held nothing else (a Milvus KB)
        except OSError:
            pass


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class KeptUploads:
    """A KB's uploaded documents: those whose original is kept, as (source, kept file, doc id) for
    Ingestor.index_files, and those whose original is not (uploaded before originals were kept, while keeping
    was off, or past the cap), by name."""

    found: list[tuple[str, Path, str]]
    not_kept: list[DocumentInfo]


def kept_uploads(documents: list[DocumentInfo], originals: Originals) -> KeptUploads:
    found, not_kept = [], []
    for info in documents:
        if not is_upload(info):
            continue
        path = originals.path_for(info)
        if path is None:
            not_kept.append(info)
        else:
            found.append((info.source, path, info.doc_id))
    return KeptUploads(found, not_kept)


def not_kept_reason(originals: Originals) -> str:
    """What a document whose original is not kept needs, said the same way by the CLI and the service."""
    why = ("keeping uploads is off (keep_originals / RAG_KEEP_ORIGINALS)" if not originals.enabled else
           "its original is not kept (uploaded before originals were kept, while keeping was off, or past "
           "originals_max_mb)")
    return f"not re-read: {why}; {NOT_KEPT_ADVICE}"


def carry_over(old_kb: Path, new_kb: Path) -> None:
    """A KB folder replaced by a rebuilt copy (`rag kb reembed` swaps folders) hands its kept uploads to the copy:
    each file the copy lacks is moved (names are contents, so one already there is the same bytes)."""
    src, dst = old_kb / FOLDER, new_kb / FOLDER
    if not src.is_dir() or not new_kb.is_dir():
        return
    dst.mkdir(exist_ok=True)
    for p in src.iterdir():
        if not p.name.startswith(".") and not (dst / p.name).exists():
            p.rename(dst / p.name)
