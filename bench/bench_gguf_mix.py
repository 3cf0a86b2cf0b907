"""Mixed 4/8-bit GGUF encodings of the bundled SmolLM2: prefill time and agreement with the shipped model.

    python3 /work/shared/datasets/debian_faq.py /tmp/faq && python -m rag.adapt.folds /tmp/faq/en
    python bench/bench_gguf_mix.py [--faq /tmp/faq/en] [--n-faq 40] [--out /tmp/gguf-mix]

Each variant is the shipped Q4_1 file decoded and re-encoded per tensor with the `gguf` package: the
tensors whose name matches the variant's pattern as Q4_0 (which llama.cpp repacks into its fast
AVX-512 kernels), every other quantized tensor as Q8_0. "scaled" variants encode Q4_0 with a
least-squares scale search per block instead of gguf's reference encoder (scale = max / -8).

Per variant:
  * prefill: seconds to evaluate 320 tokens (median of 6 after one warm-up, 2 threads, flash attention);
  * agreement with the shipped file, teacher-forced on its own greedy answers (up to 48 tokens) to the
    16 records of bench/generator_qa.jsonl and the first --n-faq questions of the FAQ's dev-fold0
    (the fold for choices) with their gold passage: the share of positions with the same top token,
    the mean KL divergence of the next-token distribution, and the answers that are identical whole.
Results: docs/generator-engines.md, "Mixed formats".
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VARIANTS = {  # name -> (pattern of the tensors encoded as Q4_0, scale search)
    "q8_0": (None, False),
    "q4_0": (r"^blk\.", False),
    "q4_0-scaled": (r"^blk\.", True),
    "ffn4-scaled": (r"ffn_(gate|up|down)", True),
    "attn4": (r"attn_(q|k|v|output)", False),
    "gate-up4-scaled": (r"ffn_(gate|up)", True),
}
ANSWER_TOKENS = 48


def q4_0_scaled(x: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes of nibbles) with the scale that minimises the squared error
    over 21 candidate grids per block (as llama.cpp's make_qx_quants does)."""
    rows = x.shape[0]
    b = x.reshape(-1, 32).astype(np.float32)
    mx = np.take_along_axis(b, np.abs(b).argmax(-1)[:, None], -1)
    best_err = np.full((len(b), 1), np.inf, np.float32)
    best_d, best_q = np.zeros_like(mx), np.zeros_like(b)
    for k in range(-10, 11):
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.clip(np.round(b * np.where(mx == 0, 0, -(8 + 0.1 * k) / mx)), -8, 7)
            sq = (q * q).sum(-1, keepdims=True)
            d = np.where(sq > 0, (b * q).sum(-1, keepdims=True) / sq, 0).astype(np.float16).astype(np.float32)
        err = ((b - d * q) ** 2).sum(-1, keepdims=True)
        better = err < best_err
        best_err, best_d, best_q = np.where(better, err, best_err), np.where(better, d, best_d), np.where(better, q, best_q)
    nib = (best_q + 8).astype(np.uint8).reshape(-1, 2, 16)
    return np.concatenate([best_d.astype(np.float16).view(np.uint8), nib[:, 0] | (nib[:, 1] << np.uint8(4))],
                          -1).reshape(rows, -1)


def write_variant(src: Path, dst: Path, pattern: str | None, scaled: bool) -> Path:
    import gguf
    from gguf.constants import GGMLQuantizationType as Q

    from indexer.atomic import atomic_target

    if dst.is_file():
        return dst
    r = gguf.GGUFReader(str(src))
    with atomic_target(dst, sync=False) as tmp:  # renamed when whole: an interrupted write is not reused
        w = gguf.GGUFWriter(str(tmp), arch=r.fields["general.architecture"].contents(), endianess=r.endianess)
        for name, f in r.fields.items():
            if name.startswith("GGUF.") or name == "general.architecture":
                continue
            if f.types[0] == gguf.GGUFValueType.ARRAY:
                w.add_key_value(name, f.contents(), f.types[0], sub_type=f.types[-1])
            else:
                w.add_key_value(name, f.contents(), f.types[0])
        for t in r.tensors:
            if t.tensor_type in (Q.F32, Q.F16):
                w.add_tensor(t.name, np.asarray(t.data), raw_dtype=t.tensor_type)
                continue
            want = Q.Q4_0 if pattern and re.search(pattern, t.name) else Q.Q8_0
            if want == t.tensor_type:
                w.add_tensor(t.name, np.asarray(t.data), raw_shape=t.data.shape, raw_dtype=want)
                continue
            x = gguf.quants.dequantize(t.data, t.tensor_type)
            q = q4_0_scaled(x) if want == Q.Q4_0 and scaled else gguf.quants.quantize(x, want)
            w.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=want)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    return dst


