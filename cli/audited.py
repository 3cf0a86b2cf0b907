"""`rag` commands that change what the service holds are recorded in its audit trail (api.audit), as
the HTTP routes are: actor 'cli:<OS user>', client the host name, outcome ok or failed with the exit
code. Only where a state database exists (RAG_DATABASE_URL, or RAG_HOME/service.sqlite once the service
has run): without one no service serves these KBs, and none is created for the record."""
from __future__ import annotations

import functools
import getpass
import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from cli.state import state


def cli_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def cli_origin() -> dict[str, str]:
    """What a command's record holds besides its actor: its role, a request id of its own, the host name."""
    return {"actor_role": "cli", "request_id": secrets.token_hex(8), "client": socket.gethostname()}


def state_database(create: bool = False):
    """The service's state database, or None when there is none (and `create` is false)."""
    from api.config import ServiceSettings
    from api.state.factory import open_database

    url = ServiceSettings.load(state.config).database_url
    home = Path(state.settings().indexer.home)
    if not url and not create and not (home / "service.sqlite").exists():
        return None
    return open_database(url, home)


def record(action: str, *, kb: str = "", target: str = "", detail: dict[str, Any] | None = None,
           exit_code: int = 0, outcome: str | None = None) -> None:
    """Append one record (`outcome`: ok or failed from the exit code unless given, e.g. "refused" for bad
    input); a trail that cannot be written is said on stderr, never hides the command's result."""
    from api.audit.record import AuditEntry
    from api.audit.trail import AuditTrail

    try:
        db = state_database()
        if db is None:
            return
        try:
            AuditTrail(db).append(AuditEntry(
                action=action, actor=cli_actor(), outcome=outcome or ("ok" if exit_code == 0 else "failed"),
                status=exit_code,
                kb=kb, target=target, detail=detail or {}, **cli_origin()))
        finally:
            db.close()
    except Exception as e:
        typer.secho(f"warning: the audit record of {action} could not be written: {type(e).__name__}: {e}",
                    fg="yellow", err=True)


def audited(action: str, *, kb: str | None = None, target: str | None = None, fixed_target: str = "",
            detail: tuple[str, ...] = ()) -> Callable:
    """Decorate a command: its run is recorded as `action`, with the KB and target taken from the named
    parameters and `detail` naming the parameters recorded as they were given (never secrets)."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kwargs):
            code = 1
            try:
                out = fn(*args, **kwargs)
                code = 0
                return out
            except typer.Exit as e:
                code = e.exit_code
                raise
            finally:
                record(action, kb=str(kwargs.get(kb) or "") if kb else "",
                       target=fixed_target or (str(kwargs.get(target) or "") if target else ""),
                       detail={k: _plain(kwargs.get(k)) for k in detail}, exit_code=code)
        return run
    return wrap


def _plain(value: Any) -> Any:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else value
