"""Run the configurations of a report over an eval set: per-query retrieval and answer records.

Every query's record is appended to OUTDIR/runs/*.jsonl as soon as it is done, in files named by
a hash of the input files and the resolved settings. With `resume`, records already there are kept
and only the missing queries run (a warning names files written by different code: runs/code.json);
without it, runs/ starts empty.
Configurations with the same indexer settings share one KB; with the same retrieval settings,
one retrieval run; with the same generator settings, one loaded model.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from eval import answers as am
from eval.configs import ConfigSet, EvalConfig, key, section_dump
from eval.evalset import EvalSet, Question
from eval.retrieval import index_corpus, replace_settings
from indexer.kbs import KBManager
from rag.config import Settings
from rag.metrics import per_query, rouge_l, token_f1

ROOT = Path(__file__).resolve().parent.parent
# the code a cached run depends on: a change to any of it invalidates `--resume` records
CODE_FILES = ["rag/**/*.py", "indexer/**/*.py", "eval/runner.py", "eval/answers.py", "eval/evalset.py",
              "eval/retrieval.py", "eval/beir.py"]
RETRIEVAL_K = 10
AUTO, NONE = "auto", "none"  # refusal: the KB's automatic calibration (the default), or no threshold


def code_hash() -> str:
    parts = []
    for pattern in CODE_FILES:
        for p in sorted(ROOT.glob(pattern)):
            parts.append((str(p.relative_to(ROOT)), p.read_bytes().hex()))
    return key(parts)


@dataclass
class ConfigRun:
    config: EvalConfig
    settings: Settings
    kb: str
    retrieval: list[dict]
    answers: list[dict] | None
    models: dict[str, str] = field(default_factory=dict)
    refusal_threshold: float | None = None   # the evidence threshold the answers ran with (None: none)
    refusal_by_language: dict[str, float] = field(default_factory=dict)  # ... per question language, when so


class _Records:
    """An append-only JSONL file of per-query records, keyed by query id."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: dict[str, dict] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by an interrupted run
                    continue
                self.rows[row["qid"]] = row

    def add(self, row: dict) -> None:
        self.rows[row["qid"]] = row
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    def ordered(self, questions: list[Question]) -> list[dict]:
        return [self.rows[q.qid] for q in questions if q.qid in self.rows]


