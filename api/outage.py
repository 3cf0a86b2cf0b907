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
        if module.startswith("psycopg") and type(e).__name__ in ("OperationalError", "InterfaceError"):
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
