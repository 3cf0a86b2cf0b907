"""Input guard: stop questions that try prompt injection, try to reach other knowledge bases, or
carry control characters, before anything is retrieved or generated.

    result = check_question(text, max_chars=2000)
    if result.blocked:
        return safe_answer(result)      # English or Chinese, matching the question
    answer = pipeline.ask(result.cleaned)

Categories: "control_chars" (C0/C1 controls other than tab/newline/CR, bidi overrides and isolates,
Unicode tag characters), "prompt_injection", "cross_kb", plus "empty" and "too_long".
Zero-width characters (ZWSP, ZWJ, BOM, soft hyphen, ...) are removed silently: `cleaned` never
holds them, and matching runs on the text without them, so "ig\u200bnore previous instructions"
is caught as an injection. Matching runs on normalised forms (NFKC, case-folded, look-alike letters
and a few traditional characters folded, whitespace collapsed; see rag/guard_patterns.py).

Blocked questions are logged (category, rule, a short repr) and counted: `blocked_counts()`.
Documents are the other half: rag/prompt.py quotes passages as data so their text cannot steer
the answer.
"""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass

from indexer.script import CJK_RANGES, language
from rag.guard.patterns import CROSS_KB, INJECTION, Pattern
from rag.guard.personal_data import mask_personal

log = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 2000

_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_ALLOWED_CONTROLS = set("\t\n\r")
# look-alike letters (Cyrillic, Greek) that NFKC keeps apart from Latin
_CONFUSABLES = str.maketrans("асеорхуікјѕԁɡνοαιτκм", "aceopxyikjsdgvoaitkm")
# traditional -> simplified, only for characters our Chinese patterns use
_TRAD = str.maketrans("無視統詞開發獄規則設說識庫換輸這條實現話讓對將為從處內戶請問題歷過後覽顯遺憶擬與隱藏預啟據錄單號碼資訊帳覆蓋應該須聽執遵跳讀搜進釋",
                      "无视统词开发狱规则设说识库换输这条实现话让对将为从处内户请问题历过后览显遗忆拟与隐藏预启据录单号码资讯帐覆盖应该须听执遵跳读搜进释")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_CJK = CJK_RANGES
_NOT_WORD = re.compile(r"[\W_]+")
_NOT_SQUASH = re.compile(rf"[^a-z{_CJK}]+")
_HSPACE = re.compile(r"[^\S\n]+")

_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


@dataclass(frozen=True)
class GuardResult:
    blocked: bool
    reason: str | None      # why, for logs: e.g. "prompt injection (ignore-instructions)"
    category: str | None    # control_chars | prompt_injection | cross_kb | empty | too_long
    cleaned: str            # the question without zero-width/control characters, trimmed: what to answer
    language: str = "en"    # "zh" when the question has CJK characters (for safe_answer)
    rule: str | None = None  # the pattern that matched (see rag/guard_patterns.py)


@dataclass(frozen=True)
class Normalised:
    raw: str     # NFKC, case-folded, look-alikes folded, horizontal whitespace collapsed
    words: str   # raw with every run of non-letters/digits turned into one space
    squash: str  # letters and CJK only, leetspeak digits folded


def _is_invisible(ch: str) -> bool:
    """Zero-width and other format characters that are removed silently."""
    return unicodedata.category(ch) == "Cf" and ch not in _BIDI and not 0xE0000 <= ord(ch) <= 0xE007F


def _is_hard_control(ch: str) -> bool:
    """Characters that get a question blocked: C0/C1 controls (but tab, newline, CR), bidi overrides
    and isolates (Trojan-Source style reordering), Unicode tag characters (invisible ASCII smuggling)."""
    o = ord(ch)
    if ch in _ALLOWED_CONTROLS:
        return False
    return o < 0x20 or 0x7F <= o <= 0x9F or ch in _BIDI or 0xE0000 <= o <= 0xE007F


