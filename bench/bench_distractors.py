"""Distractor robustness: does retrieval on the Debian FAQ hold up when 10,000 unrelated
documents share the knowledge base?  Target: lose at most 0.02 nDCG@10.

    python3 /work/shared/datasets/debian_faq.py /tmp/faq
    python bench/bench_distractors.py [--faq /tmp/faq] [--langs en,zh] [--n 10000]
                                      [--home /tmp/faq-home] [--json distractors]

Nothing is downloaded. The distractors are docstrings (>= 200 characters) of functions, classes and
modules in this interpreter's site-packages (numpy, scipy, torch, transformers, ...), found with `ast`,
deduplicated, skipped when they mention Debian/dpkg/apt, the first N by sorted (path, name), cut to
~1,500 characters at a word boundary. They are embedded once into a cache KB (`distractors-N`, the
slow part: ~10-20 min with e5 on 2 loaded cores); each run copies that KB and adds the FAQ corpus to
the copy (incremental add; chunks already embedded are not encoded again), so the FAQ-only KB and the
FAQ+distractors KB differ only by the distractors. Both are measured on the dev queries with the
default retrieval (hybrid DBSF + coverage weighting, documents scored by their best chunk).
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import os
import re
import shutil
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench._common import environment, table, write_json  # noqa: E402

BANNED = re.compile(r"\b(debian|dpkg|apt|apt-get|aptitude|ubuntu)\b", re.I)
TARGET = 0.02


def _docstrings(path: Path, root: Path):
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
        return
    rel = str(path.relative_to(root))
    nodes = [("<module>", tree)] + [(n.name, n) for n in ast.walk(tree)
                                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    for name, node in nodes:
        doc = ast.get_docstring(node, clean=True)
        if doc:
            yield rel, name, doc


def _cut(text: str, limit: int) -> str:
    text = "\n".join(line.rstrip() for line in text.splitlines()).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[:cut.rfind(" ")] if " " in cut[limit // 2:] else cut


def build_distractors(n: int, max_chars: int = 1500, min_chars: int = 200) -> list[tuple[str, str, str]]:
    """(doc id, title, text) for n docstrings, deterministic: sorted by (path, name), deduplicated."""
    from tqdm import tqdm

    root = Path(sysconfig.get_paths()["purelib"])
    files = sorted(p for p in root.rglob("*.py") if "test" not in p.relative_to(root).parts[0:1])
    out, seen = [], set()
    for path in tqdm(files, desc="docstrings", unit="file", mininterval=5):
        for rel, name, doc in sorted(_docstrings(path, root), key=lambda r: r[1]):
            if len(doc) < min_chars or BANNED.search(doc) or BANNED.search(rel):
                continue
            text = _cut(doc, max_chars)
            key = hashlib.sha1(" ".join(text.split()).lower().encode()).hexdigest()
            if key in seen:
                continue
            seen.add(key)
            title = f"{rel[:-3].replace('/', '.')}.{name}" if name != "<module>" else rel[:-3].replace("/", ".")
            out.append((f"x{len(out):05d}", title, text))
            if len(out) >= n:
                return out
    return out


def distractor_kb(mgr, n: int, embed_model: str | None, as_is: bool = False) -> tuple[str, float, int]:
    """The cached KB holding only the distractors; returns (name, seconds spent indexing now, docs).
    as_is: use the cache KB as it stands, even when an interrupted run left it short of n documents."""
    from indexer.ingest import Ingestor
    from indexer.types import Element

    name = f"distractors-{n}"
    if mgr.exists(name):
        store = mgr.open(name)
        have = len(store.documents())
        store.close()
        if have >= n or as_is:
            return name, 0.0, have
    docs = build_distractors(n)
    store = mgr.open(name, writable=True, create=True, embed_model=embed_model)
    t0 = time.perf_counter()
    try:
        if len(store.documents()) < len(docs):
            items = [(did, f"distractor:{title}", [Element(text, "text", title)]) for did, title, text in docs]
            Ingestor(store, mgr.encoder(store.embed_model), mgr.settings).index_elements(items, progress=True)
    finally:
        store.close()
    return name, time.perf_counter() - t0, len(docs)


def metrics_row(label: str, r: dict) -> list:
    return [label, f"{r['ndcg@10']:.4f}", f"{r['recall@10']:.4f}", f"{r['mrr@10']:.4f}",
            f"{r['latency_p50_ms']:.1f}", f"{r['latency_p95_ms']:.1f}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faq", default="/tmp/faq")
    ap.add_argument("--langs", default="en,zh")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--home", default="/tmp/faq-home")
    ap.add_argument("--embed-model", default=None, help="default: the configured one")
    ap.add_argument("--as-is", action="store_true",
                    help="measure with the distractor cache KB as it stands (an interrupted build: fewer than N)")
    ap.add_argument("--json", default="distractors")
    a = ap.parse_args()

    from eval.beir import load_beir
    from eval.retrieval import evaluate, index_corpus
    from indexer.kbs import KBManager
    from rag.config import Settings

    settings = Settings.load(None, indexer={"home": a.home})
    mgr = KBManager(settings.indexer)
    base, build_s, n_docs = distractor_kb(mgr, a.n, a.embed_model, a.as_is)
    store = mgr.open(base)
    n_chunks = sum(d.chunks for d in store.documents())
    embed_model = store.embed_model
    store.close()
    print(f"{base}: {n_docs} distractor documents, {n_chunks} chunks ({embed_model}); "
          f"indexing in this run took {build_s:.0f} s")

    rows, results = [], {}
    for lang in [x.strip() for x in a.langs.split(",") if x.strip()]:
        ds = load_beir(Path(a.faq) / lang, a.split)
        alone, mixed = f"faq-{lang}", f"faq-{lang}-with-{base}" + (f"-{n_docs}" if n_docs < a.n else "")
        index_corpus(ds, mgr, alone, embed_model)
        if not mgr.exists(mixed):
            shutil.copytree(mgr.home / base, mgr.home / (mixed + ".tmp"))
            (mgr.home / (mixed + ".tmp")).rename(mgr.home / mixed)
        index_corpus(ds, mgr, mixed, embed_model)  # incremental: adds the FAQ to the distractors' copy
        r0 = evaluate(ds, settings, alone, mgr=mgr)
        r1 = evaluate(ds, settings, mixed, mgr=mgr)
        changed = [{"query_id": p0["query_id"], "alone": p0["top"], "mixed": p1["top"],
                    "ndcg_alone": p0["ndcg@10"], "ndcg_mixed": p1["ndcg@10"]}
                   for p0, p1 in zip(r0["per_query"], r1["per_query"]) if abs(p0["ndcg@10"] - p1["ndcg@10"]) > 1e-9]
        intruded = sum(any(d.startswith("x") for d in p["top"]) for p in r1["per_query"])
        for r in (r0, r1):
            r.pop("per_query")
        delta = {m: r1[m] - r0[m] for m in ("ndcg@10", "recall@10", "mrr@10")}
        results[lang] = {"faq_docs": len(ds.corpus), "queries": len(ds.queries), "alone": r0, "with_distractors": r1,
                         "delta": delta, "target_met": delta["ndcg@10"] >= -TARGET,
                         "queries_changed": changed, "queries_with_distractor_in_top3": intruded}
        rows += [metrics_row(f"{lang}: FAQ alone ({len(ds.corpus)} docs)", r0),
                 metrics_row(f"{lang}: FAQ + {n_docs} distractors", r1),
                 [f"{lang}: delta", f"{delta['ndcg@10']:+.4f}", f"{delta['recall@10']:+.4f}",
                  f"{delta['mrr@10']:+.4f}", "", ""]]
        print(f"{lang}: {len(changed)} queries changed nDCG@10, {intruded} have a distractor in their top 3")

    print(table(rows, ["KB (dev queries, hybrid)", "nDCG@10", "R@10", "MRR@10", "p50 ms", "p95 ms"]))
    for lang, r in results.items():
        d = r["delta"]["ndcg@10"]
        print(f"{lang}: nDCG@10 {d:+.4f} (target: lose at most {TARGET}) -> "
              f"{'MET' if r['target_met'] else 'NOT MET'}")
    path = write_json(a.json, {"benchmark": "distractors", "distractors": n_docs, "distractor_kb": base,
                               "distractor_chunks": n_chunks, "distractor_index_s": build_s,
                               "embed_model": embed_model, "split": a.split, "target_max_loss": TARGET,
                               "results": results, "env": environment("torch", "transformers", "faiss-cpu")})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
