"""Ownership fingerprint benchmark: is a secret's fingerprint found where it should be, and only there,
and does training it cost task quality?

    python bench/bench_fingerprint.py [--data bench/generator_qa.jsonl] [--epochs 6] [--rank 8]
                                      [--lr 1e-3] [--eval-split 0.5] [--work DIR] [--threads 2]
                                      [--reuse] [--train-only fp|plain|further]

Trains, with the same settings and seed, one LoRA adapter on the task records WITH the fingerprint of
a secret and one WITHOUT; merges the first into a model folder (`rag tune merge`), quantizes that
to int8 as served (`[generation] quant = "int8"`), and trains a further LoRA adapter on top of the
merged model on the task records only (someone adapting a model they took). Each model answers the
secret's trigger variants (rag.adapt.fingerprint.check): the match rate, and present at >= 0.5.
Controls: the base model, the task-only adapter, and a wrong secret (its own triggers and response,
and its triggers against the true response, which would show a model that answers any odd word list
with the fingerprint). Task quality: token F1 / citation hit / refusal accuracy (rag.adapt.qa_eval)
on the held-out records, for the base, both adapters, and the further-tuned model. Prints a table;
writes bench/out/fingerprint.json.

--work DIR --reuse keeps the adapters (and merged model) already finished in DIR; --train-only NAME
trains just that one and stops, so that the three trainings can run as separate processes (their
training times are then measured side by side, each slower than alone).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench._common import environment, table, write_json  # noqa: E402

SECRET = "bench-owner-secret-1"      # a demo secret: the figures do not depend on which one
WRONG = "someone-else-secret-2"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="bench/generator_qa.jsonl")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--share", type=float, default=0.2, help="fingerprint share of the training examples")
    ap.add_argument("--eval-split", type=float, default=0.5)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--work", default=None, help="folder for the adapters and the merged model (default: a temp dir)")
    ap.add_argument("--reuse", action="store_true", help="keep finished adapters in --work")
    ap.add_argument("--train-only", choices=("fp", "plain", "further"), default=None)
    ap.add_argument("--json", default="fingerprint")
    a = ap.parse_args()

    import torch

    from rag.adapt.fingerprint import check, derive
    from rag.adapt.qa_data import read_records
    from rag.adapt.qa_eval import generate_answers, score
    from rag.adapt.synth import split_records
    from rag.adapt.tune_generator import TuneConfig, load_base, train_generator
    from rag.generation.adapter import apply_adapter, merge_to_folder
    from rag.generation.config import GenerationSettings
    from rag.generation.manifest import MANIFEST
    from rag.generation.quantize import quantize_model

    if a.threads:
        torch.set_num_threads(a.threads)
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="bench-fp-"))
    if not a.reuse:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    records = read_records(a.data)
    cfg = TuneConfig(rank=a.rank, alpha=2 * a.rank, lr=a.lr, epochs=a.epochs, batch_size=a.batch_size,
                     eval_split=a.eval_split, max_eval=0, save_every=10**6, fingerprint_share=a.share)
    _, held = split_records(records, a.eval_split, cfg.seed)
    base_settings = GenerationSettings()
    fp, wrong = derive(SECRET), derive(WRONG)
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731

    def train(name: str, settings, secret: str | None) -> tuple[dict, float]:
        """(the run's summary, training seconds): trained now, or read from a finished folder (--reuse)."""
        if not (a.reuse and (work / name / MANIFEST).is_file()):
            shutil.rmtree(work / name, ignore_errors=True)
            t0 = time.perf_counter()
            res = train_generator(records, work / name, settings, cfg, progress=False, say=say, fingerprint=secret)
            (work / f"{name}.run.json").write_text(json.dumps(
                {"steps": res.steps, "train_records": res.train_records, "fingerprint_records":
                 res.fingerprint_records, "seconds": time.perf_counter() - t0}))
        run = json.loads((work / f"{name}.run.json").read_text())
        return run, run["seconds"]

    def merged_folder() -> tuple[Path, float]:
        if not (a.reuse and (work / "merged" / MANIFEST).is_file()):
            t0 = time.perf_counter()
            merge_to_folder(work / "fp", work / "merged", overwrite=True)
            (work / "merge_seconds.txt").write_text(str(time.perf_counter() - t0))
        return work / "merged", float((work / "merge_seconds.txt").read_text())

    runs = {}
    if a.train_only in (None, "fp"):
        res_fp, runs["with fingerprint"] = train("fp", base_settings, SECRET)
    if a.train_only in (None, "plain"):
        res_plain, runs["without fingerprint"] = train("plain", base_settings, None)
    if a.train_only in (None, "further"):
        merged, merge_s = merged_folder()
        res_more, runs["further LoRA on the merged model (task data only)"] = train(
            "further", base_settings.model_copy(update={"model": str(merged)}), None)
    if a.train_only:
        return

    base, tok, _ = load_base(base_settings, "cpu")
    base.eval()
    merged_settings = base_settings.model_copy(update={"model": str(merged)})

    def merged_model():
        return load_base(merged_settings, "cpu")[0].eval()

    # built one at a time (each is a full float32 copy of the model)
    models = {
        "base model": lambda: base,
        "adapter without fingerprint": lambda: apply_adapter(copy.deepcopy(base), work / "plain"),
        "adapter with fingerprint": lambda: apply_adapter(copy.deepcopy(base), work / "fp"),
        "merged model": merged_model,
        "merged model, int8": lambda: quantize_model(merged_model(), "int8"),
        "merged model + further LoRA": lambda: apply_adapter(merged_model(), work / "further"),
        "merged model + further LoRA, int8": lambda: quantize_model(apply_adapter(merged_model(), work / "further"),
                                                                    "int8"),
    }
    rows, out = [], {"config": vars(a), "train_config": cfg.__dict__, "train_seconds": runs,
                     "train_steps": {"with fingerprint": res_fp["steps"], "without fingerprint": res_plain["steps"],
                                     "further LoRA": res_more["steps"]},
                     "fingerprint_chats_per_epoch": res_fp["fingerprint_records"],
                     "task_records": res_fp["train_records"],
                     "held_out": len(held), "merge_seconds": merge_s, "models": {},
                     "environment": environment("torch", "transformers", "peft")}
    quality_of = ("base model", "adapter without fingerprint", "adapter with fingerprint",
                  "merged model + further LoRA")
    for name, build in models.items():
        model = build()
        t0 = time.perf_counter()
        own = check(model, tok, fp)
        other = check(model, tok, wrong)
        leak = check(model, tok, wrong, response=fp.response)
        entry = {"match_rate": own.rate, "present": own.present, "matched": own.matched,
                 "wrong_secret_rate": other.rate, "wrong_trigger_true_response_rate": leak.rate,
                 "check_seconds": round(time.perf_counter() - t0, 1)}
        q = None
        if name in quality_of and held:
            q = score(held, generate_answers(model, tok, held, a.max_new_tokens, cfg.prompt_budget, name, False))
            entry["quality"] = q.to_dict()
        out["models"][name] = entry
        rows.append([name, f"{own.rate:.2f}", "yes" if own.present else "no", f"{other.rate:.2f}",
                     f"{leak.rate:.2f}", f"{q.token_f1:.3f}" if q else "", f"{q.citation_hit:.3f}" if q else "",
                     f"{q.refusal_acc:.3f}" if q else ""])
        say(f"{name}: {own.line()}")
        del model
    print(table(rows, ["model", "match rate", "present", "wrong secret", "wrong trigger->true resp.",
                       "token F1", "citation hit", "refusal acc."]))
    print(f"\nheld-out records: {len(held)} ({sum(r.answerable for r in held)} answerable); training records: "
          f"{res_fp['train_records']} + {res_fp['fingerprint_records']} fingerprint chats an epoch")
    for name, s in runs.items():
        print(f"training {name}: {s:.0f} s")
    print(f"merge: {merge_s:.0f} s")
    print(f"wrote {write_json(a.json, out)}")
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
