"""What a chat user is told instead of an answer (rate limited, busy, too long a question, no answer), in
the question's language: staff who ask in Chinese read Chinese, as they do in refusals."""
from __future__ import annotations

from indexer.script import language

TEXTS: dict[str, tuple[str, str]] = {  # (English, Chinese)
    "rate_limited": ("Too many questions; please retry in {retry} s.", "提问太频繁，请 {retry} 秒后再试。"),
    "busy": ("The service is busy; please ask again in a moment.", "服务繁忙，请稍后再问。"),
    "too_long": ("The question has {n} characters; the limit is {limit}.",
                 "问题有 {n} 个字符，超过了 {limit} 个字符的上限，请缩短后再问。"),
    "kb_gone": ("This knowledge base is not available.", "这个知识库暂时不可用。"),
    "failed": ("No answer could be made; please try again.", "暂时无法给出回答，请稍后再试。"),
}


def say(what: str, question: str, **values: object) -> str:
    english, chinese = TEXTS[what]
    return (chinese if language(question) == "zh" else english).format(**values)
