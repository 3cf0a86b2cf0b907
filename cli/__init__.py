"""The `rag` command line: the composition root above indexer, rag, api and eval."""
import indexer  # noqa: F401  (process-wide threading defaults, set before torch loads)
