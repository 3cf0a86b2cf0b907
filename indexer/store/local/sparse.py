"""BM25 over a sparse term-frequency matrix (rows = chunks, columns = terms).

With idf="okapi", scores are identical to rank-bm25's BM25Okapi on the same tokens
(same idf with its epsilon floor, same k1/b). The default idf="lucene",
log(1 + (N - df + 0.5) / (df + 0.5)), is the variant Lucene and bm25s use: it never goes
negative, so a term found in most chunks of a small KB still counts for, not against, a
match. Either way a query is one sparse column slice and a mat-vec instead of a Python
loop over every document. The raw term frequencies are what is
stored; idf and length normalisation are derived at load time, so adds and deletes
only touch rows.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp


class BM25Index:
    def __init__(self, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25, idf: str = "lucene"):
        if idf not in ("lucene", "okapi"):
            raise ValueError(f"idf must be 'lucene' or 'okapi', not {idf!r}")
        self.k1, self.b, self.epsilon, self.idf_kind = k1, b, epsilon, idf
        self.vocab: dict[str, int] = {}
        self.ids = np.zeros(0, dtype=np.int64)
        self.tf = sp.csr_matrix((0, 0), dtype=np.float32)
        self._weights: sp.csc_matrix | None = None
        self._idf: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    # ---- building -------------------------------------------------------------
    def add(self, ids: list[int] | np.ndarray, token_lists: list[list[str]]) -> None:
        if len(ids) == 0:
            return
        rows, cols, vals = [], [], []
        for r, toks in enumerate(token_lists):
            for term, n in Counter(toks).items():
                col = self.vocab.setdefault(term, len(self.vocab))
                rows.append(r)
                cols.append(col)
                vals.append(n)
        new = sp.csr_matrix((np.asarray(vals, np.float32), (rows, cols)), shape=(len(token_lists), len(self.vocab)))
        old = self.tf
        old.resize((old.shape[0], len(self.vocab)))
        self.tf = sp.vstack([old, new], format="csr")
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        self._weights = None

    def remove(self, ids: set[int] | list[int] | np.ndarray) -> int:
        """Drop rows whose id is in `ids`; returns how many went."""
        drop = np.isin(self.ids, np.fromiter(ids, dtype=np.int64))
        if not drop.any():
            return 0
        keep = ~drop
        self.tf = self.tf[keep]
        self.ids = self.ids[keep]
        self._weights = None
        return int(drop.sum())

    # ---- scoring --------------------------------------------------------------
    def _prepare(self) -> None:
        if self._weights is not None:
            return
        n_docs = self.tf.shape[0]
        tf = self.tf.tocsr()
        doc_len = np.asarray(tf.sum(axis=1)).ravel()
        avgdl = doc_len.mean() if n_docs else 1.0
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float64)
        present = df > 0  # terms of deleted rows linger in the vocabulary; rank-bm25 never saw them
        if self.idf_kind == "lucene":
            idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        else:
            idf = np.log((n_docs - df + 0.5) / (df + 0.5))
        if self.idf_kind == "okapi" and present.any():
            eps = self.epsilon * idf[present].mean()
            idf = np.where(idf < 0, eps, idf)
        idf[~present] = 0.0
        row_of = np.repeat(np.arange(n_docs), np.diff(tf.indptr))
        f = tf.data.astype(np.float64)
        norm = self.k1 * (1 - self.b + self.b * doc_len[row_of] / (avgdl or 1.0))
        w = idf[tf.indices] * f * (self.k1 + 1) / (f + norm)
        self._weights = sp.csr_matrix((w, tf.indices, tf.indptr), shape=tf.shape).tocsc()
        self._idf = idf

    def score(self, query_tokens: list[str], weights: dict[str, float] | None = None) -> np.ndarray:
        """BM25 score of every row (aligned with self.ids). `weights`: a query term's contribution is
        multiplied by its weight (a term not named: 1), on top of its count in `query_tokens`."""
        self._prepare()
        counts = Counter(t for t in query_tokens if t in self.vocab)
        if not counts or not len(self.ids):
            return np.zeros(len(self.ids), dtype=np.float64)
        cols = np.fromiter((self.vocab[t] for t in counts), dtype=np.int64)
        mult = np.fromiter(counts.values(), dtype=np.float64)
        if weights:
            mult *= np.fromiter((weights.get(t, 1.0) for t in counts), dtype=np.float64)
        return self._weights[:, cols] @ mult

    def search(self, query_tokens: list[str], k: int, allowed: np.ndarray | None = None,
               weights: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (ids, scores), best first. `allowed` is a boolean mask over rows (filters); `weights` as
        for score()."""
        scores = self.score(query_tokens, weights)
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        n = int((scores > 0).sum()) if self.idf_kind == "lucene" else int((scores != 0).sum() - (scores == -np.inf).sum())
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        k = min(k, n)
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")][:k]
        return self.ids[top], scores[top]

    # ---- persistence ----------------------------------------------------------
    def save(self, folder: Path) -> None:
        sp.save_npz(folder / "bm25_tf.npz", self.tf.tocsr(), compressed=False)
        np.save(folder / "bm25_ids.npy", self.ids)
        (folder / "bm25_vocab.json").write_text(json.dumps(list(self.vocab), ensure_ascii=False), encoding="utf-8")
        (folder / "bm25_params.json").write_text(json.dumps({"k1": self.k1, "b": self.b, "epsilon": self.epsilon, "idf": self.idf_kind}))

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        params = json.loads((folder / "bm25_params.json").read_text())
        idx = cls(**params)
        idx.tf = sp.load_npz(folder / "bm25_tf.npz").tocsr().astype(np.float32)
        idx.ids = np.load(folder / "bm25_ids.npy")
        terms = json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8"))
        idx.vocab = {t: i for i, t in enumerate(terms)}
        return idx
