"""The reranker factory: the configured reranker, or None when reranking is off."""
from __future__ import annotations

from rag.rerank.base import Reranker
from rag.rerank.config import RerankSettings
from rag.rerank.cross_encoder import CrossEncoderReranker


def make_reranker(settings=None) -> Reranker | None:
    """The configured reranker, or None when no model is set.

    `settings`: a rag.config.Settings (its `.rerank`), a RerankSettings, or None (environment/defaults)."""
    if settings is None:
        rs = RerankSettings()
    elif isinstance(settings, RerankSettings):
        rs = settings
    else:
        rs = getattr(settings, "rerank", None) or RerankSettings()
    if not rs.model:
        return None
    return CrossEncoderReranker(rs.model, top_n=rs.top_n, batch_size=rs.batch_size, device=rs.device,
                                max_length=rs.max_length, weight=rs.weight)
