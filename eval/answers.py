"""Answer metrics against gold answers and qrels, as pure functions.

* `answer_tokens`: lower-cased words and numbers; every CJK character is its own token (so token F1
  and ROUGE-L are character-level for Chinese); citation markers and English articles are dropped.
* `token_f1`: SQuAD-style bag-of-tokens F1. `rouge_l`: F1 of the longest common subsequence.
* `citation_pr`: precision (share of cited documents that are relevant in the qrels; None when
  nothing is cited) and recall (share of relevant documents cited).
* `groundedness`: share of the answer's sentences supported by a passage they cite, with the
  same lexical test as rag.answering.cite (>= min_overlap of the sentence's content tokens occur in the
  passage). Sentences saying "not in the knowledge base" are not counted; None when no sentence is.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from rag.answering.cite import MARKER, content_tokens, is_refusal, parse_citations, split_sentences, support
from rag.answering.types import Citation
from rag.types import Hit

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W_])+")
_ARTICLES = {"a", "an", "the"}


def answer_tokens(text: str) -> list[str]:
    text = MARKER.sub(" ", text or "").lower()
    return [t for t in _TOKEN.findall(text) if t not in _ARTICLES]


def token_f1(prediction: str, gold: str) -> float:
    p, g = answer_tokens(prediction), answer_tokens(gold)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, gold: str) -> float:
    p, g = answer_tokens(prediction), answer_tokens(gold)
    if not p or not g:
        return float(p == g)
    lcs = lcs_length(p, g)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(g)
    return 2 * precision * recall / (precision + recall)


def citation_pr(cited_docs: Sequence[str], qrels: dict[str, float]) -> tuple[float | None, float]:
    cited = set(cited_docs)
    relevant = {d for d, r in qrels.items() if r > 0}
    hit = len(cited & relevant)
    precision = hit / len(cited) if cited else None
    recall = hit / len(relevant) if relevant else 0.0
    return precision, recall


def groundedness(answer: str, citations: Sequence[Citation], hits: Sequence[Hit],
                 min_overlap: float = 0.3) -> float | None:
    """`citations`' `n` are the markers in `answer`; their `passage` indexes `hits` (1-based)."""
    by_marker = {c.n: c for c in citations}
    passage_tokens: dict[int, set[str]] = {}
    counted = supported = 0
    for a, b in split_sentences(answer):
        sentence = answer[a:b]
        tokens = content_tokens(sentence)
        if not tokens or is_refusal(sentence):
            continue
        counted += 1
        for n in parse_citations(sentence):
            c = by_marker.get(n)
            if c is None or not 1 <= c.passage <= len(hits):
                continue
            if c.passage not in passage_tokens:
                passage_tokens[c.passage] = content_tokens(hits[c.passage - 1].text)
            if support(tokens, passage_tokens[c.passage]) >= min_overlap:
                supported += 1
                break
    return supported / counted if counted else None
