"""Uploads kept in the state database (indexer.originals.KeptOriginals), for cluster mode: every API replica and
`rag worker` has a RAG_HOME of its own but reads the same PostgreSQL, so an upload indexed by one worker is read
again by any other (a reparse job, `POST /v1/kbs/{kb}/reparse`'s plan on any replica).

Table `kept_uploads` (schema 9) names each KB's kept copies, `<sha256><ext>` as the folder backend does, with
their size; `kept_upload_chunks` holds their bytes in 1 MB rows (as a job's upload_chunks: bounded memory while
writing and reading). A copy is written in one transaction, under the KB's writer lock, before its document;
it goes with its document (`sweep` after each write), its KB (api.state.forget) or keeping turned off.

An import job (api.jobs.importing) keeps the archive's uploads under the new KB's name before the KB takes the name,
so the job marks those rows (table `kept_upload_jobs`, schema 10) until the KB does (`taken`); a failed import
removes the rows it marked (`abandoned`), never a KB's: a row a KB keeps too (the same bytes, kept before or after)
is the KB's, unmarked.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from api.state.base import Database
from indexer.originals import Kept, KeptUploads, is_upload, kept_name, original_name, over_cap_reason
from indexer.reread import KnownDigest, file_sha, sha256_file
from indexer.store.base import now
from indexer.types import DocumentInfo

CHUNK = 1 << 20  # bytes per stored row, as a job's upload chunks (api.jobs.store)


class DatabaseOriginals:
    """The kept uploads of KB `kb` in the state database. `scratch`: where a copy is written for the block of
    `reading` (the parsers read files), removed after it."""

    def __init__(self, db: Database, kb: str, enabled: bool = True, max_bytes: int | None = None,
                 scratch: Path | None = None, job: str = ""):
        """`job`: the import job keeping uploads for a KB not yet in place ('': the KB's own)."""
        self.db, self.kb, self.enabled, self.max_bytes, self.scratch = db, kb, enabled, max_bytes, scratch
        self.job = job
        self._names: set[str] | None = None  # is_kept's: the KB's kept names, read once (a plan of N documents)

    def _sizes(self) -> dict[str, int]:
        """The KB's kept copies: the size of each, by name."""
        return {r["name"]: int(r["size"]) for r in self.db.query("SELECT name, size FROM kept_uploads WHERE kb = ?",
                                                                  (self.kb,))}

    def is_kept(self, info: DocumentInfo) -> bool:
        if not self.enabled or not is_upload(info):
            return False
        if self._names is None:
            self._names = set(self._sizes())
        return kept_name(info) in self._names

    def used_bytes(self) -> int:
        row = self.db.one("SELECT coalesce(sum(size), 0) AS n FROM kept_uploads WHERE kb = ?", (self.kb,))
        return int(row["n"]) if row is not None else 0

    def keep(self, path: Path, source: str, sha: str | None = None, freed: str = "") -> Kept:
        if not self.enabled:
            return Kept(False)
        name = original_name(sha or sha256_file(path), source)
        size = path.stat().st_size
        self._names = None
        with self.db.tx() as t:
            if t.query("SELECT size FROM kept_uploads WHERE kb = ? AND name = ?", (self.kb, name)):
                # the same bytes, kept before. By an import and by the KB: the KB's, whatever the import's end. By an
                # import that ended without removing it (`rag kb import` interrupted, a removal that failed) and by
                # this one: this import's, so that its failure removes it (unmarked, no later failure would)
                if self.job:
                    t.execute("UPDATE kept_upload_jobs SET job = ? WHERE kb = ? AND name = ?", (self.job, self.kb, name))
                else:
                    t.execute("DELETE FROM kept_upload_jobs WHERE kb = ? AND name = ?", (self.kb, name))
                return Kept(True)
            used = int(t.query("SELECT coalesce(sum(size), 0) AS n FROM kept_uploads WHERE kb = ? AND name <> ?",
                               (self.kb, freed))[0]["n"])
            if self.max_bytes is not None and used + size > self.max_bytes:
                return Kept(False, over_cap_reason(self.max_bytes))
            t.execute("INSERT INTO kept_uploads(kb, name, size, kept_at) VALUES (?,?,?,?)", (self.kb, name, size, now()))
            if self.job:
                t.execute("INSERT INTO kept_upload_jobs(kb, name, job) VALUES (?,?,?)", (self.kb, name, self.job))
            with open(path, "rb") as fh:
                for seq, data in enumerate(iter(lambda: fh.read(CHUNK), b"")):
                    t.execute("INSERT INTO kept_upload_chunks(kb, name, seq, data) VALUES (?,?,?,?)",
                              (self.kb, name, seq, data))
        return Kept(True)

    @contextmanager
    def reading(self, documents: list[DocumentInfo],
                wanted: Callable[[DocumentInfo], bool] | None = None) -> Iterator[KeptUploads]:
        out = KeptUploads()
        sizes = self._sizes() if self.enabled else {}  # one query, not one a document
        folder = Path(tempfile.mkdtemp(prefix="kept-", dir=self.scratch))
        try:
            for info in documents:
                if not is_upload(info):
                    continue
                name = kept_name(info)
                size = sizes.get(name)
                if size is None:
                    out.not_kept.append(info)
                    continue
                if wanted is not None and not wanted(info):  # `rag index`: not every upload's bytes fetched
                    continue
                path = folder / name
                with open(path, "wb") as fh:
                    for data in self.db.iter_blob("SELECT data FROM kept_upload_chunks WHERE kb = ? AND name = ? "
                                                  "ORDER BY seq", (self.kb, name)):
                        fh.write(data)
                if path.stat().st_size != size:  # rows lost: the ingestor would read other bytes
                    out.damaged.append(info)
                    continue
                out.found.append((info.source, path, info.doc_id))
                # hashed by the ingestor only when it parses the copy (a reparse job always does)
                out.digests[path] = KnownDigest(file_sha(info.content_hash), checked=False)
            yield out
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def sweep(self, documents: list[DocumentInfo]) -> int:
        wanted = {kept_name(d) for d in documents if is_upload(d)} if self.enabled else set()
        gone = [n for n in self._sizes() if n not in wanted]
        self._names = None
        if gone:
            with self.db.tx() as t:  # their chunks cascade
                for name in gone:
                    t.execute("DELETE FROM kept_uploads WHERE kb = ? AND name = ?", (self.kb, name))
        return len(gone)

    def drop(self, info: DocumentInfo) -> None:
        self._names = None
        self.db.execute("DELETE FROM kept_uploads WHERE kb = ? AND name = ?", (self.kb, kept_name(info)))

    def discard(self) -> None:
        self._names = None
        self.db.execute("DELETE FROM kept_uploads WHERE kb = ?", (self.kb,))


def taken(db: Database, job: str) -> int:
    """The uploads import job `job` kept are its KB's now (the KB took its name): no longer removed with the job."""
    return db.execute("DELETE FROM kept_upload_jobs WHERE job = ?", (job,))


def abandoned(db: Database, job: str) -> int:
    """Remove the uploads import job `job` kept for a KB that never took its name (the import failed); a KB's own
    rows carry no mark and stay. How many went (their chunks and marks cascade)."""
    return db.execute("DELETE FROM kept_uploads WHERE (kb, name) IN (SELECT kb, name FROM kept_upload_jobs "
                      "WHERE job = ?)", (job,))


def left_by_failed_imports(db: Database) -> list[tuple[str, str]]:
    """(kb, job) of uploads still marked by an import job that failed or was cancelled without removing them (its
    worker gave up after dying mid-import, api.jobs.runner.MAX_ATTEMPTS)."""
    rows = db.query("SELECT DISTINCT kb, job FROM kept_upload_jobs WHERE job IN "
                    "(SELECT id FROM jobs WHERE status IN ('failed', 'cancelled'))")
    return [(r["kb"], r["job"]) for r in rows]
