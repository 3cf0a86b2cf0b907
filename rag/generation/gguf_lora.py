"""A LoRA adapter folder (`rag tune generator`, peft's format) as a GGUF LoRA file for llama.cpp.

    path = convert_adapter("adapters/bank", base_gguf, cache_dir)   # written once, then reused
    Llama(model_path=str(base_gguf), lora_path=str(path))

The file is what llama.cpp's convert_lora_to_gguf.py writes: general.type = "adapter",
adapter.type = "lora", adapter.lora.alpha, general.architecture copied from the base GGUF, and for
each adapted linear layer two float32 tensors named after the base tensor, `blk.N.attn_q.weight.lora_a`
(peft's lora_A, rank x in) and `.lora_b` (lora_B, out x rank). llama.cpp adds
(alpha / rank) * B @ A @ x, the rank read from each lora_b, which is peft's scaling; a per-module
scaling llama.cpp cannot express this way (use_rslora) is folded into lora_b.

The `llama` architecture's GGUF stores the rows of attn_q / attn_k permuted (llama.cpp's converter
interleaves the two rotary halves of every head), so lora_b of q_proj and k_proj, whose rows are
those outputs, gets the same permutation; Gemma 3's are stored as they are.

Only what can be mapped is converted: lora_A / lora_B of the q, k, v, o, gate, up and down
projections of the decoder layers, on a `llama` or `gemma3` base. Anything else (DoRA, biases,
embeddings or other saved modules, per-module alphas) is refused with a GenerationError that says
what to do. The file is written atomically into cache_dir under a name keyed by the adapter's
manifest (rag.generation.manifest), so an adapter whose files change is converted again.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from indexer.atomic import atomic_target
from rag.generation.base import GenerationError

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the written file changes: older conversions are not reused
ARCHITECTURES = ("llama", "gemma3")
ROPE_PERMUTED = ("llama",)  # archs whose q/k rows llama.cpp's converter permutes
MODULES = {  # (block, peft module) -> llama.cpp tensor
    ("self_attn", "q_proj"): "attn_q", ("self_attn", "k_proj"): "attn_k", ("self_attn", "v_proj"): "attn_v",
    ("self_attn", "o_proj"): "attn_output", ("mlp", "gate_proj"): "ffn_gate", ("mlp", "up_proj"): "ffn_up",
    ("mlp", "down_proj"): "ffn_down"}
_KEY = re.compile(r"^base_model\.model\.(?:model\.)?(?:language_model\.)?layers\.(\d+)\."
                  r"(self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$")
REDO = ("use the local backend ([generation] backend = \"local\"), which applies any peft adapter, or "
        "train it again with `rag tune generator`")


def gguf_tensor(peft_key: str) -> tuple[str, str]:
    """('blk.N.attn_q.weight', 'lora_a' | 'lora_b') for a peft key such as
    'base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight'; GenerationError otherwise."""
    m = _KEY.match(peft_key)
    target = MODULES.get((m.group(2), m.group(3))) if m else None
    if target is None:
        raise GenerationError(f"adapter tensor {peft_key!r} has no llama.cpp counterpart (only lora_A/lora_B of "
                              f"{', '.join(p for _, p in MODULES)} in the decoder layers can be converted): {REDO}")
    return f"blk.{m.group(1)}.{target}.weight", f"lora_{m.group(4).lower()}"


def unsupported(config: dict) -> str | None:
    """Why a peft adapter_config.json cannot be served as a GGUF LoRA, or None when it can."""
    if str(config.get("peft_type", "LORA")).upper() != "LORA":
        return f"peft_type {config.get('peft_type')!r} (only LoRA converts)"
    for flag in ("use_dora", "use_qalora", "lora_bias"):
        if config.get(flag):
            return f"{flag} is set (llama.cpp applies plain LoRA only)"
    if str(config.get("bias", "none")) != "none":
        return f"bias = {config.get('bias')!r} (trained biases have no place in a GGUF LoRA)"
    for field in ("modules_to_save", "trainable_token_indices", "target_parameters", "alora_invocation_tokens",
                  "layer_replication", "alpha_pattern"):
        if config.get(field):
            return f"{field} is set (cannot be converted)"
    return None


@dataclass
class BaseShape:
    arch: str
    n_head: int
    n_head_kv: int
    tensors: dict[str, tuple[int, ...]]  # name -> GGUF shape (ne: in, out)


def _file_version(path: str | Path) -> tuple[str, int, int]:
    """(resolved path, size, mtime in ns): a file's identity without reading it."""
    resolved = Path(path).expanduser().resolve()
    st = resolved.stat()
    return str(resolved), st.st_size, st.st_mtime_ns


def read_base(base_gguf: str | Path) -> BaseShape:
    """The base GGUF's architecture, head counts and tensor shapes. GGUFReader parses the whole header,
    the tokenizer's vocabulary too (1.9 s for SmolLM2, 8.6 s for Gemma 3 270M), so it is read only to
    convert, and kept per file version."""
    return _read_base(*_file_version(base_gguf))


@functools.lru_cache(maxsize=4)
def _read_base(path: str, size: int, mtime_ns: int) -> BaseShape:
    from gguf import GGUFReader

    reader = GGUFReader(path)

    def value(key: str, default=None):
        field = reader.fields.get(key)
        return field.contents() if field is not None else default

    arch = str(value("general.architecture", ""))
    n_head = int(value(f"{arch}.attention.head_count", 0) or 0)
    n_head_kv = int(value(f"{arch}.attention.head_count_kv", n_head) or n_head)
    return BaseShape(arch, n_head, n_head_kv, {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors})


