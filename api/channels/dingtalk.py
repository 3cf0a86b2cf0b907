"""DingTalk robot replies: markdown messages ({"msgtype": "markdown", "markdown": {"title", "text"}}) with
the citations as a numbered source list, within DingTalk's size."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.channels.core import with_sources
from api.channels.split import DINGTALK_MARKDOWN_BYTES, split_message, truncate_message

WINDOW_MS = 3600 * 1000  # a callback's timestamp may be this far from our clock
ID_CHARS = 256           # ids, as the replay memory, the rate limiter and the history key them


class Text(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str = ""  # its length is the question's limit (RAG_MAX_QUESTION_CHARS), said in the chat


class RichItem(BaseModel):
    """One piece of a richText message: a text (read) or a picture (its download codes, not read)."""
    model_config = ConfigDict(extra="ignore")
    text: str | None = None


class Content(BaseModel):
    """`content` of the other message types: richText's list of pieces; a picture's, file's or voice
    message's download codes are not read."""
    model_config = ConfigDict(extra="ignore")
    richText: list[RichItem] = Field(default_factory=list, max_length=500)


# what staff send instead of typing: answered with core.TEXT_ONLY (richText is read when it holds text)
MEDIA = frozenset({"picture", "richText", "audio", "video", "file"})


class Message(BaseModel):
    """The fields of a robot's outgoing callback that the service reads, typed (JSON strings, a `text`
    object, a number of milliseconds); the platform's other fields are ignored. A wrong type is a 422."""
    model_config = ConfigDict(extra="ignore")
    msgtype: str = Field("", max_length=64)
    msgId: str | None = Field(None, max_length=ID_CHARS)
    text: Text | None = None
    content: Content | None = None  # richText: text pieces between pictures (a screenshot and its question)
    senderStaffId: str | None = Field(None, max_length=ID_CHARS)
    senderId: str | None = Field(None, max_length=ID_CHARS)
    conversationId: str | None = Field(None, max_length=ID_CHARS)
    sessionWebhook: str | None = Field(None, max_length=2048)
    sessionWebhookExpiredTime: int | None = None  # ms since the epoch

    @property
    def question(self) -> str:
        if self.msgtype == "text" and self.text is not None:
            return self.text.content.strip()
        if self.msgtype == "richText" and self.content is not None:
            return "".join(piece.text or "" for piece in self.content.richText).strip()
        return ""


def body_text(ans: dict) -> str:
    return with_sources(ans, "\n\n**Sources**\n\n", "{n}. {name}")


def messages(ans: dict, question: str, limit: int = DINGTALK_MARKDOWN_BYTES) -> list[dict]:
    title = truncate_message(" ".join(question.split()) or "Answer", 64)
    parts = split_message(body_text(ans), limit) or ["…"]
    return [{"msgtype": "markdown", "markdown": {"title": title, "text": p}} for p in parts]
