"""The files a KB keeps beside its documents, carried in its archive (indexer.archive.format): its kept uploads
(indexer.originals: `originals/<SHA-256><ext>`) and its OCR result cache (indexer.parse.ocr_cache), so that the
imported KB re-reads its uploads (`rag index --reparse`, POST /v1/kbs/{kb}/reparse) without their being uploaded
again, and its scans without Tesseract reading them again.

Export: each upload document's kept copy, hashed as it is copied (one that no longer matches its name is damaged:
left out and reported, never carried as other bytes), and a consistent copy of the cache (SQLite's backup, the KB
serving meanwhile). Import (into the hidden copy, before it takes the KB's name): each kept upload an archived
document names, its checksum verified again as written, through the importing configuration's Originals (so
keep_originals off keeps none, and originals_max_mb bounds what a hostile archive can make the disk hold: past it
the rest are not kept, and said so); the cache only when not over ocr_cache_mb (0: none kept) and a SQLite
database that checks out. Names are the archive's checked member names (indexer.archive.reader), never a path."""
from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import zipfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from indexer.archive import format as F
from indexer.archive.checked_copy import CheckedCopier
from indexer.archive.reader import ArchiveReader
from indexer.originals import KeptOriginals, KeptUploads, is_upload, original_name
from indexer.parse.ocr_cache import CACHE_FILE, remove_files
from indexer.parse.ocr_cache_files import backup
from indexer.parse.ocr_cache_where import OcrCacheAt
from indexer.reread import file_sha
from indexer.types import DocumentInfo

log = logging.getLogger(__name__)
COPY_BLOCK = 1 << 20


@dataclass
class CarriedFiles:
    """What an export carried beside the documents (the size report)."""
    originals: int = 0
    originals_bytes: int = 0
    ocr_cache_bytes: int = 0  # 0: no cache carried (none, or left out)
    damaged: list[str] = field(default_factory=list)  # sources whose kept copy no longer matched: left out

    def line(self) -> str:
        cache = f"the OCR cache ({self.ocr_cache_bytes / 2**20:.1f} MB)" if self.ocr_cache_bytes else "no OCR cache"
        return (f"carried {self.originals} kept uploads ({self.originals_bytes / 2**20:.1f} MB) and {cache}; "
                "--without-originals leaves them out")


@dataclass
class RestoredFiles:
    """What an import put back beside the documents."""
    originals: int = 0
    not_kept: int = 0      # carried, but not kept here (keep_originals off, or past originals_max_mb)
    not_kept_reason: str = ""
    ocr_cache: bool = False
    ocr_cache_reason: str = ""  # why a carried cache was not put back

    def lines(self) -> list[str]:
        """What was put back and what was not, for people (nothing when the archive carried none)."""
        if not (self.originals or self.not_kept or self.ocr_cache or self.ocr_cache_reason):
            return []
        out = [f"restored {self.originals} kept uploads (`rag index --reparse` re-reads them) and "
               f"{'the OCR cache' if self.ocr_cache else 'no OCR cache'}"]
        if self.not_kept:
            out.append(f"not kept: {self.not_kept} uploads the archive carried ({self.not_kept_reason})")
        if self.ocr_cache_reason:
            out.append(self.ocr_cache_reason)
        return out


def kept_member(info: DocumentInfo) -> str | None:
    """The archive member of upload document `info`'s kept copy; None for a document that is not an upload."""
    return F.ORIGINALS + original_name(file_sha(info.content_hash), info.source) if is_upload(info) else None


def write_kept(zf: zipfile.ZipFile, documents: list[DocumentInfo], originals: KeptOriginals | None,
               ocr_cache: OcrCacheAt | None, snapshot: Path) -> tuple[dict[str, F.Member], CarriedFiles]:
    """The kept uploads of `documents` (those in the archive), wherever the KB keeps them (its folder, the state
    database), and its OCR cache, wherever it is (the file in its folder, the state database: `ocr_cache`, the
    store's), into `zf` (`snapshot`: an empty file the export holds, for the cache's copy, a SQLite cache file
    either way): their manifest entries and the report."""
    members: dict[str, F.Member] = {}
    out = CarriedFiles()
    by_id = {d.doc_id: d for d in documents}
    with originals.reading(documents) if originals is not None else nullcontext(KeptUploads()) as kept, \
            CheckedCopier(snapshot.parent) as copier:
        out.damaged += [d.source for d in kept.damaged]
        for source, path, doc_id in kept.found:
            name = kept_member(by_id[doc_id])
            if name is None or name in members:
                continue
            try:
                member = _add_kept(zf, copier, name, path)
            except FileNotFoundError:
                continue  # its document was deleted (or replaced) since it was read: the sweep took its copy
            if member is None:
                out.damaged.append(source)
                continue
            members[name] = member
            out.originals += 1
            out.originals_bytes += members[name].size
    if ocr_cache is not None and _snapshot(ocr_cache, snapshot):
        members[F.OCR_CACHE] = _add_file(zf, F.OCR_CACHE, snapshot)
        out.ocr_cache_bytes = members[F.OCR_CACHE].size
    return members, out


def _add_kept(zf: zipfile.ZipFile, copier: CheckedCopier, name: str, path: Path) -> F.Member | None:
    """Kept upload `path` into `zf` as `name`, read once, whatever its size (up to originals_max_mb), hashed as it is
    staged (indexer.archive.checked_copy). None when its bytes no longer match the SHA-256 its name is (a damaged
    copy): it is then never begun in the zip, so never carried as other bytes."""
    return copier.add(zf, _zip_info(name, path), path, F.ORIGINAL_MEMBER.match(name).group(1))


