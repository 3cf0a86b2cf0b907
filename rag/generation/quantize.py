"""Weight quantization of a loaded causal LM for cheaper CPU serving (`[generation] quant`).

    model = quantize_model(model, "int8")     # in place; returns the model

Modes
  none   float32 as loaded.
  int8   torch's dynamic int8 linears (fbgemm/x86: int8 weights per output channel, activations
         quantized per call) on the attention projections, gate/up projections and the lm_head. The
         head is untied from the input embedding first (the 49152x576 matrix is most of SmolLM2's
         per-token cost; the embedding lookup stays float32). `down_proj` stays float32: its inputs
         carry outlier channels, and quantizing them changes far more of SmolLM2's next-token
         choices (figures: docs/design-notes.md).
  int4   weight-only 4-bit, groups of 64 along the input (asymmetric: scale + zero per group), with
         torch's packed CPU kernel (`_weight_int4pack_mm_for_cpu`, bfloat16 activations). 8x smaller
         linears; on a CPU without AVX-512/bf16 it is not faster (see `rag bench generator`).
  bnb4   bitsandbytes NF4 on a GPU: applied at load time (rag.generation.local), not here.
  auto   int8 on a CPU, none on a GPU: `resolve_quant`.

Only nn.Linear modules are touched; the model stays a transformers model (generate() works).
"""
from __future__ import annotations

import logging
import warnings

log = logging.getLogger(__name__)

MODES = ("none", "int8", "int4", "bnb4")
INT8_ENGINES = ("x86", "fbgemm", "qnnpack", "onednn")
INT8_SKIP = ("down_proj",)
INT4_GROUP = 64


class QuantizationError(RuntimeError):
    """The requested quantization cannot be applied here (wrong device, missing kernel, ...)."""


def resolve_quant(mode: str, device: str) -> str:
    """The setting to apply: 'auto' is 'int8' on a CPU with an int8 engine and 'none' on a GPU, where
    dynamic int8 linears do not run (one config for both kinds of machine); other modes unchanged."""
    if mode != "auto":
        return mode
    if device != "cpu":
        return "none"
    import torch

    return "int8" if torch.backends.quantized.engine in INT8_ENGINES else "none"


def untie_lm_head(model) -> None:
    """Give the lm_head its own weight tensor (quantizing it must not touch the input embedding)."""
    import torch

    head = model.get_output_embeddings()
    emb = model.get_input_embeddings()
    if head is None or emb is None or head.weight.data_ptr() != emb.weight.data_ptr():
        return
    new = torch.nn.Linear(head.in_features, head.out_features, bias=head.bias is not None,
                          device=head.weight.device, dtype=head.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(head.weight)
        if head.bias is not None:
            new.bias.copy_(head.bias)
    model.set_output_embeddings(new)
    model.config.tie_word_embeddings = False
    if hasattr(model, "_tied_weights_keys"):
        model._tied_weights_keys = None


def _linears(model, skip: tuple[str, ...] = ()) -> list[str]:
    import torch

    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and not any(s in n for s in skip)]


def quantize_int8(model):
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    if torch.backends.quantized.engine not in INT8_ENGINES:
        raise QuantizationError(f"no int8 CPU engine in this torch ({torch.backends.quantized.engine!r}); "
                                "use quant = \"none\"")
    untie_lm_head(model)
    spec = {name: per_channel_dynamic_qconfig for name in _linears(model, INT8_SKIP)}
    with warnings.catch_warnings():  # torch.ao eager quantization prints a migration notice
        warnings.simplefilter("ignore")
        quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)
    return model


class Int4Linear:
    """Placeholder so `isinstance` checks can name the class before torch is imported."""


def _int4_linear_class():
    import torch

    class _Int4Linear(torch.nn.Module, Int4Linear):
        """y = x @ dequant(W)^T (+ b), W stored as packed 4-bit groups with bfloat16 scale/zero."""

        def __init__(self, lin: torch.nn.Linear, group: int = INT4_GROUP):
            super().__init__()
            w = lin.weight.detach().float().cpu()
            n, k = w.shape
            if k % group:
                raise QuantizationError(f"int4: in_features {k} is not a multiple of the group size {group}")
            wg = w.reshape(n, k // group, group)
            lo, hi = wg.amin(-1), wg.amax(-1)
            scale = (hi - lo).clamp(min=1e-6) / 15
            q = torch.round((wg - lo[..., None]) / scale[..., None]).clamp(0, 15).to(torch.int32).reshape(n, k)
            zero = lo + 8 * scale  # the kernel computes (q - 8) * scale + zero
            self.register_buffer("packed", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1))
            self.register_buffer("scale_zero", torch.stack([scale.t(), zero.t()], -1).contiguous().to(torch.bfloat16))
            self.bias = None if lin.bias is None else torch.nn.Parameter(lin.bias.detach().clone(), False)
            self.group, self.in_features, self.out_features = group, k, n

        def forward(self, x):
            shape = x.shape
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(
                x.reshape(-1, shape[-1]).to(torch.bfloat16).contiguous(), self.packed, self.group, self.scale_zero)
            y = y.reshape(*shape[:-1], self.out_features).to(x.dtype)
            return y if self.bias is None else y + self.bias

    return _Int4Linear


def quantize_int4(model, group: int = INT4_GROUP):
    import torch

    if not hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu"):
        raise QuantizationError("this torch has no CPU int4 kernel; use quant = \"int8\" or \"none\"")
    if next(model.parameters()).device.type != "cpu":
        raise QuantizationError("quant = \"int4\" is the CPU kernel; on a GPU use quant = \"bnb4\"")
    cls = _int4_linear_class()
    untie_lm_head(model)
    for name in _linears(model):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, cls(getattr(parent, child), group))
    return model


def quantize_model(model, mode: str):
    """Quantize `model` in place for CPU inference ('none' | 'int8' | 'int4'); returns it."""
    if mode not in MODES:
        raise QuantizationError(f"unknown quant {mode!r}; choose one of {', '.join(MODES)}")
    if mode in ("none", "bnb4"):
        return model
    device = next(model.parameters()).device.type
    if mode == "int8" and device != "cpu":
        raise QuantizationError("quant = \"int8\" is for CPU inference; on a GPU use \"bnb4\" or \"none\" "
                                "(or set device = \"cpu\")")
    model.eval()
    out = quantize_int8(model) if mode == "int8" else quantize_int4(model)
    log.info("quantized the generator to %s", mode)
    return out


def bnb4_config():
    """transformers' BitsAndBytesConfig for NF4 on a GPU (the optional `bitsandbytes` extra)."""
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as e:
        raise QuantizationError("quant = \"bnb4\" needs the optional bitsandbytes package and a CUDA GPU: "
                                "pip install bitsandbytes") from e
    import torch

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                              bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_use_double_quant=True)


def weight_bytes(model) -> int:
    """Bytes held by the model's parameters and buffers, including packed quantized weights."""
    import torch

    total = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
    for m in model.modules():  # dynamic-quantized linears keep their packed weight outside parameters()
        if isinstance(m, torch.ao.nn.quantized.dynamic.Linear):
            w = m.weight()
            total += w.numel() * w.element_size()
    return total
