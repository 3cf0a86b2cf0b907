"""Keys of the answer cache: the exact key of a question and its content words.

* `normalise_question`: NFKC, case-folded, zero-width characters and punctuation removed, white
  space collapsed. "How do I report a LOST card??" and "how do i report a lost card" share a key.
* `content_words`: the words that carry the question's meaning, in order: courtesy fillers
  ("please", "can you tell me", "I want to know", "请问", "麻烦问一下", particles 的/了/吗/呢) and
  articles/auxiliaries dropped, English stemmed, Chinese cut with jieba. Question words, negations,
  prepositions and pronouns stay, so "from savings to checking" and "from checking to savings",
  or "can I" and "can you", stay apart.

Why near-duplicates need both: measured with the real encoders on paraphrase pairs (see
tests/test_cache.py), multilingual e5 scores trivial rewordings 0.958-0.995 but also *different*
questions up to 0.98 ("银行卡丢了怎么挂失" vs "信用卡丢了怎么挂失", "close" vs "open my account
online" 0.954); MiniLM separates English well (same >= 0.966, different <= 0.87) but maps different
Chinese questions to cosine 1.0. No threshold alone is safe, so a near-duplicate must pass the
cosine threshold *and* have the same content words (`lexical_min`).
"""
from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Sequence

from indexer.script import CJK_RUN
from indexer.tokenize import TOKEN, jieba_tokenizer, stem_word

_PUNCT_OR_SPACE = re.compile(r"[\s\W_]+")

_EN_FILLER = re.compile(
    r"\b(?:please|pls|plz|kindly|thanks|thank\s+you|thx|hi|hello|hey|"
    r"(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:tell|show|explain\s+to|let|help)\s+(?:me|us)(?:\s+know)?|"
    r"(?:i|we)\s+(?:d|would|want|wanted|wish|need|am\s+trying|m\s+trying)"
    r"(?:\s+like)?\s+(?:to\s+)?(?:know|ask|find\s+out|understand)(?:\s+if|\s+whether)?|"
    r"(?:i|we)\s+(?:was|were)\s+wondering(?:\s+if|\s+whether)?|do\s+you\s+know|quick\s+question|"
    r"i\s+have\s+a\s+question(?:\s+about)?)\b|^\s*(?:tell|show)\s+me\b")
_EN_DROP = frozenset("a an the do does did is are am was were be been just".split())

_ZH_FILLER = re.compile(r"请问|麻烦(?:你|您)?(?:问一下)?|想问(?:一下)?|问一下|我想(?:知道|了解|问)|能否告诉我|能不能告诉我|"
                        r"可以告诉我|告诉我|你好|您好|谢谢|一下")
_ZH_DROP = frozenset("的 了 吗 呢 吧 啊 呀 哦 嘛 哈 请 呃 嗯".split())


def normalise_question(text: str) -> str:
    text = "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")
    return _PUNCT_OR_SPACE.sub(" ", text.casefold()).strip()


def question_hash(normalised: str) -> str:
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:32]


def content_words(text: str) -> list[str]:
    text = normalise_question(text)
    for _ in range(3):  # "please tell me ...": a filler can start once the one before it is gone
        stripped = _ZH_FILLER.sub(" ", _EN_FILLER.sub(" ", text)).strip()
        if stripped == text:
            break
        text = stripped
    out: list[str] = []
    for m in TOKEN.finditer(text):
        tok = m.group(0)
        if CJK_RUN.fullmatch(tok):
            out.extend(w for w in jieba_tokenizer().lcut(tok) if w not in _ZH_DROP)
        elif tok not in _EN_DROP:
            out.append(stem_word(tok) if tok.isascii() else tok)
    return out


def lexical_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """1.0 when both questions have the same content words in the same order."""
    if list(a) == list(b):
        return 1.0
    return difflib.SequenceMatcher(None, list(a), list(b), autojunk=False).ratio()
