"""The audit trail in the state database (SQLite or PostgreSQL): append, read in pages, verify the chain.

Append-only: nothing here (nor any route or command) deletes a record; deleting a KB keeps its records. A
record whose target is an end user's id (`user.forget`) holds its keyed pseudonym instead, from when it is
written (api.audit.pseudonym). The only change ever made to a record is to one written before pseudonyms:
its plain id is replaced by the pseudonym when a user is forgotten, and an `audit.redact` record appended in
the same transaction gives the redacted record's new hash, so `verify` tells it from tampering
(api.audit.redact). Appends are serialized (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE) so that
each record chains to the one before it, whichever replica or command wrote that."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from api.audit.pseudonym import USER_ACTIONS, Pseudonyms
from api.audit.record import GENESIS, HASHED, AuditEntry, AuditRecord, chain_hash, detail_json
from api.state.base import Database, Transaction

_COLUMNS = HASHED  # every column written is one the hash covers (besides id, prev_hash and hash)
_LOCK = 7244772  # pg_advisory_xact_lock id of audit appends (migrations use 7244771)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# a time whose offset lost its '+' to URL decoding (?since=2026-12-07T08:00:00+08:00 typed into curl unencoded)
_SPACED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def parse_since(value: str | None) -> str | None:
    """An ISO 8601 date or time (UTC unless it says otherwise) as the trail stores times."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(_SPACED_OFFSET.sub(r"\1+\2", value.strip()).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"since must be an ISO 8601 date or time (2026-12-01 or 2026-12-01T08:00:00Z), "
                         f"got {value!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


@dataclass
class AuditQuery:
    kb: str | None = None
    since: str | None = None     # UTC ISO 8601; records at or after it
    action: str | None = None    # exact ('kb.delete') or a prefix ending in '.' ('key.')
    limit: int = 100
    offset: int = 0
    target: str | None = None    # exact (an end user's: Pseudonyms.of(user))


@dataclass
class VerifyReport:
    records: int = 0
    broken: list[tuple[int, str]] = field(default_factory=list)   # (record id, what is wrong)
    last_id: int = 0
    last_hash: str = GENESIS
    redacted: int = 0    # records whose end user's id was replaced by its pseudonym, as a redaction record says

    @property
    def ok(self) -> bool:
        return not self.broken


class AuditTrail:
    def __init__(self, db: Database):
        self.db = db

    def append(self, entry: AuditEntry) -> AuditRecord:
        if entry.action in USER_ACTIONS and entry.target:
            entry = replace(entry, target=Pseudonyms(self.db).of(entry.target))
        with self.db.tx() as t:
            self.lock(t)
            return self.append_in(t, entry)

    def lock(self, t: Transaction) -> None:
        """Serialize appends (and redactions) until the transaction ends; SQLite's BEGIN IMMEDIATE does already."""
        if self.db.dialect == "postgresql":
            t.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK,))

    def append_in(self, t: Transaction, entry: AuditEntry) -> AuditRecord:
        """Append inside a transaction that holds `lock` (`entry.target` as it is to be stored)."""
        row = {k: getattr(entry, k) for k in _COLUMNS}
        row["at"] = entry.at or utc_now()
        row["detail"] = detail_json(entry.detail)
        last = t.query("SELECT hash FROM audit ORDER BY id DESC LIMIT 1")
        prev = last[0]["hash"] if last else GENESIS
        digest = chain_hash(prev, row)
        t.execute(f"INSERT INTO audit({', '.join(_COLUMNS)}, prev_hash, hash) VALUES "
                  f"({', '.join('?' * (len(_COLUMNS) + 2))})", [row[k] for k in _COLUMNS] + [prev, digest])
        return AuditRecord(**{**row, "detail": entry.detail}, prev_hash=prev, hash=digest)

    def _where(self, q: AuditQuery) -> tuple[str, list]:
        clauses, args = [], []
        if q.kb is not None:
            clauses.append("kb = ?")
            args.append(q.kb)
        if q.since:
            clauses.append("at >= ?")
            args.append(q.since)
        if q.target is not None:
            clauses.append("target = ?")
            args.append(q.target)
        if q.action:
            if q.action.endswith("."):
                clauses.append("substr(action, 1, ?) = ?")
                args += [len(q.action), q.action]
            else:
                clauses.append("action = ?")
                args.append(q.action)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def list(self, q: AuditQuery) -> tuple[list[AuditRecord], int]:
        """The records `q` selects, oldest first, one page of them; and how many it selects in all."""
        where, args = self._where(q)
        total = int(self.db.one(f"SELECT COUNT(*) AS n FROM audit{where}", args)["n"])
        rows = self.db.query(f"SELECT * FROM audit{where} ORDER BY id LIMIT ? OFFSET ?", [*args, q.limit, q.offset])
        return [_record(r) for r in rows], total

    def verify(self, page: int = 1000) -> VerifyReport:
        """Recompute every record's hash in order: a record changed, removed or inserted breaks the chain. A record
        redacted since (an end user's id replaced by its pseudonym, api.audit.redact) keeps its hash in the chain
        and matches, as it is now, the hash its redaction record (itself in the chain) gives it."""
        redacted = redactions(self.db)
        rep, prev, last_id = VerifyReport(), GENESIS, 0
        while True:
            rows = self.db.query("SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?", (last_id, page))
            if not rows:
                rep.last_id, rep.last_hash = last_id, prev
                return rep
            for r in rows:
                rep.records += 1
                r = dict(r)
                if r["prev_hash"] != prev:
                    rep.broken.append((r["id"], "does not follow the record before it (a record before it was "
                                                "removed, changed or inserted)"))
                digest = chain_hash(r["prev_hash"], r)
                if digest != r["hash"]:
                    if digest == redacted.get(int(r["id"])):
                        rep.redacted += 1
                    else:
                        rep.broken.append((r["id"], "its content does not match its hash (changed after it was "
                                                    "written)"))
                prev, last_id = r["hash"], r["id"]


REDACT_ACTION = "audit.redact"


def redactions(db: Database) -> dict[int, str]:
    """Record id -> the hash of its redacted content, from the `audit.redact` records (their detail's
    `redacted`; a record redacted by a record written before it never counts)."""
    out: dict[int, str] = {}
    for r in db.query("SELECT id, detail FROM audit WHERE action = ? ORDER BY id", (REDACT_ACTION,)):
        try:
            hashes = json.loads(r["detail"] or "{}").get("redacted") or {}
        except (ValueError, AttributeError):
            continue  # a redaction record that is not ours: verify finds it changed
        for rid, digest in hashes.items() if isinstance(hashes, dict) else ():
            if str(rid).isdigit() and int(rid) < int(r["id"]):
                out[int(rid)] = str(digest)
    return out


def _record(row) -> AuditRecord:
    r = dict(row)
    return AuditRecord(**{**r, "detail": json.loads(r["detail"] or "{}"), "status": int(r["status"]),
                          "id": int(r["id"])})
