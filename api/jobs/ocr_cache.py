"""Where the KBs' OCR caches are (indexer.parse.ocr_cache_where), from the state database the process uses: in
cluster mode (PostgreSQL, every replica and worker with a RAG_HOME of its own) the database itself, shared, so a
page one worker read by OCR is not read again by another and a redeployed pod loses nothing; in embedded mode
(SQLite beside the KBs, or none) each KB's folder, as before. The service, `rag worker` and the CLI give their
KBManager the settings this returns."""
from __future__ import annotations

from indexer.config import IndexerSettings


def ocr_cache_settings(settings: IndexerSettings, database_url: str | None) -> IndexerSettings:
    """`database_url`: the service's state database (RAG_DATABASE_URL); a PostgreSQL one holds the OCR caches."""
    shared = database_url if database_url and database_url.startswith(("postgresql://", "postgres://")) else ""
    if shared == settings.ocr_cache_url:
        return settings
    return settings.model_copy(update={"ocr_cache_url": shared})
