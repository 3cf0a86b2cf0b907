"""BM25 pseudo-relevance feedback (RM3): the question's BM25 search run again with the likeliest terms
of its top BM25 documents added at a low weight, so that an answer using other words than the question
(a sibling FAQ section's vocabulary) can still match on BM25's side.

Each feedback document weighs by its best chunk's DBSF-scaled BM25 score; a term's weight is the sum
over the documents' chunks of that weight x its share of the chunk's tokens. The question's own terms
keep weight 1 - `weight` (spread over them by their count), the expansion terms share `weight`. The
weighted query goes to the store as per-term weights (`Store.search_sparse(weights=...)`); a store that
takes none (`sparse_weights` False: Milvus) gets no feedback.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from indexer.store.base import Scored, Store
from indexer.tokenize import tokenize
from rag.retrieval.fusion import fuse

FEEDBACK_DOCS = 3    # documents whose terms are fed back
FEEDBACK_TERMS = 10  # terms added to the question
MIN_COVERAGE = 0.5   # below: the KB lacks most of the question's words (a Chinese question on English
#                      documents) and BM25's top documents are noise to feed back


@dataclass(frozen=True)
class WeightedQuery:
    weights: dict[str, float]  # term -> weight: the question's own terms and the expansion terms

    @property
    def tokens(self) -> list[str]:
        return list(self.weights)


def expanded_query(store: Store, tokens: list[str], sparse: Scored, weight: float) -> WeightedQuery | None:
    """The question's tokens with the feedback terms, weighted; None when there is nothing to feed back
    (no BM25 hit, too few of the question's words in the KB, no new term)."""
    if not tokens:
        return None
    vocab = store.known_terms(tokens)
    known = [t for t in tokens if t in vocab]
    if not sparse or not known or len(known) / len(tokens) < MIN_COVERAGE:
        return None
    scaled = fuse([{rec.row: sc for rec, sc in sparse}], "dbsf", [1.0])
    doc_weight: dict[str, float] = {}
    for rec, _ in sparse:
        doc_weight.setdefault(rec.doc_id, scaled[rec.row])
    own, terms = set(tokens), Counter()
    for doc_id in list(doc_weight)[:FEEDBACK_DOCS]:
        for chunk in store.doc_chunks(doc_id):
            words = tokenize(chunk.text)
            for term, n in Counter(words).items():
                if term not in own:
                    terms[term] += doc_weight[doc_id] * n / len(words)
    expansion = terms.most_common(FEEDBACK_TERMS)
    total = sum(w for _, w in expansion)
    if not total:
        return None
    counts = Counter(known)
    weights = {t: (1 - weight) * n / len(known) for t, n in counts.items()}
    weights.update({t: weight * w / total for t, w in expansion})
    return WeightedQuery(weights)
