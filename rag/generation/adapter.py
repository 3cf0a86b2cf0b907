"""LoRA adapters for the local generator: check a folder, apply it, merge it into a model folder.

An adapter folder (written by `rag tune generator`) holds peft's adapter_config.json and
adapter_model.safetensors, plus rag_adapter.json naming the base model setting it was trained on
(e.g. "smollm2") and its training summary, and manifest.json with the SHA-256 of every file
(rag.generation.manifest): `check_adapter` refuses a folder whose files do not match it, and loads
one without a manifest (made before manifests were written) with a logged warning. A merged model
folder gets a manifest too.

    model = apply_adapter(model, "adapters/bank")          # merged in memory: serving costs nothing extra
    merge_to_folder("adapters/bank", "models/bank-smollm2") # a plain model folder (RAG_LLM_MODEL=...)
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rag.generation.manifest import ManifestError, verify_manifest, write_manifest

log = logging.getLogger(__name__)

META = "rag_adapter.json"


class AdapterError(ValueError):
    """The adapter folder is missing, incomplete, or does not fit the model."""


@dataclass
class AdapterInfo:
    path: Path
    base_model: str          # the generation `model` setting it was trained on ("smollm2", a folder, ...)
    rank: int
    alpha: int
    target_modules: list[str]
    config: dict = field(default_factory=dict)   # adapter_config.json (peft), as read once
    model_dir: str = ""      # the model folder it was trained on, as rag_adapter.json records it
    prompt_format: str = ""  # 'chat' | 'completion' as trained; '' when not recorded


def check_adapter(path: str | Path) -> AdapterInfo:
    """Read an adapter folder's configuration, with errors that say what to do."""
    folder = Path(path).expanduser()
    cfg_file = folder / "adapter_config.json"
    if not folder.is_dir():
        raise AdapterError(f"adapter {folder}: no such folder (train one with `rag tune generator --out DIR`)")
    if not cfg_file.is_file():
        hint = " (an interrupted run keeps its state in DIR/checkpoint: finish it with --resume)" \
            if (folder / "checkpoint").is_dir() else ""
        raise AdapterError(f"adapter {folder}: no adapter_config.json; not a finished LoRA adapter{hint}")
    try:
        verify_manifest(folder, missing="warn")
    except ManifestError as e:
        raise AdapterError(f"adapter {e}") from e
    try:
        if not isinstance(json.loads(cfg_file.read_text()), dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        raise AdapterError(f"adapter {folder}: adapter_config.json is unreadable ({e}); train it again") from e
    return recorded(folder)


def recorded(path: str | Path) -> AdapterInfo:
    """What an adapter folder records (peft's adapter_config.json, our rag_adapter.json), read as it is,
    nothing verified; a file missing or unreadable counts as empty. The backend factory's choice reads
    this, `check_adapter` returns it after its checks."""
    folder = Path(path).expanduser()
    cfg, meta = _json(folder / "adapter_config.json"), _json(folder / META)
    targets = cfg.get("target_modules") or []
    return AdapterInfo(path=folder, base_model=str(meta.get("base_model") or cfg.get("base_model_name_or_path") or ""),
                       rank=int(cfg.get("r") or 0), alpha=int(cfg.get("lora_alpha") or 0),
                       target_modules=sorted(targets) if isinstance(targets, (list, set)) else [str(targets)],
                       config=cfg, model_dir=str(meta.get("model_dir") or ""),
                       prompt_format=str(meta.get("prompt_format") or ""))


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def apply_adapter(model, path: str | Path, merge: bool = True):
    """The model with the LoRA adapter loaded; merged into the weights (merge=True, the default for
    serving: same speed as the base model) or kept as a PeftModel."""
    from peft import PeftModel

    info = check_adapter(path)
    try:
        peft_model = PeftModel.from_pretrained(model, str(info.path), is_trainable=False)
    except (RuntimeError, ValueError, KeyError) as e:
        raise AdapterError(f"adapter {info.path} does not fit this model ({e}); it was trained on "
                           f"{info.base_model or 'another model'}: set [generation] model to that") from e
    log.info("applied LoRA adapter %s (rank %d)", info.path, info.rank)
    return peft_model.merge_and_unload() if merge else peft_model


def merge_to_folder(adapter: str | Path, out: str | Path, base_model: str | None = None,
                    cache_dir: str | Path | None = None, overwrite: bool = False) -> Path:
    """Write base model + adapter, merged, as a plain Hugging Face model folder (atomic)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rag.generation.model_cache import DEFAULT_CACHE_DIR, resolve_model_dir

    info = check_adapter(adapter)
    target = Path(out).expanduser()
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise AdapterError(f"{target} already exists and is not empty; pick another --out or pass --overwrite")
    base_dir = resolve_model_dir(base_model or info.base_model or "smollm2", cache_dir or DEFAULT_CACHE_DIR)
    tok = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32, local_files_only=True)
    merged = apply_adapter(model, info.path, merge=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
        if merged.generation_config is not None:
            merged.generation_config.save_pretrained(str(tmp))
        (tmp / "rag_merged_from.json").write_text(json.dumps(
            {"base_model": str(base_dir), "adapter": str(info.path.resolve()), "rank": info.rank}, indent=2))
        write_manifest(tmp, kind="merged-model")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
