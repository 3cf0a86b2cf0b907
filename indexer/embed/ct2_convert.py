"""One-time conversion of a BERT model folder into a CTranslate2 encoder model, cached.

`indexer.embed.ct2` runs the bundled encoders (e5, MiniLM) and BERT sentence-transformers folders
through CTranslate2's int8 CPU kernels. CTranslate2 reads its own model format, so each source
folder (a standard HF/sentence-transformers folder: config.json, model.safetensors, tokenizer
files) is converted once, offline, with ctranslate2's Transformers converter, and the result kept
under the cache root:

    $RAG_CT2_CACHE, else $XDG_CACHE_HOME/rag/ct2, else ~/.cache/rag/ct2
        <folder name>-<hash of its path>/   model.bin, config.json, vocabulary.json, rag_ct2_source.json

Weights are stored as int8 (`QUANTIZATION`: the CPU compute type, and a quarter of the float32
size: e5 121 MB, MiniLM 23 MB); a CUDA device reads the same files as int8_float16.
The stamp records the source files' sizes and mtimes, the ctranslate2 version and FORMAT_VERSION,
so a changed source, a new ctranslate2 or a format bump rebuilds the cache. The conversion writes
into a temporary folder next to the target and renames it into place under a file lock, so a
crash leaves no half-written model and two processes do not both convert. Nothing is downloaded.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from indexer.cached_build import build_once, say_stderr

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # bump when the written folder changes; stale caches are rebuilt
STAMP = "rag_ct2_source.json"
QUANTIZATION = "int8_float32"  # weights as stored; the compute type is chosen at load (indexer.embed.ct2)
SOURCE_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json")


def default_cache_root() -> Path:
    if os.environ.get("RAG_CT2_CACHE"):
        return Path(os.environ["RAG_CT2_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rag" / "ct2"


def cache_dir_for(folder: str | Path, root: str | Path | None = None) -> Path:
    """Where the converted model of `folder` lives: one subfolder per source path."""
    src = Path(folder).expanduser().resolve()
    digest = hashlib.sha256(str(src).encode("utf-8")).hexdigest()[:12]
    name = src.name if src.name not in ("model", "models") else f"{src.parent.name}-{src.name}"  # packages' folders
    return Path(root).expanduser() if root else default_cache_root() / f"{name}-{digest}"


def source_stamp(folder: str | Path) -> dict:
    import ctranslate2

    src = Path(folder).expanduser().resolve()
    files = {}
    for name in SOURCE_FILES:
        p = src / name
        if p.is_file():
            st = p.stat()
            files[name] = [st.st_size, int(st.st_mtime)]
    return {"format": FORMAT_VERSION, "ctranslate2": ctranslate2.__version__, "quantization": QUANTIZATION,
            "source": str(src), "files": files}


def is_current(out_dir: str | Path, folder: str | Path) -> bool:
    """out_dir holds a finished conversion of this very source folder with this ctranslate2."""
    try:
        stamp = json.loads((Path(out_dir) / STAMP).read_text())
    except (OSError, ValueError):
        return False
    stamp.pop("seconds", None)
    return stamp == source_stamp(folder) and (Path(out_dir) / "model.bin").is_file()


def convertible(folder: str | Path) -> bool:
    """A BERT folder that the converter and our tokenizer can both read."""
    src = Path(folder).expanduser()
    try:
        cfg = json.loads((src / "config.json").read_text())
    except (OSError, ValueError):
        return False
    weights = (src / "model.safetensors").is_file() or (src / "pytorch_model.bin").is_file()
    return cfg.get("model_type") == "bert" and weights and (src / "tokenizer.json").is_file()


def convert(folder: str | Path, out_dir: str | Path | None = None,
            say: Callable[[str], None] | None = say_stderr) -> Path:
    """Convert the BERT folder into a CTranslate2 model at out_dir (default `cache_dir_for(folder)`),
    atomically (temp dir + rename); a current conversion is reused without loading anything."""
    src = Path(folder).expanduser().resolve()
    out = Path(out_dir).expanduser() if out_dir else cache_dir_for(src)
    say = say or (lambda _m: None)

    def build(target: Path) -> None:
        import warnings

        from ctranslate2.converters import TransformersConverter

        say(f"converting the encoder {src.name} to a CTranslate2 int8 model (one time, ~5-15 s) -> {out}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # transformers' deprecation notices while loading
            TransformersConverter(str(src), low_cpu_mem_usage=True).convert(
                str(target), quantization=QUANTIZATION, force=True)
        stamp = source_stamp(src) | {"seconds": round(time.perf_counter() - t0, 1)}
        (target / STAMP).write_text(json.dumps(stamp, indent=2), encoding="utf-8")

    t0 = time.perf_counter()
    if build_once(out, lambda: is_current(out, src), build):
        say(f"converted in {time.perf_counter() - t0:.1f} s; cached at {out}")
        log.info("converted %s to a CTranslate2 model at %s in %.1f s", src, out, time.perf_counter() - t0)
    return out
