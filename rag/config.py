"""Query-time settings, composed with the indexer's into one `Settings` object.

Config file (TOML) sections: [indexer], [retrieval], [rerank], [generation], [answer]. Environment: RAG_HOME, RAG_EMBED_MODEL, ...
for the indexer; RAG_RETRIEVAL_MODE, RAG_RETRIEVAL_FUSION, ... for retrieval.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.config import IndexerSettings, load_sections
from rag.generation.config import GenerationSettings
from rag.rerank.config import RerankSettings

RetrievalMode = Literal["hybrid", "dense", "bm25"]  # also `rag search --mode` and the API's search body
RETRIEVAL_MODES: tuple[str, ...] = get_args(RetrievalMode)


class RetrievalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_RETRIEVAL_", extra="ignore")

    mode: RetrievalMode = "hybrid"
    fusion: Literal["rrf", "minmax", "dbsf"] = "dbsf"  # dbsf: ranks best of the three on the FAQ dev half, en and zh
    dense_weight: float = Field(1.0, ge=0, description="fusion weight per embedding model that speaks for the "
                                                       "question ('e5+minilm': 2 models for English, 1 for Chinese)")
    bm25_weight: float = Field(0.5, ge=0, description="BM25's fusion weight; 0.5 ranks best on the FAQ dev half "
                                                     "(en and zh, with and without distractors) with context "
                                                     "vectors")
    bm25_feedback: float = Field(0.0, ge=0, lt=1, description="BM25 pseudo-relevance feedback (RM3, "
                                 "rag.retrieval.feedback): the weight of the top 3 BM25 documents' 10 likeliest "
                                 "terms added to the question's BM25 search; 0: off. Not run where the KB holds "
                                 "under half the question's words, nor on the Milvus store (no term weights)")
    rrf_k: int = Field(60, ge=1)
    coverage_weighting: bool = Field(True, description="scale the BM25 weight by the share of query words the KB "
                                                       "contains (helps cross-language questions)")
    candidates: int = Field(50, ge=1, description="candidates taken from each retriever before fusion")
    per: Literal["chunk", "document"] = "chunk"
    aggregate: Literal["max", "max+"] = "max"


class AnswerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_ANSWER_", extra="ignore")

    top_k: int = Field(4, ge=1, description="passages offered to the generator")
    mode: Literal["auto", "generate", "extract"] = Field(
        "auto", description="'generate': the generator writes every answer; 'extract': none does, the answer "
                            "quotes the best-matching sentences of the highest-ranked passage that matches, "
                            "cited (no LLM: tens of ms); 'auto': generate for questions in a language the "
                            "generator writes ([generation] languages), extract for the others")
    extractive_fallback: bool = Field(
        True, description="when no sentence of the generator's answer is supported by a passage (a small model's "
                          "degenerate or invented answer), answer with the best-matching passage's own sentences "
                          "and its citation instead (Answer.fallback = 'extractive'); and when the generator fails "
                          "(a remote endpoint down or timing out) before any of its answer was shown, quote the passages "
                          "instead of failing (Answer.fallback = 'generator_failed')")
    refusal_threshold: float | None = Field(
        None, description="evidence below this refuses without generating; default: the KB's calibrated "
                          "threshold (`rag tune refusal`), else no retrieval-based refusal")
    stream: Literal["verified", "raw"] = Field(
        "verified", description="what a streamed answer shows while it is written: 'verified', each sentence once "
                                "the next has begun and it has passed the citation and facts checks (a sentence "
                                "the checks drop is never shown); 'raw', the generator's tokens as they come (the "
                                "checked answer follows at the end)")


@dataclass
class Settings:
    indexer: IndexerSettings
    retrieval: RetrievalSettings
    rerank: RerankSettings
    generation: GenerationSettings
    answer: AnswerSettings

    def quotes(self, language: str) -> bool:
        """Are questions in `language` ('en' | 'zh') answered by quoting the passages, with no generator?
        [answer] mode 'extract'; or 'auto' with a model that does not write that language well."""
        mode = self.answer.mode
        return mode == "extract" or (mode == "auto" and not self.generation.writes(language))

    @property
    def uses_generator(self) -> bool:
        """Can any question be answered by the generator? Not when every language is quoted (the bundled
        SmolLM2 without an adapter): then no generator is loaded at warm-up (pipeline, service), saving
        its start-up and memory."""
        return not all(map(self.quotes, ("en", "zh")))

    @classmethod
    def load(cls, config_file: str | Path | None = None, indexer: dict | None = None,
             retrieval: dict | None = None, rerank: dict | None = None, generation: dict | None = None,
             answer: dict | None = None, overrides_from: str = "option --{option}") -> "Settings":
        """defaults < config file < environment < the given overrides (CLI flags). Raises SettingsError listing
        every invalid setting of every section, and where each came from (`overrides_from` names where the
        overrides came from: see indexer.config.load_settings)."""
        return cls(**load_sections(config_file, {
            "indexer": (IndexerSettings, indexer or {}), "retrieval": (RetrievalSettings, retrieval or {}),
            "rerank": (RerankSettings, rerank or {}), "generation": (GenerationSettings, generation or {}),
            "answer": (AnswerSettings, answer or {})}, overrides_from))
