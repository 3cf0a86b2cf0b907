"""Ingestion and storage: parse -> chunk -> embed -> store (SQLite + FAISS + BM25)."""
