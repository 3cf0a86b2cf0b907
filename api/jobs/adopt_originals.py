"""Uploads an earlier release kept on a process's own disk in cluster mode, moved into the state database at start.

Before uploads were kept in PostgreSQL (api.state.kept_uploads), each worker (or replica indexing uploads) kept
them under its own RAG_HOME/<kb>/originals/, where no other process found them. A process of this release that
runs jobs against PostgreSQL hands each such copy an upload document still names to the database (hashed once,
so a damaged one is left out) and removes the folder, copies no document names included: none is stranded on a
disk that the KB's deletes never reach. A copy that cannot be moved now (the store or the database away) stays
for the next start."""
from __future__ import annotations

import logging

from api.jobs.originals import kept_originals
from api.state.base import Database
from indexer.kbs import KBManager, KBNotFound
from indexer.originals import FOLDER, Originals, is_upload, kept_name
from indexer.reread import file_sha, sha256_file

log = logging.getLogger("api.jobs")


def adopt_local_originals(manager: KBManager, db: Database) -> int:
    """Move this home's kept uploads into the state database (PostgreSQL only); how many were moved."""
    if db.dialect != "postgresql" or not manager.home.is_dir():
        return 0
    moved = 0
    for folder in sorted(manager.home.glob(f"*/{FOLDER}")):
        kb = folder.parent.name
        if kb.startswith(".") or not folder.is_dir():
            continue
        try:
            moved += _adopt(manager, db, kb)
        except Exception:  # never keeps the process from starting: the copies stay for the next start
            log.warning("%s: could not move the uploads kept in %s into the state database", kb, folder,
                        exc_info=True)
    if moved:
        log.info("moved %d kept uploads from %s into the state database", moved, manager.home)
    return moved


def _adopt(manager: KBManager, db: Database, kb: str) -> int:
    try:
        store = manager.open(kb)
    except KBNotFound:  # deleted through another process: its copies go
        Originals.of(manager.settings, kb).discard()
        return 0
    try:
        named = {kept_name(d): d for d in store.documents() if is_upload(d)}
    finally:
        store.close()
    target, moved = kept_originals(manager.settings, kb, db), 0
    for path in sorted(Originals.of(manager.settings, kb).folder.iterdir()):
        doc = named.get(path.name)
        if doc is None or not path.is_file() or sha256_file(path) != (sha := file_sha(doc.content_hash)):
            continue  # not an upload's (any more), a temporary, or damaged
        kept = target.keep(path, doc.source, sha)
        if not kept.kept:
            log.warning("%s: the kept upload %s was not moved into the state database: %s", kb, doc.source,
                        kept.reason or "keeping uploads is off")
        moved += kept.kept
    Originals.of(manager.settings, kb).discard()
    return moved
