"""Query-time pipeline: retrieve (dense + BM25, fused) -> rerank -> generate -> cite."""
import indexer  # noqa: F401  (process-wide threading defaults, set before torch loads)
