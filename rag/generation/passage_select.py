"""Fitting retrieved passages into a small prompt: keep the sentences that matter for the question.

A small local model needs a small prompt (SmolLM2 prefills ~350 tokens/s on 2 cores), but chunks are
often longer than the whole context budget, so cutting each passage from its start fits only the
first one or two, and the answer is lost whenever retrieval ranked it third. With `passage_fit =
"select"` every passage gets a share of the budget and keeps, in their original order, its opening
sentence and the sentences sharing the most content words with the question (same tokenizer as the
BM25 index and the citation check, so Chinese and English alike). Gaps are marked with " … ".

    fit_passage("How do I report a stolen card?", chunk_text, limit=60, count=generator.count_tokens)
"""
from __future__ import annotations

from collections.abc import Callable

from rag.answering.cite import content_tokens
from rag.text import line_sentences

CountFn = Callable[[str], int]
GAP = " … "
LEAD_BONUS = 0.5  # the opening sentence usually states what the passage is about


def fit_passage(question: str, text: str, limit: int, count: CountFn,
                truncate: Callable[[str, int, CountFn], str] | None = None) -> str:
    """`text` if it fits in `limit` tokens, else its most question-relevant sentences (plus the opening
    one) in passage order, within `limit`. '' when not even one sentence fits and there is no
    `truncate` fallback (which then cuts the best sentence)."""
    if count(text) <= limit:
        return text
    sents = line_sentences(text)
    q = content_tokens(question)
    scores = [len(q & content_tokens(s)) + (LEAD_BONUS if i == 0 else 0.0) for i, s in enumerate(sents)]
    order = sorted(range(len(sents)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    for i in order:
        trial = sorted(chosen + [i])
        if count(_join(sents, trial)) <= limit:
            chosen = trial
    if chosen:
        return _join(sents, chosen)
    if truncate is None or not order:
        return ""
    return truncate(sents[order[0]], limit, count)


def _join(sents: list[str], idx: list[int]) -> str:
    parts: list[str] = []
    for j, i in enumerate(idx):
        if j and i != idx[j - 1] + 1:
            parts.append(GAP.strip())
        parts.append(sents[i])
    text = " ".join(parts)
    if idx and idx[-1] != len(sents) - 1:
        text += GAP.rstrip()
    return text
