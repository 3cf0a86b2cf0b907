"""How many times each end user was forgotten (table forgotten_users, keyed by their pseudonym): what was
started for a user before they were forgotten is never written after it.

An answer takes seconds to make. A user forgotten meanwhile (`rag forget-user`, DELETE /v1/users/{user})
had their recorded answers deleted before this one was finished; recording it, caching it or adding it to
their chat conversation afterwards would bring their question back. So a question reads the user's epoch
when it arrives (`epoch_of`), and every write it makes checks, in the same transaction, that the epoch is
still that one (`still`), under a lock (`lock_user_writes`): a forget (`bump`, under the same lock)
either comes first, and the write is refused, or waits for the write and deletes what it wrote.

The table holds pseudonyms only (api.audit.pseudonym), like the audit trail; migration 8 makes it
(api.state.migrations), so every opened database has it before any forget."""
from __future__ import annotations

from api.state.base import Database, Transaction
from indexer.store.base import now

_WRITES_LOCK = 7244773  # pg_advisory_xact_lock id of users' data writes (migrations 7244771, audit 7244772)


def lock_user_writes(t: Transaction, db: Database, *, exclusive: bool) -> None:
    """Serialize a forget (exclusive) with the writes of users' data (shared: they never wait for each other)
    until the transaction ends. One lock for every user, not one each: a group chat's conversation holds
    several users' turns, and a write for one member must not put back a forgotten member's turns it read
    before their forget. SQLite needs nothing: its transactions (BEGIN IMMEDIATE) are serialized already."""
    if db.dialect == "postgresql":
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        t.execute(f"SELECT {fn}(?)", (_WRITES_LOCK,))


def _epoch_in(t: Transaction, pseudonym: str) -> int:
    rows = t.query("SELECT epoch FROM forgotten_users WHERE pseudonym = ?", (pseudonym,))
    return int(rows[0]["epoch"]) if rows else 0


def epoch_of(db: Database, pseudonym: str) -> int:
    """The user's epoch now (0: never forgotten)."""
    row = db.one("SELECT epoch FROM forgotten_users WHERE pseudonym = ?", (pseudonym,))
    return int(row["epoch"]) if row else 0


def still(t: Transaction, db: Database, pseudonym: str, epoch: int) -> bool:
    """Inside a write's transaction: lock the user (shared) and say whether they were not forgotten since
    `epoch` was read. The caller writes only when True."""
    lock_user_writes(t, db, exclusive=False)
    return _epoch_in(t, pseudonym) == epoch


def bump(t: Transaction, db: Database, pseudonym: str) -> int:
    """Inside a forget's transaction: lock the user and count one more forget; returns the new epoch."""
    lock_user_writes(t, db, exclusive=True)
    epoch = _epoch_in(t, pseudonym) + 1
    t.execute("INSERT INTO forgotten_users(pseudonym, epoch, forgotten_at) VALUES (?, ?, ?) "
              "ON CONFLICT (pseudonym) DO UPDATE SET epoch = excluded.epoch, forgotten_at = excluded.forgotten_at",
              (pseudonym, epoch, now()))
    return epoch
