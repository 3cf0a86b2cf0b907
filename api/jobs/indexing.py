"""What a worker does with one uploaded file: index it into its KB through the store's one writer."""
from __future__ import annotations

import hashlib
from pathlib import Path

from api.jobs.runner import FileOutcome
from indexer.ingest import Ingestor
from indexer.kbs import KBManager, KBNotFound
from rag.guard.document_guard import DOCUMENT_SCREEN


def upload_doc_id(kb: str, filename: str) -> str:
    """Stable per (KB, file name): uploading a file again replaces its document."""
    return "u" + hashlib.sha1(f"{kb}/{filename}".encode()).hexdigest()[:15]


def index_upload(manager: KBManager, kb: str, filename: str, path: Path, tags: dict[str, str]) -> FileOutcome:
    try:
        store = manager.open(kb, writable=True)
    except KBNotFound:
        return FileOutcome("failed", reason="the knowledge base was deleted before this file was indexed")
    try:
        report = Ingestor(store, manager.encoder(store.embed_model), manager.settings, screen=DOCUMENT_SCREEN) \
            .index_files([(filename, path, upload_doc_id(kb, filename))], tags, progress=False)
    finally:
        store.close()
    r = report.results[0]
    return FileOutcome(r.status, r.doc_id, r.chunks, r.reason)
