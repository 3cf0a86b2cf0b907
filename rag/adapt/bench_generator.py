"""Generator quantization benchmark (`rag bench generator`, `python bench/bench_generator.py`).

All settings are loaded in ONE process from the same float32 weights and run interleaved (record 1
with every setting, then record 2, ...), so a loaded machine slows them alike; figures are medians.
Per setting: prefill tokens/s (the prompt's forward pass), decode tokens/s (the greedy single-token
steps after it, KV cache on), the weights' size, process memory (a fresh subprocess per setting:
RSS after loading, quantizing and answering two questions), and answer quality on the QA records
(rag.adapt.qa_eval: token F1, citation hit, refusal accuracy) plus the share of answers identical to fp32.
"""
from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm

from rag.adapt.qa_data import read_records, record_messages
from rag.adapt.qa_eval import score
from rag.generation.quantize import quantize_model, weight_bytes

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "bench" / "generator_qa.jsonl"
SPEEDUP_TARGET = 1.5


def greedy(model, tok, ids, max_new: int, eos: set[int]) -> tuple[str, float, float, int]:
    """(answer, prefill_s, decode_s, new_tokens): greedy decoding with the KV cache, timed apart."""
    import torch

    with torch.inference_mode():
        t0 = time.perf_counter()
        out = model(input_ids=ids, use_cache=True)
        nxt = out.logits[:, -1:].argmax(-1)
        t1 = time.perf_counter()
        cache, new = out.past_key_values, [int(nxt)]
        while len(new) < max_new and new[-1] not in eos:
            out = model(input_ids=nxt, past_key_values=cache, use_cache=True)
            cache, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
            new.append(int(nxt))
        t2 = time.perf_counter()
    return tok.decode(new, skip_special_tokens=True).strip(), t1 - t0, t2 - t1, len(new)


def _load(settings):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rag.generation.model_cache import resolve_model_dir

    d = resolve_model_dir(settings.model, settings.cache_dir)
    tok = AutoTokenizer.from_pretrained(str(d), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32, local_files_only=True).eval()
    if settings.adapter:
        from rag.generation.adapter import apply_adapter

        model = apply_adapter(model, settings.adapter, merge=True)
    return model, tok


def _prompts(tok, records):
    count = lambda t: len(tok(t, add_special_tokens=False)["input_ids"])  # noqa: E731
    return [tok.apply_chat_template(record_messages(r, count, 250), add_generation_prompt=True, tokenize=True,
                                    return_dict=True, return_tensors="pt")["input_ids"] for r in records]


