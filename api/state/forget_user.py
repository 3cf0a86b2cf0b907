"""The right to deletion: what the state database holds of one end user goes (`rag forget-user USER`,
DELETE /v1/users/{user}).

The user is who the answers were recorded for: the `user` a client names in a query (default: its key
id), or a chat platform's user id (DingTalk staff id, WeCom UserID). Removed: their recorded questions and
answers, the votes on them, and every chat conversation that holds one of their questions or is keyed by
their id (a group chat's recent turns included: the turns do not say who asked what). Both backends, one
transaction."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from api.state.base import Database


@dataclass
class Forgotten:
    answers: int = 0
    feedback: int = 0
    conversations: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def forget_user(db: Database, user: str) -> Forgotten:
    if not user.strip():
        raise ValueError("give the user's id (as recorded with their answers: the query's `user`, or the chat "
                         "platform's user id)")
    suffix = f":{user}"
    with db.tx() as t:
        asked = {r["question"] for r in t.query("SELECT question FROM answers WHERE user_id = ?", (user,))}
        feedback = t.execute("DELETE FROM feedback WHERE answer_id IN (SELECT id FROM answers WHERE user_id = ?)",
                             (user,))
        answers = t.execute("DELETE FROM answers WHERE user_id = ?", (user,))
        conversations = 0
        for row in t.query("SELECT conversation, turns FROM channel_history"):
            conv = row["conversation"]
            try:
                turns = json.loads(row["turns"])
            except ValueError:
                turns = []
            theirs = any(turn.get("role") == "user" and turn.get("content") in asked for turn in turns)
            if conv.endswith(suffix) or theirs:
                conversations += t.execute("DELETE FROM channel_history WHERE conversation = ?", (conv,))
    return Forgotten(answers, feedback, conversations)
