"""Reading an archive that may be damaged or hostile: it is refused, naming what is wrong, before anything
is written, when it is not a zip of the three members and the optional ones (indexer.archive.format: the
service state, the OCR cache, kept uploads named `originals/<SHA-256>[.ext]`, at most MAX_ORIGINALS; no other
name, so no path of any kind, no encrypted or oddly compressed member), when a member inflates more than
`max_ratio` times or the whole past `max_gb` (a zip bomb), when the manifest is not the format's, is of a
newer version or does not match the members' sizes, when a checksum differs, or when a document line
is not a valid record (unknown fields, ids of another document, a document twice, counts off the
manifest's, vectors that are not finite numbers). Nothing is extracted to disk: members are read as
streams, never past their declared sizes."""
from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from pydantic import ValidationError

from indexer.archive import format as F
from indexer.archive.progress import Meter, OnProgress

BLOCK = 1 << 22  # bytes read at a time (a multiple of 4: whole float32 values)
# the zip's directory: the members and optional ones, and MAX_ORIGINALS kept uploads of ~120 bytes each
MAX_ENTRIES = len(F.MEMBERS) + len(F.OPTIONAL) + F.MAX_ORIGINALS
MAX_DIRECTORY_MB = 64.0
# what zipfile raises reading a member whose bytes were altered (CRC, deflate stream, early end)
DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError)


@dataclass(frozen=True)
class ArchiveLimits:
    max_gb: float = 64.0          # all members together, uncompressed (a KB of ~10 million chunks)
    max_ratio: float = 100.0      # uncompressed / compressed per member: JSON lines of text stay under ~10
    max_line_mb: float = 256.0    # one document's line (5,000 chunks of the largest size fit)
    max_manifest_mb: float = 32.0  # MAX_ORIGINALS kept uploads at ~130 bytes each in its member list
    max_ocr_cache_mb: float = 4096.0  # the OCR cache (a KB keeps at most ocr_cache_mb, 512 by default)


def _mb(n: int) -> str:
    return f"{n / 2**20:.3g} MB"


