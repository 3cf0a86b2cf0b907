"""`rag index` and the KB's uploads: files uploaded over HTTP read again from their kept originals
(indexer.originals, indexer.upload_reread), and what it says about those whose originals are not kept."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.state import state
from indexer.ingest import IngestReport
from indexer.originals import KeptOriginals
from indexer.upload_reread import UploadReread

if TYPE_CHECKING:
    from api.state.base import Database


@contextmanager
def service_db(mgr) -> Iterator[Database | None]:
    """The service's state database in cluster mode (RAG_DATABASE_URL), open for the block; None without a URL (no
    service database is opened, nor made): KBs keep their uploads in their folders then."""
    from api.config import ServiceSettings

    url = ServiceSettings.load(state.config).database_url
    if not url:
        yield None
        return
    from api.state.factory import open_database

    db = open_database(url, Path(mgr.settings.home))
    try:
        yield db
    finally:
        db.close()


@contextmanager
def kb_originals(mgr, kb: str) -> Iterator[KeptOriginals]:
    """The KB's kept uploads where the service keeps them (api.jobs.originals): the state database in cluster mode
    (RAG_DATABASE_URL), else the KB's folder."""
    from api.jobs.originals import kept_originals

    with service_db(mgr) as db:
        yield kept_originals(mgr.settings, kb, db)


def reread_kept_uploads(kb: str, mgr, store, reparse: bool, quiet: bool) -> UploadReread:
    """The KB's uploads read again from their kept originals (`reparse`: every one; else those an older parser or
    chunker read), each with its own name and tags. Uploads are screened for planted instructions as the service
    screens them, whether or not `rag index --trust` was given: they come from the service's users."""
    from indexer.ingest import Ingestor
    from indexer.upload_reread import reread_uploads
    from rag.guard.document_guard import DOCUMENT_SCREEN

    ingestor = Ingestor(store, mgr.encoder(store.embed_model), mgr.settings, screen=DOCUMENT_SCREEN)
    with kb_originals(mgr, kb) as originals:
        return reread_uploads(ingestor, originals, reparse, progress=not quiet)


def add_uploads(report: IngestReport, uploads: UploadReread, everything: bool) -> None:
    """The uploads' results in `rag index`'s report: every one (`everything`, --reparse alone), else those read
    again, failed or deferred (an upload that did not need reading is no news to a run given paths)."""
    report.results += [r for r in uploads.report.results
                       if everything or r.status != "unchanged" or r.deferred]


def warn_not_kept(kb: str, uploads: UploadReread, by_name: bool) -> None:
    """Name each upload that could not be read again (`by_name`), or count them and say how to list them."""
    if not uploads.not_kept:
        return
    if by_name:
        for d in uploads.not_kept:
            typer.secho(f"NOT RE-READ {d.source} (uploaded, {d.doc_id}): {uploads.advice}", fg="yellow", err=True)
    elif uploads.keeping:  # where uploads are not kept on purpose, every run would say it again
        typer.secho(f"NOTE {kb}: {len(uploads.not_kept)} uploaded documents have no kept original, so a parser "
                    f"upgrade cannot reach them; `rag index --reparse --kb {kb}` names them", fg="yellow", err=True)
