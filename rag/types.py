"""Typed results of the query-time pipeline."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Hit:
    doc_id: str
    chunk_id: str
    source: str
    text: str
    score: float
    title: str = ""
    page: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)  # per retriever: dense, bm25, rerank

    def to_dict(self) -> dict:
        return asdict(self)
