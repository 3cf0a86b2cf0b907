"""Hybrid retrieval: dense (FAISS) and BM25 candidates from the store, fused, optionally
collapsed to one hit per document."""
from __future__ import annotations

from indexer.embed.base import Encoder
from indexer.kbs import KBManager
from indexer.store.base import Store
from indexer.tokenize import tokenize
from indexer.types import ChunkRecord, Filters
from rag.config import RetrievalSettings
from rag.retrieval.feedback import expanded_query
from rag.retrieval.fusion import aggregate_by, fuse
from rag.synonyms.matcher import documents_words, matcher
from rag.synonyms.rules import Synonyms
from rag.types import Hit


class HybridRetriever:
    def __init__(self, store: Store, encoder: Encoder, settings: RetrievalSettings | None = None):
        self.store, self.encoder = store, encoder
        self.settings = settings or RetrievalSettings()
        self.synonyms = Synonyms()  # the KB's own (rag.synonyms): BM25 searches what a question's terms also mean

    @classmethod
    def from_store(cls, store: Store, manager: KBManager, settings: RetrievalSettings | None = None) -> HybridRetriever:
        """A retriever over `store` that encodes queries with the model the KB was built with."""
        return cls(store, manager.encoder(store.embed_model), settings)

    def warm_up(self) -> None:
        self.encoder.warm_up()
        tokenize("warm up 预热")  # loads jieba's dictionary now (~0.8 s), not on the first Chinese question

    def run(self, query: str, k: int = 10, filters: Filters | None = None, mode: str | None = None,
            synonyms: Synonyms | None = None) -> list[Hit]:
        """The `k` best passages for `query`. `synonyms`: the KB's rules read once for the request (the
        pipeline's); None: the retriever's own."""
        s = self.settings
        mode = mode or s.mode
        synonyms = self.synonyms if synonyms is None else synonyms
        n = max(s.candidates, k)
        lists, weights, records = [], [], {}
        per_retriever: dict[str, dict[int, float]] = {}
        if mode in ("hybrid", "dense"):
            if synonyms and (worded := documents_words(query, synonyms)) is not None:
                dense = self._dense_either(query, worded, n, filters)
            else:
                dense = self.store.search_dense(self.encoder.encode_queries([query])[0], n, filters)
            per_retriever["dense"] = self._collect(dense, records)
            lists.append(per_retriever["dense"])
            weights.append(s.dense_weight * self.encoder.votes(query))  # 'e5+minilm': 2 for English
        if mode in ("hybrid", "bm25"):
            own = tokenize(query)
            tokens = own + (tokenize(" ".join(matcher(synonyms).expansions(query))) if synonyms else [])
            sparse = self.store.search_sparse(tokens, n, filters)
            if (s.bm25_feedback and self.store.sparse_weights
                    and (expanded := expanded_query(self.store, tokens, sparse, s.bm25_feedback))):
                sparse = self.store.search_sparse(expanded.tokens, n, filters, expanded.weights)
            per_retriever["bm25"] = self._collect(sparse, records)
            lists.append(per_retriever["bm25"])
            # a query whose words the KB mostly lacks (a Chinese question on English documents) gets
            # little say from BM25: its few matches are noise there, while the dense side crosses languages
            weights.append(s.bm25_weight * (self._coverage(own, tokens) if s.coverage_weighting else 1.0))
        fused = lists[0] if len(lists) == 1 else fuse(lists, s.fusion, weights, s.rrf_k)
        if s.per == "document":
            best_chunk: dict[str, int] = {}
            for row in fused:  # fused is best first: the first chunk seen is the doc's best
                best_chunk.setdefault(records[row].doc_id, row)
            doc_scores = aggregate_by(fused, {r: records[r].doc_id for r in fused}, s.aggregate)
            fused = {best_chunk[d]: sc for d, sc in doc_scores.items()}
        hits = []
        for row, score in list(fused.items())[:k]:
            rec = records[row]
            hits.append(Hit(doc_id=rec.doc_id, chunk_id=rec.chunk_id, source=rec.source, text=rec.text,
                            score=float(score), title=rec.title, page=rec.page, tags=rec.tags,
                            scores={name: float(r[row]) for name, r in per_retriever.items() if row in r},
                            page_end=rec.page_end, page_breaks=list(rec.page_breaks)))
        return hits

    def _dense_either(self, query: str, worded: str, n: int, filters: Filters | None) -> list[tuple[ChunkRecord, float]]:
        """The dense candidates of the question as asked and of the question in the documents' words
        (`documents_words`), each chunk with the better of its two scores: the encoder does not know that
        "挂号费" is the hospital's "诊查费", and the question in the documents' words may miss what the
        reader's own words found. One more encode, for questions a rule rewrites only."""
        best: dict[int, tuple[ChunkRecord, float]] = {}
        for text in (query, worded):
            for rec, score in self.store.search_dense(self.encoder.encode_queries([text])[0], n, filters):
                if rec.row not in best or score > best[rec.row][1]:
                    best[rec.row] = (rec, score)
        return sorted(best.values(), key=lambda rs: -rs[1])[:n]

    def _coverage(self, own: list[str], searched: list[str]) -> float:
        """The share of the question's words the KB holds, or of its words with what they mean under the
        KB's synonyms when that is higher: a two-way rule adds the readers' word the KB lacks to a question
        that used the documents' own ("Where is the emergency department?" under "A&E, emergency
        department"), which says nothing of how well the KB covers it."""
        if len(searched) == len(own) or not own:
            return self.store.term_coverage(own)
        seen = self.store.known_terms(searched)  # one lookup for both shares (a query each on Milvus)
        return max(sum(t in seen for t in own) / len(own), sum(t in seen for t in searched) / len(searched))

    @staticmethod
    def _collect(scored: list[tuple[ChunkRecord, float]], records: dict) -> dict[int, float]:
        out = {}
        for rec, score in scored:
            records[rec.row] = rec
            out[rec.row] = score
        return out
