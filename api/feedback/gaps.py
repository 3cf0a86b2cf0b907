"""What a KB's readers asked that it did not answer: the questions refused or voted down over a period,
grouped as the answer cache groups them (case, punctuation, width), and the words of those questions that
no document of the KB holds ("挂号费" where the price list says "诊查费"). An administrator reads it to add
documents or synonyms (rag.synonyms) where readers' words and the documents' differ."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from api.cache.keys import normalise_question
from api.state.base import Database
from indexer.script import CJK_RUN
from indexer.tokenize import EN_STOP, ZH_STOP, jieba_tokenizer, tokenize
from rag.answering.words import ASKING_ZH  # words that ask: a KB need not hold them

# Bounds: a busy KB records thousands of answers a day; the report reads the newest MAX_ROWS of the period
# and looks up the words of at most MAX_GROUPS distinct questions (all in one lookup: a query per 500 on Milvus).
MAX_ROWS = 20000
MAX_GROUPS = 2000
# personal data masked when stored (rag.guard.personal_data: "*******5678", "***@hospital.cn"): the masked item
# with the digits and address left of it, not the Chinese around it ("我的手机*******5678收不到验证码")
_MASKED = re.compile(r"[0-9A-Za-z._%+@-]*\*{3,}[0-9A-Za-z._%+@-]*")
_LATIN = re.compile(r"[A-Za-z][A-Za-z'’&-]*[A-Za-z]|[A-Za-z]")


@dataclass
class MissingWord:
    word: str                      # case-folded ("quux", "挂号费")
    questions: int                 # distinct questions holding it
    examples: list[str] = field(default_factory=list)


@dataclass
class Unanswered:
    question: str                  # as last asked
    times: int
    refused: int                   # times it was refused ...
    voted_down: int                # ... and answered but voted down
    last_asked: str
    comments: list[str] = field(default_factory=list)


@dataclass
class Gaps:
    kb: str
    since: str
    answers: int                   # answers recorded in the period
    refused: int
    voted_down: int
    missing_words: list[MissingWord]
    questions: list[Unanswered]
    truncated: bool = False        # more than MAX_ROWS unanswered in the period: the newest were read


def _words(question: str) -> list[str]:
    """The words a reader wrote, as written: Latin words (not stop words) and Chinese words (jieba)."""
    text = _MASKED.sub(" ", unicodedata.normalize("NFKC", question))  # ＡＴＭ, typed full width, as ATM
    out = [w for w in _LATIN.findall(text) if w.lower() not in EN_STOP and len(w) > 1]
    for run in CJK_RUN.findall(text):
        out += [w for w in jieba_tokenizer().lcut(run) if len(w) > 1 and w not in ZH_STOP and w not in ASKING_ZH]
    return list(dict.fromkeys(out))


def knowledge_gaps(db: Database, store, kb: str, days: float = 30, limit: int = 20) -> Gaps:
    """The KB's unanswered questions of the last `days` days, most asked first, and the words missing from
    its documents, in the most questions first; at most `limit` of each. `store`: the KB, opened."""
    since = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="seconds")
    total = db.one("SELECT COUNT(*) AS n FROM answers WHERE kb = ? AND created_at >= ?", (kb, since))["n"]
    rows = db.query(
        "SELECT a.question, a.refused, a.created_at, f.rating, f.comment FROM answers a "
        "LEFT JOIN feedback f ON f.answer_id = a.id WHERE a.kb = ? AND a.created_at >= ? "
        "AND (a.refused = 1 OR f.rating = 'down') ORDER BY a.created_at DESC LIMIT ?", (kb, since, MAX_ROWS + 1))
    rows = [dict(r) for r in rows]
    truncated = len(rows) > MAX_ROWS
    groups: dict[str, Unanswered] = {}
    for r in rows[:MAX_ROWS]:
        key = normalise_question(r["question"])
        g = groups.get(key)
        if g is None:
            g = groups[key] = Unanswered(r["question"], 0, 0, 0, r["created_at"])
        g.times += 1
        g.refused += int(bool(r["refused"]))
        g.voted_down += int(r["rating"] == "down" and not r["refused"])
        if r["comment"] and len(g.comments) < 3:
            g.comments.append(r["comment"][:500])
    ranked = sorted(groups.values(), key=lambda g: (-g.times, g.question))
    asked = [(g, _words(g.question)) for g in ranked[:MAX_GROUPS]]
    tokens = {w.casefold(): tokenize(w) for _, words in asked for w in words}
    known = store.known_terms([t for ts in tokens.values() for t in ts])  # at once: a query each on Milvus was slow
    present = {k: all(t in known for t in ts) for k, ts in tokens.items()}
    missing: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for g, words in asked:
        for word in words:
            k = word.casefold()
            if not present[k]:
                missing[k] += 1
                ex = examples.setdefault(k, [])
                if len(ex) < 3:
                    ex.append(g.question)
    words = [MissingWord(k, n, examples[k]) for k, n in sorted(missing.items(), key=lambda t: (-t[1], t[0]))]
    return Gaps(kb=kb, since=since, answers=int(total), refused=sum(g.refused for g in groups.values()),
                voted_down=sum(g.voted_down for g in groups.values()),
                missing_words=words[:limit], questions=ranked[:limit], truncated=truncated)
