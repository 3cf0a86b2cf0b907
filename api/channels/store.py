"""Channel settings (with their secrets: kept server-side, shown masked), the replay memory and each
channel conversation's recent turns, all in the state database (SQLite or PostgreSQL)."""
from __future__ import annotations

import json
import time

from api.channels.crypto import CryptoError, wecom_key
from api.state import forgotten
from api.state.base import Database, Transaction
from api.state.channel_fields import FIELDS, checked_settings
from indexer.store.base import now

HISTORY_TURNS = 6       # question/answer pairs kept per conversation
HISTORY_TTL_S = 30 * 60  # a conversation idle this long starts afresh


def mask(value: str) -> str:
    return "…" + value[-4:] if len(value) > 8 else "…"


def validate(platform: str, config: dict) -> dict:
    """The stored form of a channel's settings; ValueError for what is missing or malformed."""
    out = checked_settings(platform, config)
    if platform == "wecom":
        try:
            wecom_key(out["aes_key"])
        except CryptoError as e:
            raise ValueError(str(e)) from e
    return out


def public(kb: str, platform: str, config: dict, created_at: str) -> dict:
    """What may be shown of a channel: secrets as their last 4 characters."""
    shown = {k: (mask(v) if FIELDS[platform].get(k) else v) for k, v in config.items()}
    return {"kb": kb, "platform": platform, "settings": shown, "created_at": created_at,
            "callback": f"/v1/channels/{platform}/{kb}"}


class ChannelStore:
    def __init__(self, db: Database):
        self.db = db

    # ---- settings ------------------------------------------------------------------------------
    def put(self, kb: str, platform: str, config: dict) -> dict:
        config = validate(platform, config)
        created = now()
        with self.db.tx() as t:
            t.execute("DELETE FROM channels WHERE kb = ? AND platform = ?", (kb, platform))
            t.execute("INSERT INTO channels(kb, platform, config, created_at) VALUES (?,?,?,?)",
                      (kb, platform, json.dumps(config), created))
        return public(kb, platform, config, created)

    def get(self, kb: str, platform: str) -> dict | None:
        row = self.db.one("SELECT config FROM channels WHERE kb = ? AND platform = ?", (kb, platform))
        return json.loads(row["config"]) if row else None

    def list(self, kb: str | None = None) -> list[dict]:
        rows = self.db.query("SELECT kb, platform, config, created_at FROM channels ORDER BY kb, platform")
        return [public(r["kb"], r["platform"], json.loads(r["config"]), r["created_at"])
                for r in rows if kb is None or r["kb"] == kb]

    def delete(self, kb: str, platform: str | None = None) -> int:
        if platform is None:
            return self.db.execute("DELETE FROM channels WHERE kb = ?", (kb,))
        return self.db.execute("DELETE FROM channels WHERE kb = ? AND platform = ?", (kb, platform))

    # ---- replay memory ---------------------------------------------------------------------------
    def first_time(self, keys: list[str], ttl_s: float) -> bool:
        """Remember `keys` for `ttl_s`; False when any of them was seen within its time (a replay)."""
        now = int(time.time())
        with self.db.tx() as t:
            t.execute("DELETE FROM channel_seen WHERE expires_at < ?", (now,))
            fresh = True
            for k in keys:
                if t.execute("INSERT INTO channel_seen(id, expires_at) VALUES (?, ?) ON CONFLICT(id) DO NOTHING",
                             (k, now + int(ttl_s) + 1)) == 0:
                    fresh = False
        return fresh

    # ---- conversation history --------------------------------------------------------------------
    def history(self, conversation: str) -> list[dict[str, str]]:
        """The conversation's recent turns as the pipeline takes them (role and content)."""
        return [{"role": t["role"], "content": t["content"]} for t in self._turns(conversation)]

    def _turns(self, conversation: str, t: Transaction | None = None) -> list[dict[str, str]]:
        sql = "SELECT turns, updated_at FROM channel_history WHERE conversation = ?"
        rows = t.query(sql, (conversation,)) if t is not None else self.db.query(sql, (conversation,))
        row = rows[0] if rows else None
        if row is None or int(row["updated_at"]) < time.time() - HISTORY_TTL_S:
            return []
        return json.loads(row["turns"])

    def remember(self, conversation: str, question: str, answer: str, user: str = "", *, owner: str = "",
                 epoch: int | None = None) -> bool:
        """Add a question and its answer; `user`, who asked (a group chat's turns are several users'): forgetting
        a user (api.state.forget_user) removes their turns only. With `owner` (the user's pseudonym) and `epoch`
        (their forget epoch when the question came, api.state.forgotten): False, nothing added, when they were
        forgotten since."""
        asked = {"role": "user", "content": question, **({"user": user} if user else {})}
        now = int(time.time())
        checked = bool(owner) and epoch is not None
        with self.db.tx() as t:
            if checked and not forgotten.still(t, self.db, owner, epoch):
                return False
            forgotten.lock_user_writes(t, self.db, exclusive=False)  # taken by `still` already when checked
            # read in the same transaction: another member forgotten meanwhile never has their turns written back
            turns = self._turns(conversation, t) + [asked, {"role": "assistant", "content": answer}]
            turns = turns[-2 * HISTORY_TURNS:]
            t.execute("DELETE FROM channel_history WHERE conversation = ? OR updated_at < ?",
                      (conversation, now - HISTORY_TTL_S))
            t.execute("INSERT INTO channel_history(conversation, turns, updated_at) VALUES (?,?,?)",
                      (conversation, json.dumps(turns, ensure_ascii=False), now))
        return True
