"""End users' ids in audit records written before pseudonyms (api.audit.pseudonym, schema 6): a `user.forget`
record of that time holds the plain id (a phone number, an e-mail address) in a trail kept forever.

Forgetting a user (`rag forget-user`, DELETE /v1/users/{user}) replaces every such id with its pseudonym, the
forgotten user's and those of users forgotten before (each is someone whose deletion was asked for), so the
trail holds no end user's id afterwards. The chain covers the id: a rewritten record no longer matches its
hash. So, in the same transaction, an `audit.redact` record is appended giving each rewritten record's new
content hash (`redacted`: {record id: hash}); `rag audit verify` accepts a record that matches that hash,
counts it as redacted, and still reports any other change. A record that did not match its hash before the
rewrite is rewritten too (the id goes) but listed under `broken_before`, not given a new hash: verify keeps
reporting it, the redaction never hides tampering."""
from __future__ import annotations

from dataclasses import dataclass

from api.audit.pseudonym import PREFIX, USER_ACTIONS, Pseudonyms
from api.audit.record import AuditEntry, chain_hash
from api.audit.trail import REDACT_ACTION, AuditTrail
from api.state.base import Database


@dataclass
class Redaction:
    records: int = 0          # records rewritten
    broken_before: int = 0    # of them, records that did not match their hash before (left reported)
    record_id: int = 0        # the audit.redact record (0: nothing to redact)


def redact_plain_user_ids(db: Database, actor: str, *, actor_name: str = "", actor_role: str = "",
                          client: str = "", request_id: str = "") -> Redaction:
    """Replace the plain end-user ids of records written before pseudonyms; audited as `audit.redact`."""
    pseudonyms = Pseudonyms(db)
    pseudonyms.key()  # read or made in its own transaction, before this one
    trail = AuditTrail(db)
    actions = sorted(USER_ACTIONS)
    with db.tx() as t:
        trail.lock(t)
        rows = t.query(f"SELECT * FROM audit WHERE action IN ({', '.join('?' * len(actions))}) AND target <> '' "
                       "AND substr(target, 1, ?) <> ? ORDER BY id", (*actions, len(PREFIX), PREFIX))
        if not rows:
            return Redaction()
        hashes: dict[str, str] = {}
        broken: list[int] = []
        for row in rows:
            r = dict(row)
            intact = chain_hash(r["prev_hash"], r) == r["hash"]
            r["target"] = pseudonyms.of(r["target"])
            t.execute("UPDATE audit SET target = ? WHERE id = ?", (r["target"], r["id"]))
            if intact:
                hashes[str(r["id"])] = chain_hash(r["prev_hash"], r)
            else:
                broken.append(int(r["id"]))
        trail.append_in(t, AuditEntry(
            action=REDACT_ACTION, actor=actor, actor_name=actor_name, actor_role=actor_role, client=client,
            request_id=request_id, detail={"field": "target", "reason": "end user ids written before pseudonyms",
                                           "redacted": hashes, "broken_before": broken}))
        newest = t.query("SELECT MAX(id) AS n FROM audit")  # this record: appends wait for the lock held here
    return Redaction(len(rows), len(broken), int(newest[0]["n"]))
