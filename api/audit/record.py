"""One audit record and the hash that chains it to the record before it.

Each record's hash covers its fields and the previous record's hash (SHA-256 over canonical JSON), so
a record changed, removed or inserted afterwards breaks the chain at that point (`rag audit verify`).
The first record's previous hash is GENESIS."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

GENESIS = "0" * 64
OUTCOMES = ("ok", "refused", "failed")
HASHED = ("at", "actor", "actor_name", "actor_role", "action", "kb", "target", "detail", "outcome", "status",
          "request_id", "client")


@dataclass
class AuditEntry:
    """What happened; `at` is set when the record is appended (UTC)."""
    action: str
    actor: str
    outcome: str = "ok"
    status: int = 0
    kb: str = ""
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    actor_name: str = ""
    actor_role: str = ""
    request_id: str = ""
    client: str = ""
    at: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"audit outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}")


@dataclass
class AuditRecord(AuditEntry):
    """An entry as stored: its position in the chain and the hashes."""
    id: int = 0
    prev_hash: str = GENESIS
    hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detail_json(detail: dict[str, Any]) -> str:
    return json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The hash of a record whose stored columns are `row` (detail as its JSON text), after `prev_hash`."""
    fields = [prev_hash, *(row[k] if k != "status" else int(row[k]) for k in HASHED)]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()
