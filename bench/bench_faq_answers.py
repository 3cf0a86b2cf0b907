"""Answer quality and speed on held-out Debian FAQ questions.

    python3 /work/shared/datasets/debian_faq.py /tmp/faq
    python bench/bench_faq_answers.py [--faq /tmp/faq/en] [--n 60] [--budgets 250,150]
                                      [--variants 250/truncate/none,250/select/int8]
                                      [--home /tmp/faq-home] [--max-minutes 25] [--json faq_answers]

Targets: the answer cites the gold document for >= 80% of the questions; >= 4 of 5 clearly off-topic
questions are refused; no empty answers; time to first token under 1 s (default model, 2 cores,
after warm-up).

Held-out: the dataset ships only the dev half, and nothing in the pipeline (prompt, citation check,
generator) was tuned on its answers, so the dev questions serve as held-out questions. The refusal
threshold *is* fitted on questions, as `rag tune refusal` does (answerable = dev queries, unanswerable
= the built-in off-topic list); to keep that from leaking, the dev questions are split in two folds
by sorted id, and each question is answered with the threshold calibrated on the *other* fold.
Off-topic questions are answered with the threshold calibrated on all dev questions (what
`rag tune refusal --beir /tmp/faq/en` would store); five of them are in the calibration list
("seen"), five are not ("unseen").

N questions (a deterministic sample: sorted by a hash of the query id) go through Pipeline.ask after
warm-up; with several context budgets each question is asked under every budget back to back (order
alternating), so machine-load noise hits both alike. --variants generalises --budgets: each variant is
BUDGET[/FIT[/QUANT[/ADAPTER]]] (FIT: truncate | select, the prompt's passage fitting; QUANT: none | int8 |
int4; ADAPTER: a LoRA folder from `rag tune generator`; each quantization/adapter is a generator of its
own, loaded and warmed up before the run); the variant `extract` answers with `[answer] mode = "extract"`
(no generator). --answer-mode sets the mode of the other variants (default: the configured one, "auto",
which quotes every question with the bundled model unless it has an adapter: pass --answer-mode
generate to measure it writing). Results are written after every question, and
the run stops cleanly after --max-minutes (the JSON then says how many were done).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench._common import environment, percentile, table, write_json  # noqa: E402

OFF_TOPIC_SEEN = ["Recommend a good recipe for lasagna.", "Who won the football World Cup in 2010?",
                  "What is the best way to train a puppy?", "What is the capital of Australia?", "如何做红烧肉？"]
OFF_TOPIC_UNSEEN = ["How do I make a sourdough starter?", "Who won the Tour de France in 2019?",
                    "What is the tallest mountain in Africa?", "How often should I water a cactus?",
                    "北京烤鸭怎么做？"]
WARM_UP_QUESTION = "What is Debian?"


def sample(qids: list[str], n: int) -> list[str]:
    return sorted(qids, key=lambda q: hashlib.sha1(q.encode()).hexdigest())[:n]


def record(ans, qid: str | None, question: str, gold: dict[str, float], budget: int, threshold: float | None,
           stats: dict) -> dict:
    gold = gold or {}
    by_retrieval = ans.refused and ans.timings.get("generate_s", 1.0) == 0.0
    return {"query_id": qid, "question": question, "budget": budget, "threshold": threshold,
            "refused": bool(ans.refused),
            "refused_by": (("retrieval" if by_retrieval else "unsupported" if ans.fallback == "unsupported" else "model")
                           if ans.refused else None),
            "empty": not ans.answer.strip(),
            "cited_gold": any(c.doc_id in gold for c in ans.citations),
            "mode": ans.mode,  # generate | extract | refuse
            "fallback": ans.fallback,  # "extractive": the model's answer had no support; a cited extract replaced it
            #                            "unsupported": no support and no matching passage sentence: refused
            "gold_in_passages": any(h.doc_id in gold for h in ans.hits),
            "citations": [c.doc_id for c in ans.citations], "dropped": len(ans.dropped),
            "passages": [h.doc_id for h in ans.hits],
            "ttft_s": None if by_retrieval else ans.timings.get("ttft_s"),
            "total_s": ans.timings.get("total_s"), "retrieve_s": ans.timings.get("retrieve_s"),
            "prompt_tokens": None if by_retrieval else stats.get("prompt_tokens"),
            "new_tokens": None if by_retrieval else stats.get("new_tokens"),
            "decode_tok_s": None if by_retrieval else stats.get("decode_tok_s"),
            "answer": ans.answer[:400]}


def summarise(rows: list[dict]) -> dict:
    n = len(rows)
    if not n:
        return {"questions": 0}
    ttft = [r["ttft_s"] for r in rows if r["ttft_s"] is not None]
    total = [r["total_s"] for r in rows if r["ttft_s"] is not None]
    prompt = [r["prompt_tokens"] for r in rows if r["prompt_tokens"]]
    answered = [r for r in rows if not r["refused"]]
    return {"questions": n, "cited_gold": sum(r["cited_gold"] for r in rows) / n,
            "cited_gold_of_answered": (sum(r["cited_gold"] for r in answered) / len(answered)) if answered else None,
            "gold_in_passages": sum(r["gold_in_passages"] for r in rows) / n,
            "any_citation": sum(bool(r["citations"]) for r in rows) / n,
            "extractive_fallback": sum(r.get("fallback") == "extractive" for r in rows),
            "refused_unsupported": sum(r.get("fallback") == "unsupported" for r in rows),
            "extracted": sum(r.get("mode") == "extract" for r in rows),
            "cited_gold_by_fallback": sum(r["cited_gold"] and r.get("fallback") == "extractive" for r in rows),
            "refused": sum(r["refused"] for r in rows), "refused_by_retrieval": sum(r["refused_by"] == "retrieval" for r in rows),
            "empty": sum(r["empty"] for r in rows),
            "ttft_p50_s": percentile(ttft, 50), "ttft_p95_s": percentile(ttft, 95),
            "ttft_under_1s": (sum(t < 1.0 for t in ttft) / len(ttft)) if ttft else None,
            "total_p50_s": percentile(total, 50), "total_p95_s": percentile(total, 95),
            "prompt_tokens_p50": percentile(prompt, 50)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faq", default="/tmp/faq/en")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--home", default="/tmp/faq-home")
    ap.add_argument("--kb", default="faq-en")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--budgets", default="250", help="context budgets in tokens, e.g. 250,150 (first = main)")
    ap.add_argument("--variants", default=None,
                    help="BUDGET[/FIT[/QUANT[/ADAPTER]]] list, e.g. 250/truncate/none,250/select/int8 (overrides --budgets)")
    ap.add_argument("--answer-mode", choices=["auto", "generate", "extract"], default=None,
                    help="[answer] mode for the variants (default: the configured one)")
    ap.add_argument("--compare-n", type=int, default=16,
                    help="the other budgets run on the first this-many sampled questions only (time)")
    ap.add_argument("--max-new-tokens", type=int, default=None, help="default: the configured one")
    ap.add_argument("--max-minutes", type=float, default=25.0)
    ap.add_argument("--no-off-topic", action="store_true")
    ap.add_argument("--json", default="faq_answers")
    a = ap.parse_args()
    t_start = time.monotonic()

    import torch
    from tqdm import tqdm

    from eval.beir import load_beir
    from eval.retrieval import index_corpus
    from indexer.kbs import KBManager
    from rag.adapt.tune_refusal import OFF_TOPIC, tune_refusal
    from rag.config import Settings
    from rag.pipeline import build_pipeline

    settings = Settings.load(None, indexer={"home": a.home}, answer={"mode": a.answer_mode} if a.answer_mode else None)
    if a.max_new_tokens:
        settings.generation = settings.generation.model_copy(update={"max_new_tokens": a.max_new_tokens})
    ds = load_beir(a.faq, a.split)
    mgr = KBManager(settings.indexer)
    index_corpus(ds, mgr, a.kb, progress=False)
    pipe = build_pipeline(settings, a.kb, mgr)
    gs0 = settings.generation
    specs = a.variants or a.budgets
    variants: dict[str, dict] = {}
    mode0 = settings.answer.mode
    modes = {}
    for spec in (v.strip() for v in specs.split(",") if v.strip()):
        modes[spec] = "extract" if spec == "extract" else mode0
        parts = [str(gs0.context_budget_tokens)] if spec == "extract" else spec.split("/", 3)  # adapter may be a path
        variants[spec] = {"context_budget_tokens": int(parts[0]),
                          "passage_fit": parts[1] if len(parts) > 1 else gs0.passage_fit,
                          "quant": parts[2] if len(parts) > 2 else gs0.quant,
                          "adapter": Path(parts[3]) if len(parts) > 3 else gs0.adapter}
    names = list(variants)  # variant names, the main one first (a plain budget list names them by budget)

    # refusal thresholds: two folds (each question answered with the other fold's), + all dev (off-topic)
    qids = sorted(ds.queries)
    folds = [qids[0::2], qids[1::2]]
    cal = {}
    for i, fold in enumerate(folds):
        rep = tune_refusal(pipe, [ds.queries[q] for q in fold], None, store_in_kb=False)
        cal[i] = rep
    full = tune_refusal(pipe, [ds.queries[q] for q in qids], None, store_in_kb=False)
    threshold_of = {q: cal[1 - i].calibration.threshold for i, fold in enumerate(folds) for q in fold}
    calib = {f"fold{i}": {"questions": len(folds[i]), **vars(cal[i].calibration)} for i in cal}
    calib["all_dev"] = {"questions": len(qids), **vars(full.calibration)}
    print("refusal thresholds: " + ", ".join(f"{k} {v['threshold']:.4f} (answers {v['answerable_kept']:.0%}, "
                                             f"refuses {v['unanswerable_refused']:.0%} of off-topic)"
                                             for k, v in calib.items()))

    t0 = time.perf_counter()
    pipe.warm_up()
    pipe.refusal_threshold = None
    pipe.ask(WARM_UP_QUESTION)  # first real generation: kernels, caches, e5 warm
    warm_s = time.perf_counter() - t0
    gen = pipe.generator
    from rag.generation.factory import make_generator

    generators = {(gs0.quant, gs0.adapter): gen}
    for v in variants.values():
        key = (v["quant"], v["adapter"])
        if key not in generators:
            generators[key] = make_generator(gs0.model_copy(update={"quant": v["quant"], "adapter": v["adapter"]}))
            generators[key].warm_up()
            pipe.generator = generators[key]
            pipe.ask(WARM_UP_QUESTION)
    pipe.generator = gen
    load = os.getloadavg()
    print(f"warm-up {warm_s:.1f} s; torch threads {torch.get_num_threads()}; variants {names}")

    def ask(question: str, budget: str, threshold: float | None):
        v = variants[budget]
        pipe.settings.generation = gs0.model_copy(update=v)
        pipe.generator = g = generators[(v["quant"], v["adapter"])]
        pipe.settings.answer = pipe.settings.answer.model_copy(update={"mode": modes[budget]})
        pipe.refusal_threshold = threshold
        g.last_stats = {}
        ans = pipe.ask(question)
        return ans, dict(g.last_stats)

    rows: dict[str, list[dict]] = {b: [] for b in names}
    off: list[dict] = []
    todo = sample(qids, a.n)
    stopped = None

    def dump() -> Path:
        summary = {b: summarise(r) for b, r in rows.items()}
        if len(names) > 1:
            shared = {r["query_id"] for r in rows[names[1]]}
            summary["paired"] = {b: summarise([r for r in rows[b] if r["query_id"] in shared]) for b in names}
        off_sum = {kind: {"asked": sum(r["kind"] == kind for r in off),
                          "refused": sum(r["refused"] for r in off if r["kind"] == kind)} for kind in ("seen", "unseen")}
        return write_json(a.json, {
            "benchmark": "faq_answers", "dataset": str(Path(a.faq).resolve()), "split": a.split, "kb": a.kb,
            "generator": {"model": settings.generation.model, "backend": settings.generation.backend,
                          "max_new_tokens": settings.generation.max_new_tokens, "quant": settings.generation.quant,
                          "torch_threads": torch.get_num_threads()},
            "top_k": settings.answer.top_k, "variant_order": names,
            "variants": {k: {**v, "adapter": str(v["adapter"]) if v["adapter"] else None} for k, v in variants.items()}, "n_requested": a.n, "sampled": len(todo),
            "stopped_early": stopped, "warm_up_s": warm_s, "refusal_calibration": calib,
            "summary": summary, "off_topic": off_sum, "off_topic_rows": off, "rows": rows,
            "elapsed_s": time.monotonic() - t_start, "loadavg_start": load, "loadavg_end": os.getloadavg(),
            "env": environment("torch", "transformers")})

    deadline = t_start + a.max_minutes * 60
    if not a.no_off_topic:
        for kind, qs in (("unseen", OFF_TOPIC_UNSEEN), ("seen", OFF_TOPIC_SEEN)):
            for q in tqdm(qs, desc=f"off-topic ({kind})"):
                ans, stats = ask(q, names[0], full.calibration.threshold)
                off.append({"kind": kind, "in_calibration_list": q in OFF_TOPIC,
                            **record(ans, None, q, {}, names[0], full.calibration.threshold, stats)})
        dump()
    for i, qid in enumerate(tqdm(todo, desc="dev questions")):
        if time.monotonic() > deadline:
            stopped = f"time limit ({a.max_minutes} min) after {i} of {len(todo)} questions"
            break
        order = (names if i % 2 == 0 else names[::-1]) if i < a.compare_n else names[:1]
        for b in order:
            ans, stats = ask(ds.queries[qid], b, threshold_of[qid])
            rows[b].append(record(ans, qid, ds.queries[qid], ds.qrels[qid], b, threshold_of[qid], stats))
        dump()
    path = dump()

    out = []
    for b in names:
        s = summarise(rows[b])
        if not s["questions"]:
            continue
        out.append([f"{b}", s["questions"], f"{s['cited_gold']:.0%}", f"{s['gold_in_passages']:.0%}",
                    s["extractive_fallback"], s["refused"], s["empty"], f"{s['ttft_p50_s']:.2f}", f"{s['ttft_p95_s']:.2f}",
                    f"{s['total_p50_s']:.1f}", f"{s['prompt_tokens_p50']:.0f}"])
    if len(names) > 1:  # the same questions under each budget
        shared = {r["query_id"] for r in rows[names[1]]}
        for b in names:
            s = summarise([r for r in rows[b] if r["query_id"] in shared])
            if s["questions"]:
                out.append([f"{b} (paired)", s["questions"], f"{s['cited_gold']:.0%}",
                            f"{s['gold_in_passages']:.0%}", s["extractive_fallback"], s["refused"], s["empty"], f"{s['ttft_p50_s']:.2f}",
                            f"{s['ttft_p95_s']:.2f}", f"{s['total_p50_s']:.1f}", f"{s['prompt_tokens_p50']:.0f}"])
    print(table(out, ["context", "questions", "cites gold", "gold in prompt", "fallback", "refused", "empty",
                      "TTFT p50 s", "TTFT p95 s", "total p50 s", "prompt tok"]))
    for kind in ("unseen", "seen"):
        ks = [r for r in off if r["kind"] == kind]
        if ks:
            print(f"off-topic ({kind}{', in the calibration list' if kind == 'seen' else ''}): "
                  f"{sum(r['refused'] for r in ks)} of {len(ks)} refused")
    if stopped:
        print(f"stopped early: {stopped}")
    main_s = summarise(rows[names[0]])
    if main_s["questions"] and off:
        unseen = sum(r["refused"] for r in off if r["kind"] == "unseen")
        print(f"targets: cites gold {main_s['cited_gold']:.0%} (>= 80%: {'MET' if main_s['cited_gold'] >= 0.8 else 'NOT MET'}); "
              f"off-topic refused {unseen}/5 unseen (>= 4: {'MET' if unseen >= 4 else 'NOT MET'}); "
              f"empty {main_s['empty']} ({'MET' if not main_s['empty'] else 'NOT MET'}); "
              f"TTFT p50 {main_s['ttft_p50_s']:.2f} s / p95 {main_s['ttft_p95_s']:.2f} s "
              f"(< 1 s: {'MET' if main_s['ttft_p95_s'] < 1 else 'NOT MET'})")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
