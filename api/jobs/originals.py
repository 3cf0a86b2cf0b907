"""Where a KB's uploads are kept (indexer.originals.KeptOriginals), from the state database the process uses:
in cluster mode (PostgreSQL, every replica and worker with a RAG_HOME of its own) the database itself
(api.state.kept_uploads), so any worker reads what another kept; in embedded mode (SQLite beside the KBs) the
KB's folder, as before."""
from __future__ import annotations

from pathlib import Path

from api.state.base import Database
from indexer.config import IndexerSettings
from indexer.originals import KeptOriginals, Originals


def kept_originals(settings: IndexerSettings, kb: str, db: Database | None, job: str = "") -> KeptOriginals:
    """`db`: the service's state database; None (a process without one: the CLI in embedded mode) keeps them in
    the KB's folder. `job`: the import job keeping them before KB `kb` is in place (api.state.kept_uploads)."""
    if db is not None and db.dialect == "postgresql":
        from api.state.kept_uploads import DatabaseOriginals

        return DatabaseOriginals(db, kb, settings.keep_originals, int(settings.originals_max_mb * 2**20),
                                 scratch=_scratch(settings), job=job)
    return Originals.of(settings, kb)


def _scratch(settings: IndexerSettings) -> Path:
    """Copies read out of the database for a parser live here while read (beside the uploads in flight, which
    the service empties at start; removed after each read)."""
    folder = Path(settings.home) / ".uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
