"""Where `rag kb export` reads a KB's kept uploads from and `rag kb import` puts them (indexer.archive.kept_files):
the service's state database in cluster mode (RAG_DATABASE_URL: api.jobs.originals), else the KB's folder."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cli.kept_uploads import service_db
from indexer.originals import KeptOriginals


@contextmanager
def import_kept_for(mgr) -> Iterator[Callable[[str], KeptOriginals] | None]:
    """For import_archive's `kept_for`: the state database's kept uploads of a KB in cluster mode, marked as this
    import's until the block ends (removed if it raises); None (the KB's folder, which the import's hidden copy
    becomes) without a database URL."""
    from api.jobs.originals import kept_originals
    from api.state.kept_uploads import abandoned, taken

    with service_db(mgr) as db:
        if db is None:
            yield None
            return
        # the uploads this run keeps are marked as its own until the KB is in place, as an import job's are
        # (api.jobs.importing): a failed import removes them, never a KB's created meanwhile under that name
        mark = f"cli-import-{uuid.uuid4().hex}"
        try:
            yield lambda kb: kept_originals(mgr.settings, kb, db, job=mark)
        except Exception:  # not a Ctrl-C: running the command again resumes the import
            abandoned(db, mark)
            raise
        taken(db, mark)
