"""The Milvus store backend: a knowledge base as Milvus collections (a server or cluster at
`http://HOST:PORT`, or Milvus Lite in-process for a path ending in `.db`). See docs/milvus.md."""
