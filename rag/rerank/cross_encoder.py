"""Cross-encoder reranking: rescore the retriever's top candidates with a (query, passage) model.

Any local sentence-transformers CrossEncoder folder works, e.g. one trained on the KB itself with
`rag tune reranker`. The stage is off (make_reranker returns None) unless a model is configured.
Models load in `warm_up()` (or lazily on first use), never at import time, and never from the network.

The final order can blend the cross-encoder's score with the retrieval score ([rerank] weight): a
reranker trained in minutes on a KB's own pseudo-queries is weak alone, and `rag tune reranker`
picks the blend on held-out queries and saves it beside the model (weight 0 = keep retrieval's order).
"""
from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

from indexer.embed.base import pick_device
from rag.types import Hit

WEIGHT_FILE = "rag_rerank.json"  # {"weight": w}, written by `rag tune reranker`


def passage_text(title: str, text: str) -> str:
    """What the cross-encoder reads for a chunk (training uses the same form)."""
    return f"{title}\n{text}" if title else text


def minmax(values: list[float]) -> list[float]:
    lo, hi = min(values), max(values)
    return [(v - lo) / (hi - lo) if hi > lo else 1.0 for v in values]


def blend(rerank: list[float], fused: list[float], weight: float) -> list[float]:
    """weight x min-max(rerank) + (1 - weight) x min-max(fused): with weight 1 the cross-encoder alone
    orders the candidates, with 0 the retrieval order stays."""
    if weight >= 1:
        return list(rerank)
    return [weight * r + (1 - weight) * f for r, f in zip(minmax(rerank), minmax(fused))]


def saved_weight(model_path: str | Path) -> float | None:
    """The blend weight `rag tune reranker` stored beside its model (None when there is none)."""
    f = Path(model_path).expanduser() / WEIGHT_FILE
    if not f.exists():
        return None
    return float(json.loads(f.read_text())["weight"])


class CrossEncoderReranker:
    def __init__(self, model_path: str, top_n: int = 30, batch_size: int = 16, device: str = "auto",
                 max_length: int = 256, weight: float | None = None):
        if top_n < 1 or batch_size < 1:
            raise ValueError("top_n and batch_size must be at least 1")
        if weight is not None and not 0 <= weight <= 1:
            raise ValueError(f"weight must be between 0 and 1, not {weight}")
        self.model_path = str(model_path)
        self.top_n, self.batch_size, self.device, self.max_length = top_n, batch_size, device, max_length
        if weight is None:
            weight = saved_weight(model_path)
        self.weight = 1.0 if weight is None else weight
        self._model = None
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """False at weight 0: the retrieval order stands, so the model is neither loaded nor run."""
        return self.weight > 0

    def warm_up(self) -> None:
        if self.active:
            self._load()

    def _load(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import CrossEncoder

            path = Path(self.model_path).expanduser()
            ref = str(path) if path.exists() else self.model_path  # else: a name already in the local HF cache
            try:
                model = CrossEncoder(ref, local_files_only=True, device=pick_device(self.device),
                                     max_length=self.max_length)
            except Exception as e:  # noqa: BLE001 - one clear message whatever the loader raised
                raise RuntimeError(f"cannot load the cross-encoder {self.model_path!r} offline: {e}. "
                                   f"Point RAG_RERANK_MODEL at a local CrossEncoder folder, e.g. one made by "
                                   f"`rag tune reranker --kb NAME --out DIR`") from e
            model.eval()
            self._model = model

    def score(self, query: str, passages: list[str]) -> list[float]:
        """Cross-encoder scores (higher = more relevant), in the order given (whatever the weight)."""
        self._load()
        if not passages:
            return []
        out = self._model.predict([(query, p) for p in passages], batch_size=self.batch_size,
                                  show_progress_bar=False, convert_to_numpy=True)
        return [float(s) for s in out.reshape(-1)]

    def run(self, query: str, hits: list[Hit], k: int) -> list[Hit]:
        """Rescore the first top_n hits, best first; hits beyond top_n follow unchanged, in their order.

        Returns copies: each reranked hit's score is the cross-encoder's (blended with the retrieval
        score when weight < 1), scores['rerank'] the cross-encoder's own, and scores['fused'] keeps the
        retrieval score it had before."""
        if not hits or k <= 0:
            return []
        if not self.active:
            return list(hits[:k])
        head, tail = hits[:self.top_n], hits[self.top_n:]
        ce = self.score(query, [passage_text(h.title, h.text) for h in head])
        final = blend(ce, [h.score for h in head], self.weight)
        order = sorted(range(len(head)), key=lambda i: -final[i])  # stable: ties keep the retrieval order
        reranked = [replace(head[i], score=final[i],
                            scores={**head[i].scores, "fused": head[i].score, "rerank": ce[i]})
                    for i in order]
        return (reranked + list(tail))[:k]