def load(path: Path, logits_all: bool = False):
    from llama_cpp import Llama

    return Llama(model_path=str(path), n_ctx=2048, n_batch=512, n_threads=2, n_threads_batch=2, flash_attn=True,
                 logits_all=logits_all, verbose=False)


def prefill_seconds(path: Path, tokens: list[int]) -> float:
    llm, times = load(path), []
    for _ in range(7):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(tokens)
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def prompts(faq: Path | None, n_faq: int) -> list[list[int]]:
    from transformers import AutoTokenizer

    from rag.adapt.qa_data import QARecord, record_messages
    from rag.generation.model_cache import resolve_model_dir

    tok = AutoTokenizer.from_pretrained(str(resolve_model_dir("smollm2")))
    here = Path(__file__).resolve().parent
    recs = [QARecord(**{k: v for k, v in json.loads(line).items() if k in ("question", "answer", "context")})
            for line in open(here / "generator_qa.jsonl", encoding="utf-8")]
    if faq:
        corpus = {r["_id"]: r["text"] for r in map(json.loads, open(faq / "corpus.jsonl", encoding="utf-8"))}
        queries = {r["_id"]: r["text"] for r in map(json.loads, open(faq / "queries.jsonl", encoding="utf-8"))}
        for line in list(open(faq / "qrels" / "dev-fold0.tsv", encoding="utf-8"))[1:n_faq + 1]:
            q, d, _ = line.rstrip("\n").split("\t")
            recs.append(QARecord(question=queries[q], answer="", context=[corpus[d][:1500]]))
    count = lambda t: len(tok(t, add_special_tokens=False)["input_ids"])  # noqa: E731
    return [list(tok.apply_chat_template(record_messages(r, count, 250), add_generation_prompt=True, tokenize=True,
                                         return_dict=True)["input_ids"]) for r in recs]


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def reference_answers(path: Path, ps: list[list[int]], eos: set[int]):
    ref, out = load(path, logits_all=True), []
    for p in ps:
        ref.reset()
        ref.eval(p)
        ans: list[int] = []
        for _ in range(ANSWER_TOKENS):
            t = int(np.argmax(ref.scores[ref.n_tokens - 1]))
            if t in eos:
                break
            ans.append(t)
            ref.eval([t])
        ref.reset()
        ref.eval(p + ans)
        out.append((ans, np.array(ref.scores[len(p) - 1:len(p) + len(ans)])))
    return out


def agreement(path: Path, ps: list[list[int]], refs) -> dict:
    m = load(path, logits_all=True)
    same = n = whole = 0
    kl = 0.0
    for p, (ans, ref_logits) in zip(ps, refs):
        m.reset()
        m.eval(p + ans)
        lr, lv = _log_softmax(ref_logits), _log_softmax(np.array(m.scores[len(p) - 1:len(p) + len(ans)]))
        hit = lr.argmax(-1) == lv.argmax(-1)
        same, n, whole = same + int(hit.sum()), n + len(hit), whole + int(hit.all())
        kl += float((np.exp(lr) * (lr - lv)).sum())
    return {"top1": same / n, "kl": kl / n, "whole_answers_same": whole, "answers": len(ps), "tokens": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faq", type=Path, default=Path("/tmp/faq/en"))
    ap.add_argument("--n-faq", type=int, default=40)
    ap.add_argument("--out", type=Path, default=Path("/tmp/gguf-mix"))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()
    from rag.generation.llamacpp import smollm2_gguf_path

    src = smollm2_gguf_path()
    args.out.mkdir(parents=True, exist_ok=True)
    ps = prompts(args.faq if args.faq.is_dir() else None, args.n_faq)
    probe = load(src)
    eos = {probe.token_eos()} | {t for t in range(probe.n_vocab()) if probe.detokenize([t]) == b"<|im_end|>"}
    prefill_tokens = (ps[0] * 4)[:320]
    del probe
    refs = reference_answers(src, ps, eos)
    rows = []
    for name in args.variants.split(","):
        pattern, scaled = VARIANTS[name]
        path = write_variant(src, args.out / f"smollm2-{name}.gguf", pattern, scaled)
        row = {"variant": name, "prefill_320_s": round(prefill_seconds(path, prefill_tokens), 3),
               **agreement(path, ps, refs)}
        rows.append(row)
        print(f"{name:18s} prefill {row['prefill_320_s']:.3f} s  top-1 {row['top1']:.3f}  KL {row['kl']:.3f}  "
              f"whole answers {row['whole_answers_same']}/{row['answers']}", flush=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
