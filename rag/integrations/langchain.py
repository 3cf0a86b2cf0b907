"""LangChain interop: our hybrid search as a LangChain `BaseRetriever`.

    from rag.integrations.langchain import KBRetriever
    retriever = KBRetriever.open("default", k=5)      # or KBRetriever(hybrid=HybridRetriever(...))
    docs = retriever.invoke("how do I report a lost card?")
    docs = retriever.invoke("how do I report a lost card?", k=2)  # per call: k (and filters) win over the constructor's
"""
from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from indexer.types import Filters


class KBRetriever(BaseRetriever):
    hybrid: Any  # rag.retrieval.hybrid.HybridRetriever
    k: int = 5
    filters: Filters | None = None

    @classmethod
    def open(cls, kb: str = "default", k: int = 5, config_file: str | None = None, **kwargs) -> "KBRetriever":
        from indexer.kbs import KBManager
        from rag.config import Settings
        from rag.retrieval.hybrid import HybridRetriever

        settings = Settings.load(config_file)
        mgr = KBManager(settings.indexer)
        store = mgr.open(kb)
        return cls(hybrid=HybridRetriever.from_store(store, mgr, settings.retrieval), k=k, **kwargs)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, filters: Filters | None = None,
                                **kwargs: Any) -> list[Document]:
        # `retriever.invoke(q, k=1)` / `invoke(q, filters=...)`: what the call passes wins over the constructor's;
        # other keywords (LangChain's own, such as `verbose`) are not ours and are ignored
        hits = self.hybrid.run(query, self.k if k is None else k, self.filters if filters is None else filters)
        return [Document(page_content=h.text, id=h.chunk_id,
                         metadata={"doc_id": h.doc_id, "chunk_id": h.chunk_id, "source": h.source, "score": h.score,
                                   "title": h.title, "page": h.page, "page_end": h.page_end, **h.tags}) for h in hits]
