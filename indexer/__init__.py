"""Ingestion and storage: parse -> chunk -> embed -> store (SQLite + FAISS + BM25)."""
import os

# Idle OpenMP threads must sleep, not spin: with spinning, a one-query encode on a busy
# 2-core server took ~1 s instead of ~30 ms (measured). Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
