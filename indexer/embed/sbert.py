"""Any sentence-transformers model folder, loaded offline, as an encoder."""
from __future__ import annotations

import numpy as np

from indexer.embed.base import default_minilm_path, pick_device


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
