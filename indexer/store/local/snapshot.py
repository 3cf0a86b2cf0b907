"""Index snapshots: the FAISS and BM25 indexes for one catalog generation, in their own
folder, published by atomically replacing the `CURRENT` pointer. Readers only ever open
a complete snapshot; a crash mid-write leaves a stray folder that the next writer removes.

A snapshot that lags the catalog (a crash after the catalog commit, or a reader that was
opened before an update) catches up by applying the difference in chunk rows in memory.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.atomic import fsync_path, remove_stale, write_text
from indexer.store.local.catalog import Catalog
from indexer.store.local.dense import DenseIndex
from indexer.store.local.sparse import BM25Index

log = logging.getLogger(__name__)


@dataclass
class IndexParams:
    dim: int
    dense_index: str = "auto"   # auto | flat | hnsw
    hnsw_threshold: int = 50_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 128

    def kind_for(self, n: int) -> str:
        if self.dense_index != "auto":
            return self.dense_index
        return "hnsw" if n >= self.hnsw_threshold else "flat"


class Snapshot:
    def __init__(self, params: IndexParams, generation: int = 0, dense: DenseIndex | None = None,
                 bm25: BM25Index | None = None):
        self.params = params
        self.generation = generation
        self.dense = dense or DenseIndex(params.dim, params.kind_for(0), params.hnsw_m, params.hnsw_ef_search)
        self.bm25 = bm25 or BM25Index()

    # ---- catching up with the catalog -----------------------------------------
    def sync(self, catalog: Catalog) -> bool:
        """Apply the catalog's added and removed chunk rows; True when anything changed."""
        gen = catalog.generation()
        if gen == self.generation:
            return False
        db_rows = catalog.chunk_rows()
        have = self.bm25.ids
        removed = np.setdiff1d(have, db_rows, assume_unique=True)
        added = np.setdiff1d(db_rows, have, assume_unique=True)
        if len(removed):
            self.bm25.remove(removed)
            self.dense.remove(removed)
        if len(added):
            rows, tokens, vectors = catalog.chunk_payload(added)
            self.bm25.add(rows, tokens)
            self.dense.add(rows, vectors)
        want = self.params.kind_for(len(self.bm25))
        if want != self.dense.kind:
            self.dense = self.dense.rebuild_as(want)
        self.generation = gen
        return True

    # ---- persistence ----------------------------------------------------------
    def publish(self, root: Path) -> Path:
        """Write to a new folder, fsync it, then switch CURRENT to it atomically."""
        root.mkdir(parents=True, exist_ok=True)
        name = f"snap-{self.generation:08d}-{os.getpid()}-{int(time.time() * 1000)}"
        tmp = root / (name + ".tmp")
        tmp.mkdir()
        try:
            self.dense.save(tmp)
            self.bm25.save(tmp)
            manifest = {"generation": self.generation, "dense_kind": self.dense.kind, "dim": self.params.dim,
                        "chunks": len(self.bm25)}
            (tmp / "manifest.json").write_text(json.dumps(manifest))
            for f in tmp.iterdir():
                fsync_path(f)
        except BaseException:  # a full disk: give its space back at once, not at the next publish
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        final = root / name
        os.replace(tmp, final)
        remove_stale(root / "CURRENT")  # a pointer write cut short by kill -9 (the writer lock is held)
        write_text(root / "CURRENT", name)
        fsync_path(root)
        self._prune(root, keep={name, read_pointer(root) or name})
        return final

    @staticmethod
    def _prune(root: Path, keep: set[str]) -> None:
        snaps = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("snap-"))
        done = [p for p in snaps if not p.name.endswith(".tmp")]
        # keep the current and the one before it, so a reader that just read CURRENT can still open it
        keep = keep | {p.name for p in done[-2:]}
        for p in snaps:
            if p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)

    @classmethod
    def load(cls, root: Path, params: IndexParams) -> "Snapshot":
        """The published snapshot, or an empty one when none exists yet."""
        for _ in range(5):
            name = read_pointer(root)
            if name is None:
                return cls(params)
            folder = root / name
            try:
                manifest = json.loads((folder / "manifest.json").read_text())
                dense = DenseIndex.load(folder, params.dim, manifest["dense_kind"], params.hnsw_m,
                                        params.hnsw_ef_search)
                return cls(params, manifest["generation"], dense, BM25Index.load(folder))
            except FileNotFoundError:  # a writer replaced it while we were reading: read CURRENT again
                time.sleep(0.05)
        raise RuntimeError(f"could not open the index snapshot in {root}; run `rag index` again to rebuild it")


def read_pointer(root: Path) -> str | None:
    try:
        return (root / "CURRENT").read_text().strip() or None
    except FileNotFoundError:
        return None