def measure_memory(mode: str, settings_json: str, data: str) -> dict:
    """Run in a fresh process: load, quantize, answer two records; RSS now and the weights' size."""
    from rag.generation.config import GenerationSettings

    settings = GenerationSettings(**json.loads(settings_json))
    model, tok = _load(settings)
    model = quantize_model(model, mode)
    import gc

    gc.collect()
    records = read_records(data)[:2]
    eos = {tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")}
    for ids in _prompts(tok, records):
        greedy(model, tok, ids, 16, eos)
    rss = _rss_mb()
    return {"rss_mb": rss, "weights_mb": weight_bytes(model) / 2**20}


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # peak, not current, where /proc is missing

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory(mode: str, settings, data: str) -> dict:
    code = ("import json,sys; from rag.adapt.bench_generator import measure_memory; "
            "print('@@' + json.dumps(measure_memory(*sys.argv[1:4])))")
    proc = subprocess.run([sys.executable, "-c", code, mode, settings.model_dump_json(), str(data)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    for line in proc.stdout.splitlines():
        if line.startswith("@@"):
            return json.loads(line[2:])
    return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}


def run_bench(settings, modes: list[str], data: str | None = None, n: int = 24, rounds: int = 1,
              max_new_tokens: int = 48, threads: int | None = None, memory: bool = True,
              out: str | None = None, progress: bool = True) -> dict:
    import torch

    bad = [m for m in modes if m not in ("none", "int8", "int4")]
    if bad:
        raise ValueError(f"--quant: unknown {bad}; CPU settings are none, int8, int4 (bnb4 needs a GPU)")
    if "none" not in modes:
        modes = ["none", *modes]
    if threads:
        torch.set_num_threads(threads)
    records = read_records(data or DEFAULT_DATA)[:n]
    base, tok = _load(settings)
    models = {m: (base if m == "none" else quantize_model(copy.deepcopy(base), m)) for m in modes}
    eos = {tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")}
    prompts = _prompts(tok, records)
    for m in models.values():  # warm-up: kernels, allocator
        greedy(m, tok, prompts[0], 4, eos)
    rows = {m: {"prefill": [], "decode": [], "answers": []} for m in modes}
    jobs = [(r, i) for r in range(rounds) for i in range(len(records))]
    for r, i in tqdm(jobs, desc="benchmark", unit="q", disable=not progress):
        for m in modes if (i + r) % 2 == 0 else modes[::-1]:  # alternate the order too
            text, pre_s, dec_s, new = greedy(models[m], tok, prompts[i], max_new_tokens, eos)
            rows[m]["prefill"].append(prompts[i].shape[1] / pre_s)
            if new > 1:
                rows[m]["decode"].append((new - 1) / dec_s)
            if r == 0:
                rows[m]["answers"].append(text)
    results = {}
    for m in modes:
        q = score(records, rows[m]["answers"])
        same = sum(a == b for a, b in zip(rows[m]["answers"], rows["none"]["answers"])) / len(records)
        results[m] = {"prefill_tok_s": statistics.median(rows[m]["prefill"]),
                      "decode_tok_s": statistics.median(rows[m]["decode"]) if rows[m]["decode"] else 0.0,
                      "weights_mb": weight_bytes(models[m]) / 2**20, **q.to_dict(), "same_answer_as_fp32": same}
        if memory:
            results[m]["process"] = _memory(m, settings, data or DEFAULT_DATA)
    fp = results["none"]
    for m, r in results.items():
        r["decode_speedup"] = r["decode_tok_s"] / fp["decode_tok_s"] if fp["decode_tok_s"] else 0.0
        r["prefill_speedup"] = r["prefill_tok_s"] / fp["prefill_tok_s"] if fp["prefill_tok_s"] else 0.0
    winner = recommend(results)
    doc = {"records": len(records), "rounds": rounds, "max_new_tokens": max_new_tokens,
           "threads": torch.get_num_threads(), "load_avg": os.getloadavg(), "results": results,
           "recommended": winner, "answers": {m: rows[m]["answers"] for m in modes}}
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    print(table(results))
    print(f"recommended default: quant = \"{winner}\"" + (" (no quantized setting is faster without losing "
                                                         "citation hits or token F1)" if winner == "none" else ""))
    if out:
        print(f"wrote {out}")
    return doc


def recommend(results: dict, f1_tolerance: float = 0.02) -> str:
    """The fastest-decoding setting at least 10% faster than fp32 that loses no citation hits and at
    most `f1_tolerance` token F1; else 'none'."""
    fp = results["none"]
    ok = [m for m, r in results.items() if m != "none" and r["decode_speedup"] >= 1.1
          and r["citation_hit"] >= fp["citation_hit"] and r["token_f1"] >= fp["token_f1"] - f1_tolerance]
    return max(ok, key=lambda m: results[m]["decode_speedup"]) if ok else "none"


def table(results: dict) -> str:
    head = (f"{'quant':<6} {'prefill tok/s':>13} {'decode tok/s':>12} {'x fp32':>7} {'weights MB':>10} "
            f"{'RSS MB':>7} {'token F1':>8} {'cite hit':>8} {'refusal':>7} {'=fp32':>6}")
    lines = [head]
    for m, r in results.items():
        rss = r.get("process", {}).get("rss_mb")
        rss = "-" if rss is None else f"{rss:.0f}"
        lines.append(f"{m:<6} {r['prefill_tok_s']:>13.0f} {r['decode_tok_s']:>12.1f} {r['decode_speedup']:>7.2f} "
                     f"{r['weights_mb']:>10.0f} {rss:>7} {r['token_f1']:>8.3f} "
                     f"{r['citation_hit']:>8.3f} {r['refusal_acc']:>7.3f} {r['same_answer_as_fp32']:>6.2f}")
    return "\n".join(lines)
