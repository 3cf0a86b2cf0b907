"""Where `rag kb export` reads a KB's kept uploads from and `rag kb import` puts them (indexer.archive.kept_files):
the service's state database in cluster mode (RAG_DATABASE_URL: api.jobs.originals), else the KB's folder."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cli.state import state
from indexer.originals import KeptOriginals


@contextmanager
def import_kept_for(mgr) -> Iterator[Callable[[str], KeptOriginals] | None]:
    """For import_archive's `kept_for`: the state database's kept uploads of a KB in cluster mode; None (the KB's
    folder, which the import's hidden copy becomes) without a database URL."""
    from api.config import ServiceSettings
    from api.jobs.originals import kept_originals

    url = ServiceSettings.load(state.config).database_url
    if not url:
        yield None
        return
    from api.state.factory import open_database

    db = open_database(url, Path(mgr.settings.home))
    try:
        yield lambda kb: kept_originals(mgr.settings, kb, db)
    finally:
        db.close()
