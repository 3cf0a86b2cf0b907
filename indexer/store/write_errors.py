"""A knowledge base that cannot be written because of where it lives, not because of a bug: the disk
is full (or over quota), the folder is read-only, or this user may not write there. Such an error
becomes a `KBWriteError` saying which and what to do; a crash-safe write leaves each document at its
old or new state, so running the same command again once there is room finishes the job."""
from __future__ import annotations

import errno
import os
import sqlite3

FREE = "free space on that disk (or move RAG_HOME to a larger one)"
WRITABLE = "make the folder writable for this user"
_OS_REASONS = {
    errno.ENOSPC: ("the disk is full", FREE),
    errno.EDQUOT: ("the disk quota is used up", "free space or raise the quota"),
    errno.EROFS: ("the file system is read-only", WRITABLE),
    errno.EACCES: ("permission denied", WRITABLE),
    errno.EPERM: ("permission denied", WRITABLE),
}
# SQLite's messages for the same conditions (it reports them as OperationalError, without an errno)
_SQLITE_REASONS = (
    ("disk is full", ("the disk is full", FREE)),
    ("readonly database", ("the knowledge base's files are read-only", WRITABLE)),
    ("disk i/o error", ("a disk I/O error (a full or failing disk)", "check the disk's free space and health")),
    ("unable to open database file", ("its files cannot be opened for writing", WRITABLE)),
)


class KBWriteError(RuntimeError):
    """`written`: documents that were written before the failure (they are kept)."""

    def __init__(self, reason: str, advice: str, where: str = "", written: int = 0):
        self.reason, self.advice, self.where, self.written = reason, advice, where, written
        place = f" in {where}" if where else ""
        kept = (f"; the {written} document{'s' if written != 1 else ''} written before it stopped "
                f"{'are' if written != 1 else 'is'} kept" if written else "")
        super().__init__(f"cannot write the knowledge base{place}: {reason}{kept}. {advice[0].upper()}{advice[1:]}, "
                         "then run the same command again: what is already in is not indexed again")

    def with_written(self, written: int) -> "KBWriteError":
        return KBWriteError(self.reason, self.advice, self.where, written)


def write_error(exc: BaseException, where: str = "", written: int = 0) -> KBWriteError | None:
    """The KBWriteError `exc` stands for (disk full, read-only, no permission), or None for any other error."""
    if isinstance(exc, KBWriteError):
        return exc.with_written(written) if written and not exc.written else exc
    found = None
    if isinstance(exc, OSError) and exc.errno in _OS_REASONS:
        found = _OS_REASONS[exc.errno]
        where = where or str(exc.filename or "")
    elif isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        found = next((r for sign, r in _SQLITE_REASONS if sign in text), None)
    else:  # libraries that report the system's error in their own exception (faiss: a RuntimeError)
        text = str(exc)
        found = next((_OS_REASONS[n] for n in _OS_REASONS if os.strerror(n) in text), None)
    return KBWriteError(*found, where, written) if found else None
