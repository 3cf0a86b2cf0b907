"""Where `rag kb export` reads a KB's kept uploads from and `rag kb import` puts them (indexer.archive.kept_files):
the service's state database in cluster mode (RAG_DATABASE_URL: api.jobs.originals), else the KB's folder."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cli.state import state
from indexer.originals import KeptOriginals


@contextmanager
def import_kept_for(mgr) -> Iterator[Callable[[str], KeptOriginals] | None]:
    """For import_archive's `kept_for`: the state database's kept uploads of a KB in cluster mode, marked as this
    import's until the block ends (removed if it raises); None (the KB's folder, which the import's hidden copy
    becomes) without a database URL."""
    from api.config import ServiceSettings
    from api.jobs.originals import kept_originals

    url = ServiceSettings.load(state.config).database_url
    if not url:
        yield None
        return
    from api.state.factory import open_database
    from api.state.kept_uploads import abandoned, taken

    # the uploads this run keeps are marked as its own until the KB is in place, as an import job's are
    # (api.jobs.importing): a failed import removes them, never a KB's created meanwhile under that name
    mark = f"cli-import-{uuid.uuid4().hex}"
    db = open_database(url, Path(mgr.settings.home))
    try:
        try:
            yield lambda kb: kept_originals(mgr.settings, kb, db, job=mark)
        except Exception:  # not a Ctrl-C: running the command again resumes the import
            abandoned(db, mark)
            raise
        taken(db, mark)
    finally:
        db.close()
