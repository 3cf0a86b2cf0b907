"""API keys: creation, hashing, revocation, and who may do what.

A key is `rag_<id>_<secret>`; only its SHA-256 is stored. Scopes are ordered read < write < admin.
A key is bound to one KB, or to none (admin over every KB). RAG_ADMIN_KEY is a global admin key
that is never stored.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from api.state.base import Database
from indexer.store.base import now as _now

SCOPES = ("read", "write", "admin")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its KB (None = all KBs) and scope."""

    key_id: str
    kb: str | None
    scope: str

    @property
    def is_global_admin(self) -> bool:
        return self.kb is None and self.scope == "admin"

    def can(self, kb: str, scope: str) -> bool:
        if self.kb is not None and self.kb != kb:
            return False
        return SCOPES.index(self.scope) >= SCOPES.index(scope)

    def visible(self, kbs: list[str]) -> list[str]:
        return kbs if self.kb is None else [k for k in kbs if k == self.kb]


@dataclass(frozen=True)
class KeyInfo:
    id: str
    kb: str | None
    scope: str
    label: str
    created_at: str
    revoked_at: str | None


class KeyStore:
    def __init__(self, db: Database, admin_key: str | None):
        self.db = db
        self._admin_hash = _hash(admin_key) if admin_key else None

    def create(self, kb: str | None, scope: str, label: str = "") -> tuple[str, KeyInfo]:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        key_id = secrets.token_hex(6)
        key = f"rag_{key_id}_{secrets.token_urlsafe(24)}"
        created = _now()
        self.db.execute("INSERT INTO keys(id, hash, kb, scope, label, created_at) VALUES (?,?,?,?,?,?)",
                        (key_id, _hash(key), kb, scope, label, created))
        return key, KeyInfo(key_id, kb, scope, label, created, None)

    def authenticate(self, key: str) -> Principal | None:
        if not key:
            return None
        digest = _hash(key)
        if self._admin_hash and hmac.compare_digest(digest, self._admin_hash):
            return Principal("admin", None, "admin")
        row = self.db.one("SELECT id, kb, scope FROM keys WHERE hash = ? AND revoked_at IS NULL", (digest,))
        return Principal(row["id"], row["kb"], row["scope"]) if row else None

    def get(self, key_id: str) -> KeyInfo | None:
        row = self.db.one("SELECT id, kb, scope, label, created_at, revoked_at FROM keys WHERE id = ?", (key_id,))
        return KeyInfo(**dict(row)) if row else None

    def list(self, kb: str | None = None) -> list[KeyInfo]:
        rows = self.db.query("SELECT id, kb, scope, label, created_at, revoked_at FROM keys ORDER BY created_at, id")
        return [KeyInfo(**dict(r)) for r in rows if kb is None or r["kb"] == kb]

    def revoke(self, key_id: str) -> bool:
        return self.db.execute("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                               (_now(), key_id)) > 0

    def revoke_kb(self, kb: str) -> int:
        """When a KB is deleted its keys die with it (a KB re-created later starts with none)."""
        return self.db.execute("UPDATE keys SET revoked_at = ? WHERE kb = ? AND revoked_at IS NULL", (_now(), kb))
