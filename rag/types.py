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
    # the page the passage ends on (its text runs from `page` to `page_end`; the same for one page), and
    # [offset in text, page starting there] per later page (indexer.page_breaks)
    page_end: int | None = None
    page_breaks: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)
