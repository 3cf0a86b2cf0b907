"""Uploaded documents read again from their kept originals (indexer.originals): `rag index` (when a parser or the
chunker changed since, as for files), `rag index --reparse` and the service's reparse job (every one)."""
from __future__ import annotations

from dataclasses import dataclass, field

from indexer.ingest import FileResult, Ingestor, IngestReport
from indexer.originals import DAMAGED, KeptOriginals, is_upload, not_kept_reason, sweep_written
from indexer.reread import DAMAGED_COPY
from indexer.types import DocumentInfo


@dataclass
class UploadReread:
    """The uploads read again (or found unchanged), and those that could not be, by name with what to do."""

    report: IngestReport = field(default_factory=IngestReport)
    not_kept: list[DocumentInfo] = field(default_factory=list)
    advice: str = ""  # what a document of not_kept needs (indexer.originals.not_kept_reason)
    keeping: bool = True  # uploads are kept (keep_originals)


def reread_uploads(ingestor: Ingestor, originals: KeptOriginals, reparse: bool, progress: bool = False,
                   doc_ids: set[str] | None = None) -> UploadReread:
    """Read the KB's uploads again from their kept originals, each with its own name and tags (`reparse`: every
    one; else those an older parser or chunker read, as `rag index` does for files). `doc_ids`: only these.
    The ingestor's store must be open writable; the uploads should be screened as uploads are
    (rag.guard.document_guard.DOCUMENT_SCREEN). A kept copy is not hashed again unless it is read (or its size or
    mtime changed); a damaged one is reported failed and its document left as it was. Kept copies no document
    names any more are removed after."""
    store = ingestor.store
    # one document of a reparse job at a time: looked up, not found in a listing of the KB (N files: N listings)
    docs = store.documents() if doc_ids is None else [d for i in doc_ids if (d := store.document(i)) is not None]
    report = IngestReport()
    with originals.reading(docs, None if reparse else ingestor.rereads()) as kept:
        if kept.found:
            report = ingestor.index_files(kept.found, progress=progress, reparse=reparse, keep_tags=True,
                                          digests=kept.digests)
            names = {name: source for source, path, _ in kept.found for name in (str(path), path.name)}
            for r in report.results:
                r.reason = named_reason(r.reason, names)
        report.results += [FileResult(d.source, "failed", d.doc_id, d.chunks, reason=DAMAGED) for d in kept.damaged]
    # an upload's name is its own among the KB's uploads (indexer.originals.upload_doc_id); a file indexed from a
    # path may share it
    uploads = {d.source: d for d in docs if is_upload(d)}
    for r in report.results:  # found damaged now or by the ingestor before it would have parsed the copy
        if r.status == "failed" and DAMAGED_COPY in r.reason and r.source in uploads:
            originals.drop(uploads[r.source])
    if kept.found:
        sweep_written(originals, ingestor.store)
    return UploadReread(report, kept.not_kept, not_kept_reason(originals), originals.enabled)


def named_reason(reason: str, names: dict[str, str]) -> str:
    """A reason that names the kept file (<sha256>.pdf) names the uploaded file instead."""
    for kept, source in sorted(names.items(), key=lambda kv: -len(kv[0])):
        reason = reason.replace(kept, source)
    return reason