class Runner:
    def __init__(self, evalset: EvalSet, configs: ConfigSet, out: Path, kb_home: Path,
                 config_file: str | None = None, resume: bool = False, answers: bool = True, progress: bool = True,
                 encoders: dict | None = None, calibrate_split: str | None = None):
        """`encoders`: already-loaded embedding encoders by model name (reused instead of loading).
        `calibrate_split`: how each answering configuration's refusal threshold is set (unless its
        settings fix one): None or AUTO (the default), the KB's own automatic calibration, as `rag index`
        leaves it for every KB (rag.answering.auto_refusal: probes from its chunks vs the packaged
        off-topic questions, a threshold per question language); NONE, no threshold (nothing refused on
        evidence); else a split of the folder whose questions are calibrated against built-in off-topic
        ones, as `rag tune refusal` does (never the evaluated questions)."""
        calibrate_split = calibrate_split or AUTO
        if calibrate_split == evalset.split:
            raise ValueError(f"calibrate refusal on another split than the evaluated one ({evalset.split!r})")
        self.encoders = encoders or {}
        self.calibrate_split = calibrate_split
        for c in configs.configs:  # unknown or invalid settings fail here, before any work
            try:
                c.settings(config_file, kb_home)
            except ValueError as e:
                raise ValueError(f"configuration {c.name!r}: {e}") from e
        self.es, self.configs, self.out, self.kb_home = evalset, configs, Path(out), Path(kb_home)
        self.config_file, self.resume, self.answers, self.progress = config_file, resume, answers, progress
        self.code = code_hash()
        self._managers: dict[str, KBManager] = {}
        self._generators: dict[str, object] = {}
        self._rerankers: dict[str, object] = {}
        self._thresholds: dict[str, tuple[float | None, dict[str, float]]] = {}
        self._auto: dict[str, tuple[float | None, dict[str, float]]] = {}  # automatic calibrations, shared

    def run(self) -> list[ConfigRun]:
        runs_dir = self.out / "runs"
        if runs_dir.exists() and not self.resume:
            shutil.rmtree(runs_dir)
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = runs_dir / "code.json"
        if stamp.exists():
            old = json.loads(stamp.read_text()).get("code_hash")
            if old != self.code:
                print(f"warning: resuming records written by other code (source hash {old}, now {self.code}); "
                      f"run without --resume for figures from this code alone", file=sys.stderr)
        else:
            stamp.write_text(json.dumps({"code_hash": self.code}))
        return [self._run_config(c) for c in self.configs.configs]

    # ------------------------------------------------------------------ one configuration
    def _run_config(self, cfg: EvalConfig) -> ConfigRun:
        settings = cfg.settings(self.config_file, self.kb_home)
        idx = section_dump(settings, "indexer")
        kb = "eval-" + key(self.es.fingerprint, idx)
        mgr = self._manager(kb, settings)
        rkey = key(self.es.fingerprint, kb, section_dump(settings, "retrieval"),
                   section_dump(settings, "rerank"))
        store = mgr.open(kb)
        models = {"embed_model": store.embed_model}
        if settings.rerank.model:
            models["reranker"] = str(settings.rerank.model)
        try:
            records = _Records(self.out / "runs" / f"retrieval-{rkey}.jsonl")
            retrieval = self._retrieval(cfg, settings, mgr, store, records)
        finally:
            store.close()
        answer_rows = None
        if cfg.answers and self.answers:
            akey = key(rkey, section_dump(settings, "generation"), section_dump(settings, "answer"),
                       self.calibrate_split)
            answer_rows, gen_name = self._answers(cfg, settings, mgr, kb,
                                                  _Records(self.out / "runs" / f"answers-{akey}.jsonl"))
            models["generator"] = gen_name
        threshold, by_language = self._thresholds.get(cfg.name, (None, {}))
        return ConfigRun(cfg, settings, kb, retrieval, answer_rows, models, threshold, by_language)

    def _manager(self, kb: str, settings: Settings) -> KBManager:
        if kb not in self._managers:
            mgr = KBManager(settings.indexer, encoders=self.encoders)  # one loaded encoder per model across KBs
            if mgr.exists(kb) and not self.resume:
                mgr.delete(kb)  # a fresh report indexes afresh
            written = index_corpus(self.es.ds, mgr, kb, progress=self.progress)
            if self.progress:
                print(f"{kb}: {len(self.es.ds.corpus)} documents ({written} indexed) with {mgr.settings.embed_model}")
            self._managers[kb] = mgr
        return self._managers[kb]

    # ------------------------------------------------------------------ retrieval
    def _retrieval(self, cfg: EvalConfig, settings: Settings, mgr: KBManager, store, records: _Records) -> list[dict]:
        from rag.retrieval.hybrid import HybridRetriever

        todo = [q for q in self.es.answerable if q.qid not in records.rows]
        if todo:
            reranker = self._reranker(settings)
            # like `rag eval retrieval`: documents ranked by their best chunk; rerank works on chunks
            retrieval = settings.retrieval.model_copy(update={"per": "chunk"}) if reranker \
                else replace_settings(settings, None)
            retriever = HybridRetriever.from_store(store, mgr, retrieval)
            retriever.warm_up()
            retriever.run("warm up", RETRIEVAL_K)
            for q in tqdm(todo, desc=f"{cfg.name}: retrieval", disable=not self.progress):
                t0 = time.perf_counter()
                hits = retriever.run(q.text, reranker.top_n if reranker else RETRIEVAL_K)
                t1 = time.perf_counter()
                if reranker:
                    hits = reranker.run(q.text, hits, reranker.top_n)
                t2 = time.perf_counter()
                ranked = list(dict.fromkeys(h.doc_id for h in hits))[:RETRIEVAL_K]
                records.add({"qid": q.qid, "ranked": ranked, **per_query(ranked, q.qrels),
                             "retrieve_s": t1 - t0, "rerank_s": (t2 - t1) if reranker else None})
        return records.ordered(self.es.answerable)

    def _reranker(self, settings: Settings):
        from rag.rerank.factory import make_reranker

        if not settings.rerank.model:
            return None
        return self._warm(self._rerankers, settings, "rerank", make_reranker)

    # ------------------------------------------------------------------ answers
    def _generator(self, settings: Settings):
        from rag.generation.factory import make_generator

        return self._warm(self._generators, settings, "generation", make_generator)

    @staticmethod
    def _warm(cache: dict, settings: Settings, section: str, factory):
        """One warmed-up model per distinct settings section, shared by the configurations using it."""
        k = key(section_dump(settings, section))
        if k not in cache:
            model = factory(getattr(settings, section))
            model.warm_up()  # cached only once loaded
            cache[k] = model
        return cache[k]

    def _answers(self, cfg: EvalConfig, settings: Settings, mgr: KBManager, kb: str,
                 records: _Records) -> tuple[list[dict], str]:
        from rag.pipeline import build_pipeline

        generator = self._generator(settings)
        gen_name = str(getattr(generator, "model_dir", None) or settings.generation.model)
        pipe = build_pipeline(settings, kb, mgr, generator=generator, reranker=self._reranker(settings))
        try:
            if settings.answer.refusal_threshold is None:  # a configured threshold wins, as in `rag ask`
                if self.calibrate_split == AUTO:
                    self._auto_calibrate(pipe, kb)
                elif self.calibrate_split == NONE:
                    pipe.refusal_threshold = None
                else:
                    self._calibrate(pipe)
            configured = settings.answer.refusal_threshold
            self._thresholds[cfg.name] = (configured, {}) if configured is not None else \
                (pipe.refusal_threshold, dict(pipe.refusal_by_language))
            todo = [q for q in self.es.questions if q.qid not in records.rows]
            if not todo:
                return records.ordered(self.es.questions), gen_name
            pipe.warm_up()
            pipe.retriever.run("warm up", settings.answer.top_k)
            for q in tqdm(todo, desc=f"{cfg.name}: answers", disable=not self.progress):
                records.add(self._answer_row(pipe, q))
        finally:
            pipe.close()
        return records.ordered(self.es.questions), gen_name

    def _auto_calibrate(self, pipe, kb: str) -> None:
        """The thresholds `rag index` stores in a KB (rag.adapt.tune_refusal.recalibrate): calibrated on the
        KB's own content through this configuration's answering path (retriever, reranker, top_k), not
        stored; one calibration per distinct path."""
        from rag.answering.auto_refusal import auto_calibrate

        k = key(kb, section_dump(pipe.settings, "retrieval"), section_dump(pipe.settings, "rerank"),
                pipe.settings.answer.top_k)
        if k not in self._auto:
            pipe.retriever.warm_up()
            if pipe.reranker:
                pipe.reranker.warm_up()
            try:
                cal = auto_calibrate(pipe, store_in_kb=False)
                self._auto[k] = cal.threshold, dict(cal.by_language)
            except ValueError as e:  # too little content to calibrate on: `rag index` stores none either
                print(f"{kb}: no automatic refusal threshold: {e}", file=sys.stderr)
                self._auto[k] = None, {}
        pipe.refusal_threshold, by_language = self._auto[k]
        pipe.refusal_by_language = dict(by_language)

    def _calibrate(self, pipe) -> None:
        from eval.beir import load_beir
        from rag.adapt.tune_refusal import tune_refusal

        dev = load_beir(self.es.ds.root, self.calibrate_split)
        rep = tune_refusal(pipe, list(dev.queries.values()), None, store_in_kb=False)
        pipe.refusal_threshold = rep.calibration.threshold

    def _answer_row(self, pipe, q: Question) -> dict:
        ans = pipe.ask(q.text)
        gen_stats = getattr(pipe.generator, "last_stats", None) or {}
        generated = ans.timings.get("generate_s", 0.0) > 0
        new_tokens = gen_stats.get("new_tokens") if generated else 0
        cited = [c.doc_id for c in ans.citations]
        row = {"qid": q.qid, "answerable": q.answerable, "answer": ans.answer, "refused": ans.refused,
               "cited": list(dict.fromkeys(cited)), "passages": [h.doc_id for h in ans.hits],
               "refusal_correct": float(ans.refused != q.answerable), **ans.timings,
               "new_tokens": new_tokens,
               "decode_tok_s": gen_stats.get("decode_tok_s") if generated else None}
        dropped = ans.dropped_sentences
        row["dropped"] = [{"sentence": d.sentence, "reason": d.reason, "outcome": d.outcome} for d in dropped]
        row["fallback"] = ans.fallback
        if q.answerable:
            prediction = "" if ans.refused else ans.answer
            precision, recall = am.citation_pr(cited, q.qrels) if not ans.refused else (None, 0.0)
            row.update(f1=token_f1(prediction, q.gold) if q.gold is not None else None,
                       rouge_l=rouge_l(prediction, q.gold) if q.gold is not None else None,
                       citation_precision=precision, citation_recall=recall,
                       answered_correctly=am.answered_correctly(ans.refused, cited, q.qrels, len(dropped),
                                                                ans.fallback))
        row["groundedness"] = None if ans.refused else am.groundedness(
            ans.answer, ans.citations, ans.hits, pipe.settings.generation.cite_min_overlap)
        return row
