"""What the state database holds for one KB, forgotten when the KB is deleted (the HTTP API's
DELETE /v1/kbs/{kb} and `rag kb delete`), so that a KB re-created under the same name inherits none
of it: not its keys, chat channels (with their secrets), jobs, recorded answers and votes,
experiments, promoted settings, chat conversations or kept uploads (cluster mode).

The same SQL runs on SQLite and PostgreSQL (api.state.base), in one transaction."""
from __future__ import annotations

from api.state.base import Database
from indexer.store.base import now as _now

CHANNEL_PLATFORMS = ("dingtalk", "wecom")  # api.channels keys conversations "platform:kb:conversation"


def forget_kb(db: Database, kb: str) -> dict[str, int]:
    """Revoke the KB's keys and delete the rest of its state; returns how many rows each kind lost.

    Kept on purpose: revoked keys (revoked, as an audit trail; they never authenticate again) and
    the channels' replay memory (message ids seen in the last 2 hours: a platform's retry of a
    message to the old KB is still a replay, never a question to a new one; it expires by itself)."""
    gone: dict[str, int] = {}
    with db.tx() as t:
        gone["keys"] = t.execute("UPDATE keys SET revoked_at = ? WHERE kb = ? AND revoked_at IS NULL", (_now(), kb))
        gone["channels"] = t.execute("DELETE FROM channels WHERE kb = ?", (kb,))
        gone["conversations"] = 0
        for platform in CHANNEL_PLATFORMS:
            prefix = f"{platform}:{kb}:"  # KB names hold no ':' (indexer.kbs.NAME_PATTERN)
            gone["conversations"] += t.execute(
                "DELETE FROM channel_history WHERE substr(conversation, 1, ?) = ?", (len(prefix), prefix))
        gone["jobs"] = t.execute("DELETE FROM jobs WHERE kb = ?", (kb,))  # their files and bytes cascade
        gone["kept_uploads"] = t.execute("DELETE FROM kept_uploads WHERE kb = ?", (kb,))  # cluster mode's, bytes too
        t.execute("DELETE FROM ocr_cache_sizes WHERE kb = ?", (kb,))  # cluster mode's OCR cache (ocr_cache_pg)
        t.execute("DELETE FROM ocr_cache_owners WHERE kb = ?", (kb,))
        gone["ocr_cache_pages"] = t.execute("DELETE FROM ocr_cache_pages WHERE kb = ?", (kb,))
        gone["feedback"] = t.execute(
            "DELETE FROM feedback WHERE answer_id IN (SELECT id FROM answers WHERE kb = ?)", (kb,))
        gone["answers"] = t.execute("DELETE FROM answers WHERE kb = ?", (kb,))
        gone["experiments"] = t.execute("DELETE FROM experiments WHERE kb = ?", (kb,))
        gone["settings"] = t.execute("DELETE FROM kb_settings WHERE kb = ?", (kb,))
        t.execute("DELETE FROM kb_settings_history WHERE kb = ?", (kb,))
    return gone
