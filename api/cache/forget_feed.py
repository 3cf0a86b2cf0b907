"""Forgetting a user reaches every answer cache: the one of the process that forgot them (at once), and
those of the other processes (the other replicas' in-process caches, a running service's when
`rag forget-user` ran), which learn of it from the audit trail.

Every `user.forget` that succeeded is an audit record whose target is the user's pseudonym
(api.audit.pseudonym), the same pseudonym that tags the answers cached for them. Before a cache lookup,
at most once every `every_s`, a process reads the user.forget records appended since it last looked
and drops the cached answers of each: a forgotten user's cached questions are never served for longer
than that. An answer to a question asked before the forget and finished after it is refused by the cache
that learnt of the forget (its epoch, api.state.forgotten), and by any cache once the database says so
(api.answering checks the epoch before storing). A Redis cache is also cleared by whoever forgets (the
route, the command), and again here, which costs a scan and finds nothing."""
from __future__ import annotations

import logging
import threading
import time

from api.audit.pseudonym import pseudonyms_of
from api.cache.answer_cache import AnswerCache
from api.state.base import Database
from api.state.forgotten import epoch_of

log = logging.getLogger(__name__)
EVERY_S = 1.0  # one indexed query a second at most, however many questions


class ForgetFeed:
    def __init__(self, db: Database, cache: AnswerCache, every_s: float = EVERY_S):
        self.db, self.cache, self.every_s = db, cache, every_s
        self.pseudonyms = pseudonyms_of(db)
        self._lock = threading.Lock()
        self._next = 0.0
        self._last_id: int | None = None
        try:  # what was forgotten before this process started was never in its in-process cache
            self._last_id = self._newest_id()
        except Exception as e:  # the database away: the first sync that reaches it starts from there
            log.warning("answer cache: cannot read the audit trail yet (%s: %s)", type(e).__name__, e)

    def owner(self, user: str) -> str:
        """The pseudonym cached answers of `user`'s questions are stored under."""
        return self.pseudonyms.of(user)

    def forget(self, user: str, epoch: int) -> int:
        """Drop `user`'s cached answers in this process's cache (and Redis) now; `epoch`: their forget epoch
        after the forget (api.state.forget_user's)."""
        return self.cache.forget(self.owner(user), epoch)

    def sync(self) -> int:
        """Drop the cached answers of users forgotten (by any process) since the last sync; returns how many."""
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                return 0
            self._next = now + self.every_s
            if self._last_id is None:
                self._last_id = self._newest_id()
                return 0
            rows = self.db.query("SELECT id, target FROM audit WHERE id > ? AND action = 'user.forget' "
                                 "AND outcome = 'ok' ORDER BY id", (self._last_id,))
            if not rows:
                return 0
            self._last_id = int(rows[-1]["id"])
        return sum(self.cache.forget(r["target"], epoch_of(self.db, r["target"])) for r in rows if r["target"])

    def _newest_id(self) -> int:
        row = self.db.one("SELECT MAX(id) AS n FROM audit")
        return int(row["n"] or 0) if row else 0
