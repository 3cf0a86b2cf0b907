"""Settings of the optional cross-encoder reranking stage (off unless a model is configured).

Config file section: [rerank]. Environment: RAG_RERANK_MODEL, RAG_RERANK_TOP_N, RAG_RERANK_BATCH_SIZE, ...
"""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RerankSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_RERANK_", extra="ignore", protected_namespaces=())

    model: str | None = Field(None, description="local sentence-transformers CrossEncoder folder (e.g. one made by "
                                                "`rag tune reranker`); unset = no reranking")
    top_n: int = Field(30, ge=1, description="how many of the retrieved candidates the cross-encoder rescores")
    batch_size: int = Field(16, ge=1)
    device: str = Field("auto", description="'auto' (GPU if present), 'cpu' or 'cuda'")
    weight: float | None = Field(
        None, ge=0, le=1, description="the cross-encoder's share of the final score: weight x its score + "
                                      "(1 - weight) x the retrieval score, both min-max scaled over the reranked "
                                      "candidates. None = the weight `rag tune reranker` chose on held-out "
                                      "queries and saved with the model (rag_rerank.json), else 1 (cross-encoder only)")
    max_length: int = Field(256, ge=16, description="query + passage tokens; longer pairs are truncated")
