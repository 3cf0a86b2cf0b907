"""The right to deletion: what the state database holds of one end user goes (`rag forget-user USER`,
DELETE /v1/users/{user}).

The user is who the answers were recorded for: the `user` a client names in a query (default: its key
id), or a chat platform's user id (DingTalk staff id, WeCom UserID). Removed: their recorded questions and
answers, the votes on them, every chat conversation keyed by their id (a one-to-one chat), and their
turns (each question with its answer) in other conversations: a group chat keeps the other members' turns.
A turn recorded before turns named who asked is theirs when it repeats one of their recorded questions.
Both backends, one transaction, which also counts the forget (api.state.forgotten): an answer still being
made for the user is then neither recorded nor cached nor added to a conversation."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from api.state import forgotten
from api.state.base import Database


@dataclass
class Forgotten:
    answers: int = 0
    feedback: int = 0
    conversations: int = 0
    epoch: int = field(default=0, compare=False)  # the user's forget epoch after this one (api.state.forgotten)

    def to_dict(self) -> dict[str, int]:
        """The counts (what the HTTP answer and the audit record give)."""
        return {k: v for k, v in asdict(self).items() if k != "epoch"}


def forget_user(db: Database, user: str, pseudonym: str) -> Forgotten:
    """`pseudonym`: api.audit.pseudonym's of `user` (what the answers written meanwhile check)."""
    if not user.strip():
        raise ValueError("give the user's id (as recorded with their answers: the query's `user`, or the chat "
                         "platform's user id)")
    suffix = f":{user}"
    with db.tx() as t:
        epoch = forgotten.bump(t, db, pseudonym)
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
            kept = [] if conv.endswith(suffix) else _without_theirs(turns, user, asked)
            if kept == turns:
                continue
            conversations += 1
            if kept:
                t.execute("UPDATE channel_history SET turns = ? WHERE conversation = ?",
                          (json.dumps(kept, ensure_ascii=False), conv))
            else:
                t.execute("DELETE FROM channel_history WHERE conversation = ?", (conv,))
    db.scrub()  # the deleted rows' pages too (SQLite)
    return Forgotten(answers, feedback, conversations, epoch)


def _without_theirs(turns: list[dict], user: str, asked: set[str]) -> list[dict]:
    """The turns without the user's questions and the answer after each: a question is theirs when its turn
    names them, or names nobody (recorded before turns did) and repeats one of their recorded questions."""
    out: list[dict] = []
    skipping = False
    for turn in turns:
        if turn.get("role") == "user":
            who = turn.get("user")
            skipping = who == user or (who is None and turn.get("content") in asked)
        if not skipping:
            out.append(turn)
    return out
