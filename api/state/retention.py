"""Retention of what end users asked: recorded answers (question, answer, passages), the votes on them and
chat conversations older than `retention_days` are deleted (the service every hour, `rag state purge` on
demand). Both backends, one transaction."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from api.state.base import Database


@dataclass
class Purged:
    answers: int = 0
    feedback: int = 0
    conversations: int = 0

    @property
    def total(self) -> int:
        return self.answers + self.feedback + self.conversations

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def purge_older_than(db: Database, days: int, now: datetime | None = None) -> Purged:
    """Delete answers, their votes and conversations last touched more than `days` days ago (0: none)."""
    if days <= 0:
        return Purged()
    now = now or datetime.now(timezone.utc)
    cutoff = (now - timedelta(days=days)).isoformat(timespec="seconds")   # answers.created_at: ISO 8601 UTC
    cutoff_epoch = int(now.timestamp() if now else time.time()) - days * 86400  # channel_history: epoch s
    old = "SELECT id FROM answers WHERE created_at < ?"
    with db.tx() as t:
        feedback = t.execute(f"DELETE FROM feedback WHERE answer_id IN ({old})", (cutoff,))
        answers = t.execute("DELETE FROM answers WHERE created_at < ?", (cutoff,))
        conversations = t.execute("DELETE FROM channel_history WHERE updated_at < ?", (cutoff_epoch,))
    if answers or feedback or conversations:
        db.scrub()  # the deleted rows' pages too (SQLite)
    return Purged(answers, feedback, conversations)
