"""Retention applied and audited: `purge()` deletes what is older than retention_days and records the
counts in the audit trail (never what was deleted); `RetentionLoop` runs it in the service every hour."""
from __future__ import annotations

import logging
import threading

from api.audit.record import AuditEntry
from api.audit.trail import AuditTrail
from api.state.base import Database
from api.state.retention import Purged, purge_older_than

log = logging.getLogger("api.retention")
PURGE_EVERY_S = 3600.0  # an hour: records live at most retention_days plus an hour


def purge(db: Database, days: int, actor: str, *, audit_empty: bool = True, client: str = "",
          request_id: str = "", actor_role: str = "") -> Purged:
    """Purge and audit (`audit_empty`: also when nothing was old enough; the hourly run records only purges
    that removed something, not 24 empty records a day)."""
    gone = purge_older_than(db, days)
    if gone.total or audit_empty:
        AuditTrail(db).append(AuditEntry(action="state.purge", actor=actor, actor_role=actor_role,
                                         detail={**gone.to_dict(), "retention_days": days}, client=client,
                                         request_id=request_id))
    return gone


class RetentionLoop:
    def __init__(self, db: Database, days: int, every_s: float = PURGE_EVERY_S):
        self.db, self.days, self.every_s = db, days, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.days > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                gone = purge(self.db, self.days, "service", audit_empty=False)
                if gone.total:
                    log.info("retention: deleted %d answers, %d votes, %d conversations older than %d days",
                             gone.answers, gone.feedback, gone.conversations, self.days, extra={"event": "purge"})
            except Exception as e:  # the database away: the next hour tries again
                log.warning("retention purge failed (%s: %s); retried in %.0f s", type(e).__name__, e, self.every_s,
                            extra={"event": "purge_failed"})
            self._stop.wait(self.every_s)
