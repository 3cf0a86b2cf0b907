"""`rag audit [verify]`, `rag state purge`, `rag forget-user`: the audit trail, retention and the right to
deletion, on the service's state database (docs/service.md "Audit, retention and personal data")."""
from __future__ import annotations

import json
from typing import Optional

import typer

from cli.audited import cli_actor, cli_origin, record, state_database
from cli.state import fail, state

audit_app = typer.Typer(help="The audit trail of administrative actions (read; verify its chain).")
state_app = typer.Typer(help="The service's state database.", no_args_is_help=True)


def _db():
    db = state_database()
    if db is None:
        fail("there is no state database here yet (RAG_HOME/service.sqlite is made by `rag serve`; or set "
             "RAG_DATABASE_URL): nothing has been recorded")
    return db


@audit_app.callback(invoke_without_command=True)
def audit(ctx: typer.Context,
          kb: Optional[str] = typer.Option(None, "--kb", help="only this knowledge base's records"),
          since: Optional[str] = typer.Option(None, "--since", help="only records at or after this UTC date or "
                                              "time (2026-12-01, 2026-12-01T08:00:00Z)"),
          action: Optional[str] = typer.Option(None, "--action", help="only this action (kb.delete) or family "
                                               "(key.)"),
          user: Optional[str] = typer.Option(None, "--user", help="only the records about this end user (the "
                                             "trail holds their pseudonym, not the id)"),
          limit: int = typer.Option(1000, "--limit", min=1, max=10**12, help="at most this many records (the oldest "
                                    "first)"),
          as_json: bool = typer.Option(False, "--json", help="one JSON object a line")):
    """List the audit trail, oldest first: time (UTC), actor, action, KB, target, outcome."""
    if ctx.invoked_subcommand is not None:
        return
    from api.audit.trail import AuditQuery, AuditTrail, parse_since

    try:
        since_utc = parse_since(since)
    except ValueError as e:
        fail("--" + str(e))
    from api.audit.pseudonym import Pseudonyms

    db = _db()
    try:
        target = Pseudonyms(db).of(user) if user is not None else None
        rows, total = AuditTrail(db).list(AuditQuery(kb, since_utc, action, limit, 0, target=target))
    finally:
        db.close()
    for r in rows:
        if as_json:
            print(json.dumps(r.to_dict(), ensure_ascii=False))
            continue
        who = r.actor + (f" ({r.actor_name})" if r.actor_name else "")
        what = " ".join(x for x in (r.kb, r.target) if x)
        extra = f" {json.dumps(r.detail, ensure_ascii=False)}" if r.detail else ""
        print(f"{r.at}  {who}  {r.action}  {what or '-'}  {r.outcome}{f' {r.status}' if r.status else ''}{extra}"
              f"  [{r.client or '-'} {r.request_id or '-'}]")
    if not as_json and total > len(rows):
        typer.echo(f"({len(rows)} of {total} records; narrow with --since / --kb / --action or raise --limit)",
                   err=True)


@audit_app.command("verify")
def verify():
    """Check that no record was changed, removed or inserted since it was written (each record holds the hash of
    the one before it). Exit code 1 when the chain is broken."""
    from api.audit.trail import AuditTrail

    db = _db()
    try:
        rep = AuditTrail(db).verify()
    finally:
        db.close()
    redacted = (f" ({rep.redacted} redacted: an end user's id written before pseudonyms replaced by its "
                "pseudonym, as the audit.redact records say)") if rep.redacted else ""
    if rep.ok:
        print(f"audit trail intact: {rep.records} records{redacted}; the latest, {rep.last_id}, has hash "
              f"{rep.last_hash} (kept elsewhere, it shows later that no newest record was removed)")
        return
    for rid, why in rep.broken:
        typer.secho(f"record {rid}: {why}", fg="red", err=True)
    fail(f"audit trail TAMPERED: {len({rid for rid, _ in rep.broken})} of {rep.records} records fail the check")


@state_app.command("purge")
def purge_now(days: Optional[int] = typer.Option(None, "--days", min=0, help="this many days instead of "
                                                 "retention_days")):
    """Delete recorded answers (questions, answers, votes) and chat conversations older than retention_days
    now, as the service does every hour; audited with the counts."""
    from api.audit.purge import purge
    from api.config import ServiceSettings

    keep = ServiceSettings.load(state.config).retention_days if days is None else days
    if keep == 0:
        print("--days 0 keeps records forever; nothing purged" if days is not None
              else "retention_days is 0: records are kept forever; nothing purged")
        return
    db = _db()
    try:
        gone = purge(db, keep, cli_actor(), **cli_origin())
    finally:
        db.close()
    print(f"deleted {gone.answers} answers, {gone.feedback} votes and {gone.conversations} conversations older "
          f"than {keep} days")


def forget_user(user: str = typer.Argument(..., help="the end user's id: the `user` given with questions, or "
                                           "the chat platform's user id")):
    """Delete what the service recorded of one end user: questions, answers, the votes on them, chat
    conversations, and the answers cached for their questions. Audited (the user's pseudonym and the counts,
    not what was deleted); a refused attempt too."""
    from api.audit.pseudonym import Pseudonyms
    from api.audit.redact import redact_plain_user_ids
    from api.state.forget_user import forget_user as forget

    db = _db()
    try:
        gone = forget(db, user, Pseudonyms(db).of(user) if user.strip() else "")
        redacted = redact_plain_user_ids(db, cli_actor(), **cli_origin())
    except ValueError as e:
        record("user.forget", target=user, detail={"reason": str(e)}, exit_code=1, outcome="refused")
        fail(str(e))
    finally:
        db.close()
    record("user.forget", target=user, detail=gone.to_dict())
    print(f"forgot {user}: {gone.answers} answers, {gone.feedback} votes, {gone.conversations} conversations")
    if redacted.records:
        print(f"audit trail: {redacted.records} records written before pseudonyms now hold the pseudonym instead of "
              f"the user's id (redaction record {redacted.record_id}; `rag audit verify` checks them)")
    print(_forget_cached(user, gone.epoch))


def _forget_cached(user: str, epoch: int) -> str:
    """Drop the user's cached answers from a shared (Redis) cache now; what to say about it. In-process
    caches of running services drop them by themselves (api.cache.forget_feed reads the audit record)."""
    from api.audit.pseudonym import Pseudonyms
    from api.cache.config import CacheSettings

    running = "running services drop their cached answers within a second (they read the audit trail)"
    cache = CacheSettings.load(state.config)
    if not cache.redis_url:
        return running
    from api.cache.factory import make_answer_cache

    db, answers = _db(), make_answer_cache(cache)
    try:
        n = answers.forget(Pseudonyms(db).of(user), epoch)
        down = not answers.backend.stats().get("available", 1.0)
    finally:
        answers.close()
        db.close()
    if down:
        typer.secho("warning: Redis (the answer cache) is unreachable: the services drop this user's cached "
                    "answers once it is back (they read the audit trail); entries expire after "
                    f"{cache.ttl_s:.0f} s in any case", fg="yellow", err=True)
        return running
    return f"dropped {n} cached answers from the shared (Redis) cache; " + running