def _add_file(zf: zipfile.ZipFile, name: str, path: Path) -> F.Member:
    """File `path` into `zf` as `name`, hashed as it is copied."""
    return _copy(zf, _zip_info(name, path), path)


def _zip_info(name: str, path: Path) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_file_time(path))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _copy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> F.Member:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
        while block := src.read(COPY_BLOCK):
            digest.update(block)
            size += len(block)
            dst.write(block)
    return F.Member(size=size, sha256=digest.hexdigest())


def _file_time(path: Path) -> tuple[int, int, int, int, int, int]:
    from datetime import datetime

    return max(datetime.fromtimestamp(path.stat().st_mtime).timetuple()[:6], (1980, 1, 1, 0, 0, 0))


def _snapshot(src: OcrCacheAt, dst: Path) -> bool:
    """A consistent copy of the KB's cache (written meanwhile) at `dst`, a SQLite cache file; False when it has
    none, or (logged) when it cannot be read: the archive then carries no cache, and the imported KB's scans are
    read by OCR again."""
    if src.shared:
        import psycopg

        from indexer.parse.ocr_cache_pg import dump

        try:
            dst.unlink(missing_ok=True)  # the export's empty placeholder: dump makes the database
            return dump(src.url, src.kb, dst) > 0
        except (psycopg.Error, sqlite3.Error, OSError) as e:
            log.warning("the OCR cache of %r in the state database could not be read (%s): the archive carries none",
                        src.kb, e)
            return False
    if not src.path or not Path(src.path).is_file():
        return False
    try:
        backup(Path(src.path), dst, read_only=True)
        return True
    except sqlite3.Error as e:
        log.warning("the OCR cache %s could not be read (%s): the archive carries none", src.path, e)
        return False


def restore_kept(archive: ArchiveReader, wanted: set[str], originals: KeptOriginals, kb_folder: Path,
                 ocr_cache_mb: float) -> RestoredFiles:
    """The archive's kept uploads that its documents name (`wanted`, kept_member names) through `originals` (the
    importing configuration's: the hidden copy's folder, or the state database in cluster mode), and its OCR cache
    into `kb_folder`. Idempotent: a re-run of an interrupted import finds those already kept."""
    out = RestoredFiles()
    scratch = kb_folder / ".restoring"
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        for name in archive.kept_uploads():
            if name not in wanted:
                continue  # no document of the archive names it: nothing would ever read it
            file_name = name[len(F.ORIGINALS):]
            tmp = scratch / file_name
            with open(tmp, "wb") as fh:
                archive.copy_member(name, fh)
            kept = originals.keep(tmp, file_name, F.ORIGINAL_MEMBER.match(name).group(1))
            tmp.unlink()
            if kept.kept:
                out.originals += 1
            else:
                out.not_kept += 1
                out.not_kept_reason = kept.reason or "keeping uploads is off here (keep_originals)"
    finally:
        for p in scratch.iterdir():
            p.unlink(missing_ok=True)
        scratch.rmdir()
    if F.OCR_CACHE in archive.manifest.members:
        out.ocr_cache, out.ocr_cache_reason = _restore_cache(archive, kb_folder / CACHE_FILE, ocr_cache_mb)
    return out


def shared_ocr_cache(url: str, kb_folder: Path, kb: str, replaced: bool, max_bytes: int) -> None:
    """In cluster mode (`url`: the state database that holds the OCR caches) the cache an import put back in the KB's
    folder goes into the database as KB `kb`'s, replacing what it had, within `max_bytes` (this site's ocr_cache_mb
    now: it may be lower, or 0, when an import stopped here is run again), and the file goes; a replaced KB's cache
    goes when the archive carried none. Never raises: a cache that cannot be moved is logged, and the file stays
    (a re-run of the import moves it)."""
    if not url:
        return
    import psycopg

    from indexer.parse.ocr_cache_pg import drop_kb, load

    path = kb_folder / CACHE_FILE
    try:
        if path.is_file():
            load(url, kb, path, max_bytes=max_bytes)
            remove_files(str(path))
        elif replaced:
            drop_kb(url, kb)
    except (psycopg.Error, sqlite3.Error, OSError) as e:
        log.warning("the OCR cache of the imported knowledge base %r could not be put into the state database (%s): "
                    "its scans are read by OCR again when re-read", kb, e)


def _restore_cache(archive: ArchiveReader, dest: Path, cache_mb: float) -> tuple[bool, str]:
    size = archive.manifest.members[F.OCR_CACHE].size
    if size > cache_mb * 2**20:
        return False, (f"the archive's OCR cache ({size / 2**20:.1f} MB) is over ocr_cache_mb ({cache_mb:g} MB) here: "
                       "not kept; scans are read by OCR again when re-read")
    if dest.exists():
        return True, ""  # put back by an interrupted run of this import
    tmp = dest.with_name(f".{dest.name}.restoring")
    try:
        with open(tmp, "wb") as fh:
            archive.copy_member(F.OCR_CACHE, fh)
            fh.flush()
            os.fsync(fh.fileno())
        if not _is_database(tmp):
            return False, "the archive's OCR cache is not a sound SQLite database: not kept"
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return True, ""


def _is_database(path: Path) -> bool:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        finally:
            db.close()
    except sqlite3.Error:
        return False
