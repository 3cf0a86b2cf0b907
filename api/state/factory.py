"""The state database from config: PostgreSQL when RAG_DATABASE_URL is set, else SQLite under RAG_HOME."""
from __future__ import annotations

from pathlib import Path

from api.state.base import Database
from api.state.migrations import migrate
from indexer.url_secret import check_postgres_url


def open_database(url: str | None, home: Path) -> Database:
    """Open and migrate. `url`: postgresql://user:password@host:port/db, or None for home/service.sqlite."""
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"RAG_DATABASE_URL must be a postgresql:// URL, got {url.split(':', 1)[0]}://...")
        try:
            check_postgres_url(url)  # ServiceSettings checks it too: this is for a URL given here directly
        except ValueError as e:
            raise ValueError(f"RAG_DATABASE_URL: {e}") from None
        from api.state.postgres import PostgresDatabase

        db: Database = PostgresDatabase(url)
    else:
        from api.state.sqlite import SQLiteDatabase

        db = SQLiteDatabase(home / "service.sqlite")
    migrate(db)
    return db
