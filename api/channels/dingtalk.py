"""DingTalk robot replies: markdown messages ({"msgtype": "markdown", "markdown": {"title", "text"}}) with
the citations as a numbered source list, within DingTalk's size."""
from __future__ import annotations

from api.channels.core import with_sources
from api.channels.split import DINGTALK_MARKDOWN_BYTES, split_message, truncate_message

WINDOW_MS = 3600 * 1000  # a callback's timestamp may be this far from our clock


def body_text(ans: dict) -> str:
    return with_sources(ans, "\n\n**Sources**\n\n", "{n}. {name}")


def messages(ans: dict, question: str, limit: int = DINGTALK_MARKDOWN_BYTES) -> list[dict]:
    title = truncate_message(" ".join(question.split()) or "Answer", 64)
    parts = split_message(body_text(ans), limit) or ["…"]
    return [{"msgtype": "markdown", "markdown": {"title": title, "text": p}} for p in parts]