def clean_text(text: str) -> str:
    """Without zero-width characters and controls, CRLF as LF, trimmed (what the pipeline gets)."""
    kept = (ch for ch in text.replace("\r\n", "\n").replace("\r", "\n")
            if not _is_invisible(ch) and not _is_hard_control(ch))
    return "".join(kept).strip()


def normalise(text: str) -> Normalised:
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    raw = unicodedata.normalize("NFKC", text).casefold().translate(_CONFUSABLES).translate(_TRAD)
    raw = _HSPACE.sub(" ", raw).strip()
    words = _NOT_WORD.sub(" ", raw).strip()
    squash = _NOT_SQUASH.sub("", raw.translate(_LEET))
    return Normalised(raw=raw, words=words, squash=squash)


def _first_match(norm: Normalised, patterns: list[Pattern]) -> str | None:
    for name, form, rx in patterns:
        if rx.search(getattr(norm, form)):
            return name
    return None


def _blocked(category: str, reason: str, cleaned: str, lang: str, rule: str | None, text: str) -> GuardResult:
    with _counts_lock:
        _counts[category] += 1
    log.warning("input guard blocked a question: category=%s rule=%s chars=%d sample=%r",
                category, rule, len(text), mask_personal(text)[:80])  # masked whole: a cut number stays masked
    return GuardResult(True, reason, category, cleaned, lang, rule)


def check_question(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> GuardResult:
    """Classify a user question. Never raises for any string input."""
    if not isinstance(text, str):
        raise TypeError(f"the question must be a string, not {type(text).__name__}")
    cleaned = clean_text(text)
    lang = language(cleaned)
    hard = sorted({f"U+{ord(ch):04X}" for ch in text if _is_hard_control(ch)})
    if hard:
        return _blocked("control_chars", "control or bidi characters: " + ", ".join(hard[:5]),
                        cleaned, lang, "control-chars", text)
    if not cleaned:
        return _blocked("empty", "the question is empty", cleaned, lang, None, text)
    if len(cleaned) > max_chars:
        return _blocked("too_long", f"the question has {len(cleaned)} characters (limit {max_chars})",
                        cleaned, lang, None, text)
    norm = normalise(cleaned)
    rule = _first_match(norm, INJECTION)
    if rule:
        return _blocked("prompt_injection", f"prompt injection ({rule})", cleaned, lang, rule, text)
    rule = _first_match(norm, CROSS_KB)
    if rule:
        return _blocked("cross_kb", f"attempt to reach another knowledge base ({rule})", cleaned, lang, rule, text)
    return GuardResult(False, None, None, cleaned, lang, None)


SAFE_ANSWERS: dict[str, dict[str, str]] = {
    "prompt_injection": {
        "en": "I can only answer questions about the documents in this knowledge base, and I cannot change "
              "or reveal my instructions. Please ask your question about the documents.",
        "zh": "我只能回答与本知识库文档相关的问题，无法更改或透露我的指令。请直接提出与文档相关的问题。"},
    "cross_kb": {
        "en": "I can only answer from this knowledge base. I cannot access other knowledge bases or other "
              "customers' data.",
        "zh": "我只能根据当前知识库回答，无法访问其他知识库或其他客户的数据。"},
    "control_chars": {
        "en": "Your question contains control or hidden formatting characters. Please retype it as plain text.",
        "zh": "您的问题包含控制字符或隐藏的格式字符，请以纯文本重新输入。"},
    "empty": {"en": "Please type a question.", "zh": "请输入您的问题。"},
    "too_long": {"en": "Your question is too long. Please shorten it and ask again.",
                 "zh": "您的问题太长了，请精简后重新提问。"},
}


def safe_answer(result: GuardResult) -> str:
    """The reply the service gives instead of generating, in the question's language."""
    if not result.blocked or result.category not in SAFE_ANSWERS:
        raise ValueError("safe_answer() is for blocked questions")
    return SAFE_ANSWERS[result.category]["zh" if result.language == "zh" else "en"]


def blocked_counts() -> dict[str, int]:
    """Questions blocked by this process so far, per category (for metrics)."""
    with _counts_lock:
        return dict(_counts)
