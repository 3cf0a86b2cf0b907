"""Answer metrics against gold answers and qrels, as pure functions.

* token F1 and ROUGE-L: rag.metrics (shared with training and tuning).
* `citation_pr`: precision (share of cited documents that are relevant in the qrels; None when
  nothing is cited) and recall (share of relevant documents cited).
* `groundedness`: share of the answer's sentences supported by a passage they cite, with the
  same lexical test as rag.answering.cite (>= min_overlap of the sentence's content tokens occur in the
  passage). Sentences saying "not in the knowledge base" are not counted; None when no sentence is.
* `answered_correctly`: 1 when the answer is not a refusal, cites a relevant document, and no sentence
  of it was dropped by the citation check (rag.answering.cite with rag.answering.verify: taken out for
  a fact the passages contradict, or left uncited) nor replaced by the refusal (fallback
  "unsupported"); else 0.
"""
from __future__ import annotations

from collections.abc import Sequence

from rag.answering.cite import content_tokens, is_refusal, parse_citations, split_sentences, support
from rag.answering.types import Citation
from rag.types import Hit


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


def answered_correctly(refused: bool, cited_docs: Sequence[str], qrels: dict[str, float],
                       dropped_sentences: int, fallback: str = "") -> float:
    """1.0 for an answer a reader can trust: given (not refused), citing a document the qrels call
    relevant, with no dropped or unsupported sentence; else 0.0."""
    relevant = {d for d, r in qrels.items() if r > 0}
    ok = (not refused and bool(set(cited_docs) & relevant) and dropped_sentences == 0
          and fallback != "unsupported")
    return float(ok)
