"""Uploaded files kept so that they can be read again after a parser or chunker upgrade.

A file uploaded over HTTP reaches the indexer as a scratch copy that is removed once indexed; without its bytes
a document could never be read again (indexer.reread). So the service keeps each upload's bytes, named by
content (two uploads of the same bytes share one copy) with the extension its parser dispatches on:

    <sha256 of the bytes><extension>      e.g. 9f2c...e1.pdf

Nothing else records which document it belongs to: a document's content_hash starts with the same SHA-256
(indexer.reread.file_sha) and its source is the uploaded name, so the name follows from the record.

Where they are kept is a backend of `KeptOriginals`:
- `Originals` (here): the KB's folder, <home>/<kb>/originals/, in embedded mode (one home for the service);
- api.state.kept_uploads.DatabaseOriginals: the state database (PostgreSQL), in cluster mode, where every
  replica and worker has a home of its own but reads the same database;
api.jobs.originals.kept_originals picks one. Both keep at most `originals_max_mb` per KB, none with
`keep_originals = false`, and drop a copy no upload document names any more (`sweep`).

Every write happens under the KB's writer lock (the store opened writable): a copy is written before its
document, and `sweep` after each write removes every copy no upload document names (a document deleted or
replaced by other bytes, an upload whose indexing failed or was killed, a temporary a killed writer left).

A kept copy is hashed once, when uploaded. The folder backend records each file's size and mtime beside the
folder (<home>/<kb>/originals.stats.json):
`reading` trusts a file they still match (its name is its digest), hashes one they do not (a damaged file is
then reported, not read), and the ingestor hashes a trusted file again only when it is about to parse it
(indexer.reread.KnownDigest), so a damaged copy never replaces its document.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from indexer.atomic import atomic_target
from indexer.config import IndexerSettings
from indexer.parse.extension import file_extension
from indexer.reread import DAMAGED_COPY, KnownDigest, file_sha, sha256_file
from indexer.types import DocumentInfo

if TYPE_CHECKING:
    from indexer.store.base import Store

FOLDER = "originals"
STATS = "originals.stats.json"  # beside the folder: each kept file's [size, mtime_ns] (the folder holds copies only)
_UPLOAD_ID = re.compile(r"^u[0-9a-f]{15}$")
_EXT = re.compile(r"^\.[a-z0-9]{1,10}$")
NOT_KEPT_ADVICE = "upload it again to read it with today's parsers"
DAMAGED = (f"not re-read: its kept copy is damaged ({DAMAGED_COPY}), so the document was left as it was and the "
           "copy removed; upload it again")


def upload_doc_id(kb: str, filename: str) -> str:
    """The document id of file `filename` uploaded to `kb`: stable per (KB, name), so uploading a file again
    replaces its document."""
    return "u" + hashlib.sha1(f"{kb}/{filename}".encode()).hexdigest()[:15]


def is_upload(info: DocumentInfo) -> bool:
    """A document that came from an upload (its id is upload_doc_id's form), not from a path or text."""
    return bool(_UPLOAD_ID.match(info.doc_id))


def original_name(sha: str, source: str) -> str:
    """The kept copy of bytes `sha` uploaded as `source`: the digest and the extension its parser needs."""
    ext = file_extension(source)
    return sha + (ext if _EXT.match(ext) else "")


def kept_name(info: DocumentInfo) -> str:
    """The kept copy an upload document names."""
    return original_name(file_sha(info.content_hash), info.source)


def over_cap_reason(max_bytes: int) -> str:
    return (f"its original was not kept: the knowledge base's kept uploads would pass originals_max_mb "
            f"({max_bytes / 2**20:g} MB), so after a parser upgrade it is read again only when uploaded again; "
            "raise RAG_ORIGINALS_MAX_MB to keep it")


@dataclass(frozen=True)
class Kept:
    """What keeping an upload's bytes did: kept (or already there), or why not ('' when keeping is off)."""

    kept: bool
    reason: str = ""


@dataclass
class KeptUploads:
    """A KB's uploaded documents: those whose original is kept, as (source, readable copy, doc id) for
    Ingestor.index_files with the digest each copy was kept under (`digests`, by path); those whose original is
    not kept (uploaded before originals were kept, while keeping was off, or past the cap); and those whose copy
    is damaged (not read: reading it would replace the document with other bytes)."""

    found: list[tuple[str, Path, str]] = field(default_factory=list)
    not_kept: list[DocumentInfo] = field(default_factory=list)
    digests: dict[Path, KnownDigest] = field(default_factory=dict)
    damaged: list[DocumentInfo] = field(default_factory=list)


class KeptOriginals(Protocol):
    """Where a KB's uploads are kept (a folder, the state database). Writes are made under the KB's writer lock."""

    enabled: bool  # keep_originals: off keeps none, and the next sweep removes those kept
    max_bytes: int | None  # originals_max_mb, in bytes

    def is_kept(self, info: DocumentInfo) -> bool:
        """Upload document `info`'s bytes are kept (False for a document that is not an upload)."""
        ...

    def keep(self, path: Path, source: str, sha: str | None = None, freed: str = "") -> Kept:
        """Keep the bytes at `path` (whose SHA-256 is `sha`, hashed here when not given), uploaded as `source`,
        before its document is written. Not kept, with the reason, when keeping is off or the KB's kept bytes would
        pass the cap; `freed`: a kept copy this write leaves unnamed (the replaced document's, which no other
        document names), not counted against the cap. OSError (a full disk) is raised: the caller decides whether
        the upload waits."""
        ...

    def reading(self, documents: list[DocumentInfo],
                wanted: Callable[[DocumentInfo], bool] | None = None) -> AbstractContextManager[KeptUploads]:
        """The upload documents among `documents`, with a readable copy of each kept one for the block. `wanted`
        (Ingestor.rereads, when not every one is to be read): a backend whose copies cost a fetch (the database)
        leaves the others out; the folder's cost nothing and are all given."""
        ...

    def sweep(self, documents: list[DocumentInfo]) -> int:
        """Remove every copy no upload among `documents` (the KB's, after its write) names; with keeping off,
        every copy. How many went."""
        ...

    def drop(self, info: DocumentInfo) -> None:
        """Remove upload document `info`'s kept copy (found damaged: an upload of the same bytes keeps them again)."""
        ...

    def discard(self) -> None:
        """Remove the KB's kept uploads (the KB was deleted)."""
        ...


def freed_copy(documents: list[DocumentInfo], replaced: DocumentInfo | None, sha: str) -> str:
    """The kept copy an upload of bytes `sha` leaves unnamed when it replaces document `replaced` (`documents`: the
    KB's): the replaced document's, unless it had these bytes or another upload names the same copy; else ''."""
    if replaced is None or not is_upload(replaced) or file_sha(replaced.content_hash) == sha:
        return ""
    name = kept_name(replaced)
    others = [d for d in documents if d.doc_id != replaced.doc_id and is_upload(d) and kept_name(d) == name]
    return "" if others else name


def sweep_written(originals: KeptOriginals, store: Store) -> int:
    """`originals.sweep` after a write to `store`'s KB, with its documents, still under its writer lock; none when
    that KB no longer holds its name (replaced by an import or a re-embedded copy, or deleted, while this writer held
    it): its documents are not those of the KB now under the name, whose copies a sweep by name would remove."""
    if store.replaced():
        return 0
    return originals.sweep(store.documents())


def split_uploads(documents: list[DocumentInfo], originals: KeptOriginals) -> tuple[list[DocumentInfo],
                                                                                    list[DocumentInfo]]:
    """The upload documents among `documents`: (those whose original is kept, those whose original is not)."""
    kept: list[DocumentInfo] = []
    not_kept: list[DocumentInfo] = []
    for d in documents:
        if is_upload(d):
            (kept if originals.is_kept(d) else not_kept).append(d)
    return kept, not_kept


class Originals:
    """The kept uploads of one KB in a folder: `folder` is <home>/<kb>/originals (embedded mode)."""

    def __init__(self, folder: Path, enabled: bool = True, max_bytes: int | None = None):
        self.folder, self.enabled, self.max_bytes = Path(folder), enabled, max_bytes
        self.stats = self.folder.parent / STATS

    @classmethod
    def of(cls, settings: IndexerSettings, kb: str) -> Originals:
        return cls(Path(settings.home) / kb / FOLDER, settings.keep_originals,
                   int(settings.originals_max_mb * 2**20))

    def path_for(self, info: DocumentInfo) -> Path | None:
        """The kept bytes of upload document `info`, or None (not an upload, not kept, or keeping is off)."""
        if not self.enabled or not is_upload(info):
            return None
        path = self.folder / kept_name(info)
        return path if path.is_file() else None

    def is_kept(self, info: DocumentInfo) -> bool:
        return self.path_for(info) is not None

    def used_bytes(self) -> int:
        if not self.folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def keep(self, path: Path, source: str, sha: str | None = None, freed: str = "", link: bool = False) -> Kept:
        """`link`: `path` is another KB's kept copy (`copy_kept`): hardlinked, not copied, where the file system
        allows (a kept file is never written in place, only replaced or removed, so neither KB's can change the
        other's)."""
        if not self.enabled:
            return Kept(False)
        sha = sha or sha256_file(path)
        dest = self.folder / original_name(sha, source)
        if dest.is_file() and self._stats().get(dest.name) == _stat(dest):
            return Kept(True)  # the same bytes, kept before (a file changed since is written again)
        size = path.stat().st_size
        gone = self.folder / freed if freed else None
        used = self.used_bytes() - (gone.stat().st_size if gone is not None and gone.is_file() else 0)
        if self.max_bytes is not None and used + size > self.max_bytes:
            return Kept(False, over_cap_reason(self.max_bytes))
        with atomic_target(dest) as tmp:
            tmp.unlink(missing_ok=True)  # a killed writer's, maybe a link to another KB's copy: never written through
            if not (link and _linked(path, tmp)):
                shutil.copyfile(path, tmp)
        self._record({dest.name: _stat(dest)})
        return Kept(True)

    @contextmanager
    def reading(self, documents: list[DocumentInfo],
                wanted: Callable[[DocumentInfo], bool] | None = None) -> Iterator[KeptUploads]:
        out = KeptUploads()
        stats = self._stats()
        rehashed: dict[str, list[int]] = {}
        for info in documents:
            if not is_upload(info):
                continue
            path = self.path_for(info)
            if path is None:
                out.not_kept.append(info)
                continue
            sha = file_sha(info.content_hash)
            now = _stat(path)
            checked = False
            if stats.get(path.name) != now:  # written by another release, touched, or damaged: hashed once now
                if sha256_file(path) != sha:
                    out.damaged.append(info)
                    continue
                rehashed[path.name], checked = now, True
            out.found.append((info.source, path, info.doc_id))
            out.digests[path] = KnownDigest(sha, checked)
        if rehashed:
            self._record(rehashed)
        yield out

    def sweep(self, documents: list[DocumentInfo]) -> int:
        if not self.folder.is_dir():
            return 0
        wanted = {kept_name(d) for d in documents if is_upload(d)} if self.enabled else set()
        gone = 0
        for p in self.folder.iterdir():
            if p.name not in wanted:
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
                gone += 1
        stats = self._stats()
        if set(stats) - wanted:
            self._write_stats({name: s for name, s in stats.items() if name in wanted})
        return gone

    def drop(self, info: DocumentInfo) -> None:
        (self.folder / kept_name(info)).unlink(missing_ok=True)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.stats.unlink(missing_ok=True)
        try:
            self.folder.parent.rmdir()  # the KB's folder, when it held nothing else (a Milvus KB)
        except OSError:
            pass

    def _stats(self) -> dict[str, list[int]]:
        """The recorded [size, mtime_ns] of each kept file; {} when there is no record or it is unreadable
        (every file is then hashed once and recorded again)."""
        try:
            stats = json.loads(self.stats.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return stats if isinstance(stats, dict) else {}

    def _record(self, stats: dict[str, list[int]]) -> None:
        self._write_stats({**self._stats(), **stats})

    def _write_stats(self, stats: dict[str, list[int]]) -> None:
        with atomic_target(self.stats, sync=False) as tmp:  # lost: the files are hashed once again
            tmp.write_text(json.dumps(stats, sort_keys=True), encoding="utf-8")


def _linked(path: Path, link: Path) -> bool:
    """`link` made a hardlink of `path`; False where it cannot be (another file system, links not allowed)."""
    try:
        os.link(path, link)
    except OSError:
        return False
    return True


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def not_kept_reason(originals: KeptOriginals) -> str:
    """What a document whose original is not kept needs, said the same way by the CLI and the service."""
    why = ("keeping uploads is off (keep_originals / RAG_KEEP_ORIGINALS)" if not originals.enabled else
           "its original is not kept (uploaded before originals were kept, while keeping was off, or past "
           "originals_max_mb)")
    return f"not re-read: {why}; {NOT_KEPT_ADVICE}"


def carry_over(old_kb: Path, new_kb: Path) -> None:
    """A KB folder replaced by a rebuilt copy (`rag kb reembed` swaps folders) hands its kept uploads to the copy:
    each file the copy lacks is moved (names are contents, so one already there is the same bytes). Their
    record of sizes and mtimes stays behind: each is hashed once at its next reading."""
    src, dst = old_kb / FOLDER, new_kb / FOLDER
    if not src.is_dir() or not new_kb.is_dir():
        return
    dst.mkdir(exist_ok=True)
    for p in src.iterdir():
        if not p.name.startswith(".") and not (dst / p.name).exists():
            p.rename(dst / p.name)


@dataclass
class CopiedUploads:
    """What `copy_kept` did: how many copies the new KB keeps, the sources it did not keep (keeping off there, or
    past its originals_max_mb) and those the old KB had no readable copy of (not kept, or damaged)."""

    copied: int = 0
    not_kept: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def copy_kept(src: KeptOriginals, dst: KeptOriginals, documents: list[DocumentInfo]) -> CopiedUploads:
    """The kept uploads of `documents` (the copy's, which a KB copied from `src`'s KB holds: `rag kb reembed
    --into`) kept by `dst` too, within its bounds (its `keep`: none with keeping off, up to its cap); a folder's
    into a folder hardlinked where it can be. A copy is written once: one `dst` holds is left as it is."""
    out = CopiedUploads()
    with src.reading(documents) as kept:
        for source, path, _ in kept.found:
            digest = kept.digests[path].sha
            if isinstance(dst, Originals):
                done = dst.keep(path, source, digest, link=isinstance(src, Originals))
            else:
                done = dst.keep(path, source, digest)
            if done.kept:
                out.copied += 1
            else:
                out.not_kept.append(source)
        out.missing = [d.source for d in kept.not_kept + kept.damaged]
    return out
