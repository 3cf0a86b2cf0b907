"""Ingestion and storage: parse -> chunk -> embed -> store (SQLite + FAISS + BM25)."""
import os

# Idle OpenMP threads must sleep, not spin: on a busy small server spinning threads starve the
# working one and a one-query encode slows down many times over. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
