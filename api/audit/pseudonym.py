"""Keyed pseudonyms of end users' ids: what the audit trail and the answer cache hold instead of the id.

An end user's id is often personal data itself (a phone number, a staff id, an e-mail address), and
the audit trail is kept forever. So a record whose target is an end user (`user.forget`) holds
`pseudonym:` + HMAC-SHA256(key, id) (24 hex digits) from the moment it is written: the chain hashes the
pseudonym, `rag audit verify` checks it like any record, and nothing has to be rewritten when the user
is forgotten. The same pseudonym tags the answers the cache stores for the user, so that forgetting them
drops those too, in every process (api.cache.forget_feed).

The key is made once (32 random bytes) and kept in the state database (table state_secrets), shared by
every replica and command. Whoever can read the database can therefore confirm a guessed id
(`rag audit --user ID`: the auditor's question "was this person forgotten?"); whoever reads only the
trail (`GET /v1/audit`, `rag audit`, an export of it) cannot."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import weakref

from api.state.base import Database

PREFIX = "pseudonym:"
DIGITS = 24          # 96 bits: no two ids of one service collide
KEY_NAME = "user_pseudonym_key"
USER_ACTIONS = frozenset({"user.forget"})  # audit actions whose target is an end user's id


class Pseudonyms:
    """The pseudonyms of one state database; the key is read (or made) once per instance."""

    def __init__(self, db: Database):
        self.db = db
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = _load_or_make_key(self.db)
            return self._key

    def of(self, user: str) -> str:
        digest = hmac.new(self.key(), user.encode("utf-8"), hashlib.sha256).hexdigest()
        return PREFIX + digest[:DIGITS]


_keys: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # database -> its key (bytes: never keeps it alive)
_keys_lock = threading.Lock()


class _SharedKey(Pseudonyms):
    def key(self) -> bytes:
        with _keys_lock:
            found = _keys.get(self.db)
        if found is None:
            found = super().key()
            with _keys_lock:
                _keys[self.db] = found
        return found


def pseudonyms_of(db: Database) -> Pseudonyms:
    """The pseudonyms of `db`, its key read once per open database (not once per question)."""
    return _SharedKey(db)


def _load_or_make_key(db: Database) -> bytes:
    """The key, made by whichever process needs it first (the others read that one)."""
    with db.tx() as t:
        t.execute("INSERT INTO state_secrets(name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                  (KEY_NAME, secrets.token_hex(32)))
        row = t.query("SELECT value FROM state_secrets WHERE name = ?", (KEY_NAME,))
    return bytes.fromhex(row[0]["value"])