class ArchiveReader:
    """An opened, structurally checked archive. `verify()` then checks every byte; `documents()` streams it."""

    def __init__(self, path: Path, limits: ArchiveLimits = ArchiveLimits()):
        self.path, self.limits = Path(path), limits
        if not self.path.is_file():
            raise F.ArchiveError(f"no archive at {self.path} (give the file `rag kb export` wrote)")
        self._check_directory()
        try:
            self.zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise F.ArchiveError(f"{self.path} is not a knowledge base archive: not a readable zip file ({e}); "
                                 "it may be damaged or truncated: copy it again, or export the KB again") from e
        try:
            self._check_members()
            self.manifest = self._read_manifest()
            self._check_sizes()
        except BaseException:
            self.zip.close()
            raise

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> "ArchiveReader":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def _fail(self, what: str) -> F.ArchiveError:
        return F.ArchiveError(f"refused archive {self.path.name}: {what}")

    # ---- structure -------------------------------------------------------------------
    def _check_directory(self) -> None:
        """Refuse a zip whose directory lists more entries, or takes more bytes, than an archive can hold, before
        zipfile reads it whole into memory (a few bytes of a hostile zip can claim millions of names)."""
        try:
            with open(self.path, "rb") as fp:
                end = zipfile._EndRecData(fp)  # the end record (zip64's too); zipfile reads it first the same way
        except (OSError, AttributeError, zipfile.BadZipFile):
            return  # ZipFile itself says what is wrong
        if end is None:
            return
        entries, size = int(end[zipfile._ECD_ENTRIES_TOTAL]), int(end[zipfile._ECD_SIZE])
        if entries > MAX_ENTRIES or size > MAX_DIRECTORY_MB * 2**20:
            raise self._fail(f"its directory lists {entries} entries in {_mb(size)}, over the limit of {MAX_ENTRIES} "
                             f"entries and {MAX_DIRECTORY_MB:g} MB: it was not written by `rag kb export`")

    def _check_members(self) -> None:
        infos = self.zip.infolist()
        names = [i.filename for i in infos]
        odd = [n for n in names if n not in F.MEMBERS + F.OPTIONAL and not F.is_original(n)]
        if odd:
            shown = ", ".join(repr(n[:100]) for n in odd[:5]) + (f" and {len(odd) - 5} more" if len(odd) > 5 else "")
            raise self._fail(f"it holds {shown}, which no knowledge base archive holds (only "
                             f"{', '.join(F.MEMBERS + F.OPTIONAL)} and {F.ORIGINALS}<SHA-256>[.ext]); it was not "
                             "written by `rag kb export`, or was altered")
        if (kept := sum(map(F.is_original, names))) > F.MAX_ORIGINALS:
            raise self._fail(f"it holds {kept} kept uploads, over the limit of {F.MAX_ORIGINALS}")
        missing = [n for n in F.MEMBERS if n not in names]
        if missing or len(names) != len(set(names)):
            raise self._fail(f"{'it lacks ' + ', '.join(missing) if missing else 'a member appears twice'}; "
                             "it is damaged or was altered: export the KB again")
        total = 0
        for i in infos:
            if i.flag_bits & 0x1:
                raise self._fail(f"{i.filename} is encrypted")
            if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self._fail(f"{i.filename} uses compression method {i.compress_type} (only stored and deflated)")
            if i.file_size > 2**20 and i.file_size > self.limits.max_ratio * max(i.compress_size, 1):
                raise self._fail(f"{i.filename} would inflate {i.file_size / max(i.compress_size, 1):.0f} times "
                                 f"(from {_mb(i.compress_size)} to {_mb(i.file_size)}; the limit is "
                                 f"{self.limits.max_ratio:g}): a zip bomb, or not an archive `rag kb export` wrote")
            total += i.file_size
        if total > self.limits.max_gb * 2**30:
            raise self._fail(f"its members hold {total / 2**30:.3g} GB uncompressed, over the limit of "
                             f"{self.limits.max_gb:g} GB; if you trust it, import with a higher --max-gb")

    def _read_manifest(self) -> F.Manifest:
        info = self.zip.getinfo(F.MANIFEST)
        if info.file_size > self.limits.max_manifest_mb * 2**20:
            raise self._fail(f"its manifest is {_mb(info.file_size)}, over the limit of "
                             f"{self.limits.max_manifest_mb:g} MB")
        raw = self._read_all(F.MANIFEST, info.file_size)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise self._fail(f"its manifest is not JSON ({e})") from e
        if not isinstance(data, dict) or data.get("format") != F.FORMAT:
            raise self._fail(f"its manifest does not name the format {F.FORMAT!r}: not a knowledge base archive")
        version = data.get("version")
        if isinstance(version, int) and version > F.VERSION:
            raise self._fail(f"it is of format version {version}, newer than this version of the software reads "
                             f"(up to {F.VERSION}): upgrade it here, then import")
        try:
            return F.Manifest.model_validate_json(raw)
        except ValidationError as e:
            raise self._fail(f"its manifest is invalid: {_errors(e)}") from e

    def _check_sizes(self) -> None:
        m = self.manifest
        held = {n for n in self.zip.namelist() if n not in (F.MANIFEST,)}
        if set(m.members) != held:
            shown = sorted(set(m.members) ^ held)
            raise self._fail(f"its manifest's members differ from those it holds ({', '.join(shown[:5])}"
                             f"{' ...' if len(shown) > 5 else ''})")
        if F.STATE in held and m.members[F.STATE].size > F.MAX_STATE_MB * 2**20:
            raise self._fail(f"its {F.STATE} is {_mb(m.members[F.STATE].size)}, over the limit of "
                             f"{F.MAX_STATE_MB:g} MB")
        if F.OCR_CACHE in held and m.members[F.OCR_CACHE].size > self.limits.max_ocr_cache_mb * 2**20:
            raise self._fail(f"its {F.OCR_CACHE} is {_mb(m.members[F.OCR_CACHE].size)}, over the limit of "
                             f"{self.limits.max_ocr_cache_mb:g} MB")
        for name in self.kept_uploads():
            if F.ORIGINAL_MEMBER.match(name).group(1) != m.members[name].sha256:
                raise self._fail(f"{name} is listed with another SHA-256 than its name: the archive was altered")
        for name, member in m.members.items():
            if self.zip.getinfo(name).file_size != member.size:
                raise self._fail(f"{name} holds {self.zip.getinfo(name).file_size} bytes, the manifest says "
                                 f"{member.size}: the archive is damaged or truncated")
        if m.members[F.VECTORS].size != m.chunks * m.dim * 4:
            raise self._fail(f"{F.VECTORS} holds {m.members[F.VECTORS].size} bytes, not the {m.chunks} x {m.dim} "
                             f"float32 values of the manifest's {m.chunks} chunks")

    def _read_all(self, name: str, size: int) -> bytes:
        try:
            with self.zip.open(name) as f:
                data = f.read(size + 1)
        except DAMAGED as e:
            raise self._damaged(e) from e
        if len(data) != size:
            raise self._fail(f"{name} does not hold the {size} bytes its entry declares")
        return data

    # ---- content ---------------------------------------------------------------------
    def _damaged(self, e: Exception) -> F.ArchiveError:
        return self._fail(f"it is damaged ({e}): copy it again, or export the KB again")

    def verify(self, progress: bool = True, report: OnProgress | None = None) -> None:
        """Check every byte against the manifest: checksums, each document line, the counts, the vectors
        (`report`: told the bytes read, as they are)."""
        try:
            self._verify(progress, report)
        except DAMAGED as e:
            raise self._damaged(e) from e

    def _verify(self, progress: bool, report: OnProgress | None) -> None:
        m = self.manifest
        bar = Meter("checking", m.members[F.DOCUMENTS].size + m.members[F.VECTORS].size, "B", progress, report)
        docs = chunks = 0
        seen: set[str] = set()
        digest = hashlib.sha256()
        with self.zip.open(F.DOCUMENTS) as f:
            for n, line in enumerate(self._lines(f), 1):
                digest.update(line)
                bar.update(len(line))
                doc = self._parse(line, n)
                if doc.doc_id in seen:
                    raise self._fail(f"{F.DOCUMENTS} line {n}: document {doc.doc_id!r} appears twice")
                seen.add(doc.doc_id)
                docs += 1
                chunks += len(doc.chunks)
                if docs > m.documents or chunks > m.chunks:  # at once: what is held here stays as the manifest says
                    raise self._fail(f"{F.DOCUMENTS} holds more than the manifest's {m.documents} documents and "
                                     f"{m.chunks} chunks")
        self._check_digest(F.DOCUMENTS, digest)
        if (docs, chunks) != (m.documents, m.chunks):
            raise self._fail(f"{F.DOCUMENTS} holds {docs} documents and {chunks} chunks, the manifest says "
                             f"{m.documents} and {m.chunks}")
        digest = hashlib.sha256()
        with self.zip.open(F.VECTORS) as f:
            left = m.members[F.VECTORS].size
            while left > 0:
                block = f.read(min(BLOCK, left))
                if not block:
                    break
                left -= len(block)
                digest.update(block)
                bar.update(len(block))
                if not np.isfinite(np.frombuffer(block[:len(block) // 4 * 4], dtype="<f4")).all():
                    raise self._fail(f"{F.VECTORS} holds values that are not finite numbers")
        bar.close()
        self._check_digest(F.VECTORS, digest)
        self.state()
        for name in [*self.kept_uploads(), *([F.OCR_CACHE] if F.OCR_CACHE in m.members else [])]:
            self.copy_member(name, None)

    def kept_uploads(self) -> list[str]:
        """The members holding the KB's kept uploads (F.ORIGINALS), as the manifest lists them."""
        return sorted(n for n in self.manifest.members if F.is_original(n))

    def copy_member(self, name: str, out: BinaryIO | None) -> int:
        """Member `name`'s bytes written to `out` (None: only read), never past its declared size, its checksum
        verified at the end (ArchiveError: it differs; `out` then holds bytes to throw away). Returns its size."""
        member = self.manifest.members[name]
        digest, left = hashlib.sha256(), member.size
        try:
            with self.zip.open(name) as f:
                while left > 0 and (block := f.read(min(BLOCK, left))):
                    left -= len(block)
                    digest.update(block)
                    if out is not None:
                        out.write(block)
        except DAMAGED as e:
            raise self._damaged(e) from e
        if left:
            raise self._fail(f"{name} does not hold the {member.size} bytes its entry declares")
        self._check_digest(name, digest)
        return member.size

    def state(self) -> bytes | None:
        """The service state the archive carries for its KB (F.STATE), its checksum verified; None without one."""
        member = self.manifest.members.get(F.STATE)
        if member is None:
            return None
        data = self._read_all(F.STATE, member.size)
        self._check_digest(F.STATE, hashlib.sha256(data))
        return data

    def _check_digest(self, name: str, digest) -> None:
        if digest.hexdigest() != self.manifest.members[name].sha256:
            raise self._fail(f"the checksum of {name} differs from the manifest's: the archive is damaged "
                             "(copy it again, or export the KB again)")

    def _lines(self, f) -> Iterator[bytes]:
        limit = int(self.limits.max_line_mb * 2**20)
        left = self.manifest.members[F.DOCUMENTS].size
        n = 0
        while left > 0:
            line = f.readline(min(limit, left) + 1)
            if not line:
                return
            n += 1
            left -= len(line)
            if not line.endswith(b"\n"):
                raise self._fail(f"{F.DOCUMENTS} line {n} is over {self.limits.max_line_mb:g} MB or unterminated")
            yield line

    def _parse(self, line: bytes, n: int) -> F.DocumentLine:
        try:
            return F.DocumentLine.model_validate_json(line)
        except ValidationError as e:
            raise self._fail(f"{F.DOCUMENTS} line {n} is not a valid document: {_errors(e)}") from e

    def documents(self) -> Iterator[tuple[F.DocumentLine, np.ndarray]]:
        """Each document with its chunks' vectors (n_chunks x dim float32), in archive order (after verify():
        the file may still change under it)."""
        try:
            yield from self._documents()
        except DAMAGED as e:
            raise self._damaged(e) from e

    def _documents(self) -> Iterator[tuple[F.DocumentLine, np.ndarray]]:
        dim = self.manifest.dim
        with self.zip.open(F.DOCUMENTS) as docs, self.zip.open(F.VECTORS) as vectors:
            for n, line in enumerate(self._lines(docs), 1):
                doc = self._parse(line, n)
                want = len(doc.chunks) * dim * 4
                data = vectors.read(want)
                if len(data) != want:
                    raise self._fail(f"{F.VECTORS} ends before the vectors of {F.DOCUMENTS} line {n}")
                yield doc, np.frombuffer(data, dtype="<f4").reshape(len(doc.chunks), dim).astype(np.float32)


def _errors(e: ValidationError) -> str:
    parts = [f"{'.'.join(str(x) for x in err['loc']) or 'value'}: {err['msg']}" for err in e.errors()[:3]]
    more = len(e.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
