"""Query-time pipeline: retrieve (dense + BM25, fused) -> rerank -> generate -> cite."""
