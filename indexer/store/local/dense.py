"""FAISS dense index keyed by chunk row ids: exact inner product for small KBs, HNSW for large.

Vectors are L2-normalised, so inner product is cosine similarity. Filters use FAISS's
IDSelector, so a filtered search still returns k hits when k exist.
"""
from __future__ import annotations

import logging
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)


class DenseIndex:
    def __init__(self, dim: int, kind: str = "flat", hnsw_m: int = 32, ef_search: int = 128):
        if kind not in ("flat", "hnsw"):
            raise ValueError(f"dense index kind must be 'flat' or 'hnsw', not {kind!r}")
        self.dim, self.kind, self.hnsw_m, self.ef_search = dim, kind, hnsw_m, ef_search
        self.index = faiss.IndexIDMap2(self._base())

    def _base(self) -> faiss.Index:
        if self.kind == "flat":
            return faiss.IndexFlatIP(self.dim)
        base = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = 80
        base.hnsw.efSearch = self.ef_search
        return base

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def vectors(self) -> np.ndarray:
        """All stored vectors, in the same order as ids()."""
        return faiss.downcast_index(self.index.index).reconstruct_n(0, len(self))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids) -> int:
        ids = np.fromiter(ids, dtype=np.int64)
        if not len(ids) or not len(self):
            return 0
        if self.kind == "flat":
            return int(self.index.remove_ids(faiss.IDSelectorBatch(ids)))
        # HNSW graphs cannot drop nodes: rebuild from the kept vectors (stored in the index itself)
        all_ids = self.ids()
        keep = ~np.isin(all_ids, ids)
        if keep.all():
            return 0
        vecs = self.vectors()
        self.index = faiss.IndexIDMap2(self._base())
        self.add(all_ids[keep], vecs[keep])
        return int((~keep).sum())

    def rebuild_as(self, kind: str) -> "DenseIndex":
        """Same vectors in another index kind (used when a KB grows past the HNSW threshold)."""
        other = DenseIndex(self.dim, kind, self.hnsw_m, self.ef_search)
        if len(self):
            log.info("rebuilding dense index as %s over %d vectors", kind, len(self))
            other.add(self.ids(), self.vectors())
        return other

    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) arrays of shape (n_queries, k); missing slots have id -1."""
        if not len(self):
            n = len(queries)
            return np.full((n, 0), -1, np.int64), np.zeros((n, 0), np.float32)
        k = min(k, len(self))
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if allowed_ids is None:
            scores, ids = self._searcher().search(q, k)
        elif self.kind == "hnsw" and len(allowed_ids) <= 5000:
            # a graph walk under a narrow filter can miss hits: score the few allowed vectors exactly
            allowed_ids = np.asarray(allowed_ids, dtype=np.int64)
            vecs = np.vstack([self.index.reconstruct(int(i)) for i in allowed_ids])
            sims = q @ vecs.T
            top = np.argsort(-sims, axis=1)[:, :k]
            ids, scores = allowed_ids[top], np.take_along_axis(sims, top, axis=1)
        else:
            params = (faiss.SearchParametersHNSW(sel=faiss.IDSelectorBatch(allowed_ids), efSearch=self.ef_search)
                      if self.kind == "hnsw" else faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed_ids)))
            scores, ids = self.index.search(q, k, params=params)
        return ids, scores

    def _searcher(self) -> faiss.Index:
        """The index to search: a GPU copy of an exact index when faiss-gpu sees a GPU (the `gpu` extra)."""
        if self.kind != "flat" or not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
            return self.index
        if getattr(self, "_gpu", None) is None or self._gpu[0] != len(self):
            self._gpu = (len(self), faiss.index_cpu_to_all_gpus(self.index))
        return self._gpu[1]

    def save(self, folder: Path) -> None:
        faiss.write_index(self.index, str(folder / "dense.faiss"))

    @classmethod
    def load(cls, folder: Path, dim: int, kind: str, hnsw_m: int = 32, ef_search: int = 128) -> "DenseIndex":
        idx = cls(dim, kind, hnsw_m, ef_search)
        idx.index = faiss.read_index(str(folder / "dense.faiss"))
        if kind == "hnsw":
            faiss.downcast_index(idx.index.index).hnsw.efSearch = ef_search
        return idx