def permute_rows(b, n_head: int):
    """lora_b (out x rank) with its rows in llama.cpp's `llama` q/k order: within each head, the rows
    of the first and second rotary half interleaved (what its converter does to q_proj/k_proj)."""
    out = b.shape[0]
    return b.reshape(n_head, 2, out // n_head // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def adapter_key(adapter_dir: Path, base_gguf: str | Path) -> str:
    """A hash of what the converted file depends on: the adapter's files (its manifest, which lists their
    SHA-256; or the files themselves when it has none), the base GGUF's version (path, size, mtime: its
    layout follows from it, and an existing conversion is found without parsing it) and FORMAT."""
    h = hashlib.sha256(f"{FORMAT}:{_file_version(base_gguf)}".encode())
    manifest = adapter_dir / "manifest.json"
    for f in [manifest] if manifest.is_file() else [adapter_dir / "adapter_config.json",
                                                     adapter_dir / "adapter_model.safetensors"]:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _alpha(config: dict) -> float:
    return float(config.get("lora_alpha", 8))  # peft's default


def _scaling(config: dict, rank: int) -> float:
    """peft's scaling of a module of this rank."""
    alpha = _alpha(config)
    return alpha / rank ** 0.5 if config.get("use_rslora") else alpha / rank


def convert_adapter(adapter_dir: str | Path, base_gguf: str | Path, cache_dir: str | Path) -> Path:
    """The GGUF LoRA file of the peft adapter in `adapter_dir` for the model `base_gguf`: written once
    into `cache_dir` (atomic), reused while the adapter's files are the same. GenerationError for what
    cannot be converted (see the module doc)."""
    adapter_dir, cache = Path(adapter_dir).expanduser(), Path(cache_dir).expanduser()
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    why = unsupported(config)
    if why:
        raise GenerationError(f"adapter {adapter_dir}: {why}; llama.cpp cannot serve it: {REDO}")
    target = cache / f"{adapter_dir.resolve().name}.{adapter_key(adapter_dir, base_gguf)}.lora.gguf"
    if target.is_file():  # converted from this adapter for this base file before, all checks passed
        return target
    base = read_base(base_gguf)
    if base.arch not in ARCHITECTURES:
        raise GenerationError(f"adapter {adapter_dir}: the base GGUF {base_gguf} is a {base.arch!r} model; LoRA "
                              f"adapters are converted for {', '.join(ARCHITECTURES)} only: {REDO}")
    if base.arch in ROPE_PERMUTED and not (base.n_head and base.n_head_kv):
        raise GenerationError(f"the base GGUF {base_gguf} has no {base.arch}.attention.head_count(_kv): its q/k "
                              "rows cannot be matched")
    t0 = time.perf_counter()
    pairs = _pairs(adapter_dir, base)
    alpha = _alpha(config)
    import gguf
    import numpy as np

    with atomic_target(target, sync=False) as tmp:  # a cache: converted again from the adapter when lost
        writer = gguf.GGUFWriter(str(tmp), base.arch)  # writes general.architecture
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_name(f"{adapter_dir.resolve().name} (LoRA)")
        for name, (a, b) in sorted(pairs.items()):
            rank = a.shape[0]
            # llama.cpp scales by alpha / rank (alpha 0: by 1); fold whatever peft does differently into B
            fold = _scaling(config, rank) / (alpha / rank if alpha else 1.0)
            if abs(fold - 1.0) > 1e-9:
                b = b * np.float32(fold)
            if base.arch in ROPE_PERMUTED and (".attn_q." in name or ".attn_k." in name):
                b = permute_rows(b, base.n_head if ".attn_q." in name else base.n_head_kv)
            writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a, dtype=np.float32))
            writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    log.info("converted LoRA adapter %s (%d tensors) to GGUF in %.1f s -> %s", adapter_dir, 2 * len(pairs),
             time.perf_counter() - t0, target)
    return target


def _pairs(adapter_dir: Path, base: BaseShape) -> dict:
    """{base tensor name: (lora_A, lora_B)} as float32 numpy arrays, every name and shape checked
    against the base GGUF."""
    from safetensors.torch import load_file

    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        raise GenerationError(f"adapter {adapter_dir}: no adapter_model.safetensors (only safetensors adapters are "
                              "converted for llama.cpp)")
    halves: dict[str, dict[str, object]] = {}
    for key, tensor in load_file(str(weights), device="cpu").items():
        name, part = gguf_tensor(key)
        halves.setdefault(name, {})[part] = tensor.float().numpy()
    if not halves:
        raise GenerationError(f"adapter {adapter_dir}: no LoRA tensors in adapter_model.safetensors")
    pairs = {}
    for name, h in halves.items():
        if set(h) != {"lora_a", "lora_b"}:
            raise GenerationError(f"adapter {adapter_dir}: {name} has {', '.join(h)} only, not both lora_A and "
                                  "lora_B: the adapter file is incomplete; train it again")
        a, b = h["lora_a"], h["lora_b"]
        shape = base.tensors.get(name)  # GGUF order: (in, out)
        if shape is None or len(shape) != 2 or a.ndim != 2 or b.ndim != 2 or a.shape[1] != shape[0] \
                or b.shape[0] != shape[1] or a.shape[0] != b.shape[1]:
            have = f"{shape[0]} -> {shape[1]}" if shape and len(shape) == 2 else "no such tensor"
            raise GenerationError(f"adapter {adapter_dir}: {name} is {a.shape[1]} -> {b.shape[0]} (rank {a.shape[0]}) "
                                  f"but the base GGUF has {have}: it was trained on another model; serve it "
                                  "with the model it was trained on")
        pairs[name] = (a, b)
    return pairs
