"""The service's state for a KB in its archive, from the command line (`rag kb export --with-state`, and
`rag kb import` of such an archive): api.archive_state over the state database this configuration names
(RAG_DATABASE_URL, else RAG_HOME/service.sqlite)."""
from __future__ import annotations

from pathlib import Path

from cli.audited import state_database


def service_state(kb: str, with_secrets: bool) -> bytes:
    from api.archive_state import KBState, collect, to_bytes

    db = state_database()
    if db is None:  # no service ever ran here: no keys, channels or settings
        return to_bytes(KBState())
    try:
        return to_bytes(collect(db, kb, with_secrets))
    finally:
        db.close()


def state_line(carried: bytes) -> str:
    from api.archive_state import parse

    st = parse(carried)
    secret = sorted({f"{c.platform} {name}" for c in st.channels for name in c.left_out})
    return (f"with the service state: {len(st.keys)} API keys (as hashes), channels "
            f"{', '.join(c.platform for c in st.channels) or 'none'}"
            + (f" (left out, to re-enter after import: {', '.join(secret)}; --with-secrets carries them)"
               if secret else "")
            + f", promoted settings {'yes' if st.settings else 'none'}")


def state_to_restore(mgr, path: Path, as_name: str | None, replace: bool, limits):
    """The state the archive carries, checked against this state database before anything is imported (None:
    it carries none)."""
    from api.archive_state import planned
    from indexer.archive.format import STATE
    from indexer.archive.import_ import target_name
    from indexer.archive.reader import ArchiveReader

    with ArchiveReader(path, limits) as archive:
        if archive.manifest.members.get(STATE) is None:
            return None
        target = target_name(archive.manifest, as_name)
    db = state_database(create=True)
    try:
        return planned(db, path, target, replace, limits)
    finally:
        db.close()


def restore_state(kb: str, st, replace: bool) -> list[str]:
    from api.archive_state import restore

    db = state_database(create=True)
    try:
        return restore(db, kb, st, replace).lines(kb)
    finally:
        db.close()
