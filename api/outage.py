"""A request that failed because a server the service depends on is away (PostgreSQL, Milvus, Redis)
is the server's outage, not a bug: it is answered 503 with Retry-After and the dependency named, as
/readyz names it, and logged on one line instead of a traceback per request. The service recovers by
itself once the server is back (each backend reconnects on its next call).

Exceptions are told apart by their type's module, so the drivers are not imported here."""
from __future__ import annotations

from dataclasses import dataclass

RETRY_AFTER_S = 5  # a restarted server is usually back within seconds; readiness tells the balancer meanwhile


@dataclass(frozen=True)
class Outage:
    dependency: str  # database | store | redis: the /readyz check that fails with it
    reason: str      # the driver's message, first line

    @property
    def message(self) -> str:
        what = {"database": "the state database (PostgreSQL)", "store": "the vector store (Milvus)",
                "redis": "Redis"}[self.dependency]
        return f"{what} is unreachable; retry in a moment ({self.reason})"


_STORE_SIGNS = ("connect", "unavailable", "released", "deadline", "channel")


def _chain(exc: BaseException):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def outage_of(exc: BaseException) -> Outage | None:
    """The dependency whose outage raised `exc` (or an exception it was raised from), or None for any
    other error."""
    for e in _chain(exc):
        module, text = type(e).__module__ or "", str(e)
        reason = (text.strip().splitlines() or [type(e).__name__])[0][:200]
        if module.startswith("psycopg") and _psycopg_outage(e):
            return Outage("database", reason)
        if type(e) is ConnectionError and "PostgreSQL" in text:  # api.state.postgres: cannot connect
            return Outage("database", reason)
        if module.startswith("pymilvus") and any(s in text.lower() for s in _STORE_SIGNS):
            return Outage("store", reason)
        if module.startswith("grpc"):
            return Outage("store", reason)
        if module.startswith("redis") and type(e).__name__ in ("ConnectionError", "TimeoutError"):
            return Outage("redis", reason)
    return None



# SQLSTATEs of a session the server ended: 57P01 admin_shutdown (a shutdown or restart, pg_terminate_backend), 57P02
# crash_shutdown, 57P03 cannot_connect_now (starting up); class 08: connection exceptions. Not the rest of
# OperationalError (57014 query_canceled, 53xxx insufficient resources): tried again, those would fail the same way
_SESSION_ENDED = ("57P01", "57P02", "57P03")


def _psycopg_outage(e: BaseException) -> bool:
    """psycopg's connection errors; a write (never repeated on a new connection: api.state.postgres) on a
    connection a restart ended meets AdminShutdown, an OperationalError subclass."""
    if type(e).__name__ in ("OperationalError", "InterfaceError"):
        return True
    state = getattr(e, "sqlstate", None) or ""
    return state.startswith("08") or state in _SESSION_ENDED
