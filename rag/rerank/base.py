"""The reranker protocol: rescore retrieval's top candidates for a question."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from rag.types import Hit


@runtime_checkable
class Reranker(Protocol):
    top_n: int  # candidates rescored per question

    @property
    def active(self) -> bool:
        """False when the reranker would leave retrieval's order as it is (it is then neither loaded nor run)."""
        ...

    def warm_up(self) -> None: ...

    def run(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        """The first `top_n` hits rescored, best first; the rest follow in their order; at most k."""
        ...
