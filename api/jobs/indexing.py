"""What a worker does with one uploaded file: index it into its KB through the store's one writer, keeping its
bytes (indexer.originals, where api.jobs.originals says) so that it can be read again after a parser upgrade;
and with one document of a reparse job: read it again from those bytes."""
from __future__ import annotations

import logging
from pathlib import Path

from api.jobs.originals import kept_originals
from api.jobs.runner import FileOutcome
from api.state.base import Database
from indexer.ingest import Ingestor
from indexer.kbs import KBManager, KBNotFound
from indexer.originals import freed_copy, sweep_written, upload_doc_id
from indexer.reread import KnownDigest, sha256_file
from indexer.store.write_errors import write_error
from indexer.upload_reread import reread_uploads
from rag.guard.document_guard import DOCUMENT_SCREEN

__all__ = ["index_upload", "reread_upload", "upload_doc_id"]
log = logging.getLogger("api.jobs")


def _ingestor(manager: KBManager, store) -> Ingestor:
    """An upload is indexed as any file, screened for planted instructions whatever the KB's trust."""
    return Ingestor(store, manager.encoder(store.embed_model), manager.settings, screen=DOCUMENT_SCREEN)


def index_upload(manager: KBManager, kb: str, filename: str, path: Path, tags: dict[str, str],
                 db: Database | None = None) -> FileOutcome:
    """`db`: the state database (api.jobs.originals: in cluster mode the upload is kept there)."""
    try:
        store = manager.open(kb, writable=True)
    except KBNotFound:
        return FileOutcome("failed", reason="the knowledge base was deleted before this file was indexed")
    originals = kept_originals(manager.settings, kb, db)
    try:
        sha = sha256_file(path)  # once: the kept copy's name and the document's content hash
        doc_id = upload_doc_id(kb, filename)
        replaced = store.document(doc_id)
        freed = freed_copy(store.documents(), replaced, sha) if replaced is not None else ""
        try:
            kept = originals.keep(path, filename, sha, freed)
        except OSError as e:
            if write_error(e) is not None:
                raise  # a full or read-only disk: the upload waits for room (api.jobs.runner)
            log.warning("%s: the upload %s could not be kept", kb, filename, exc_info=True)
            kept_reason = f"its original was not kept ({e.strerror or type(e).__name__}), so it cannot be read again " \
                          "after a parser upgrade unless uploaded again"
        else:
            kept_reason = kept.reason
        report = _ingestor(manager, store).index_files([(filename, path, doc_id)], tags,
                                                       progress=False, digests={path: KnownDigest(sha)})
        sweep_written(originals, store)  # the bytes of a document replaced, or of this file when it failed
    finally:
        store.close()
    r = report.results[0]
    reason = "; ".join(part for part in (r.reason, kept_reason if r.status != "failed" else "") if part)
    return FileOutcome(r.status, r.doc_id, r.chunks, reason)


def reread_upload(manager: KBManager, kb: str, doc_id: str, db: Database | None = None) -> FileOutcome:
    """Read uploaded document `doc_id` again from its kept original, with its name and tags (a reparse job)."""
    try:
        store = manager.open(kb, writable=True)
    except KBNotFound:
        return FileOutcome("failed", reason="the knowledge base was deleted before this document was read again")
    originals = kept_originals(manager.settings, kb, db)
    try:
        if store.document(doc_id) is None:
            return FileOutcome("failed", doc_id, reason="the document was deleted before it was read again")
        done = reread_uploads(_ingestor(manager, store), originals, reparse=True, doc_ids={doc_id})
    finally:
        store.close()
    if done.not_kept:  # its original went since the job was made (keeping turned off, the copy removed)
        return FileOutcome("failed", doc_id, done.not_kept[0].chunks, done.advice)
    r = done.report.results[0]
    return FileOutcome(r.status, r.doc_id or doc_id, r.chunks, r.reason)
