"""The `rag` command line: a thin front end over indexer/ and rag/."""
from __future__ import annotations

import json
import logging
import os
import sys
from typing import Optional

import typer

from rag.config import Settings

app = typer.Typer(help="Retrieval-augmented QA over your own documents.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
kb_app = typer.Typer(help="Manage knowledge bases.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")

KB = typer.Option("default", "--kb", help="knowledge base name")
DOC = typer.Option([], "--doc", help="only these document ids")
SOURCE = typer.Option([], "--source", help="only these sources")
TAG = typer.Option([], "--tag", help="only documents with key=value (tags given at index time)")


class State:
    config: Optional[str] = None
    home: Optional[str] = None

    def settings(self, **indexer) -> Settings:
        return Settings.load(self.config, indexer={"home": self.home, **indexer})

    def manager(self, **indexer):
        from indexer.kbs import KBManager

        return KBManager(self.settings(**indexer).indexer)


state = State()


def fail(msg: str, code: int = 1) -> None:
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(code)


@app.callback()
def main(home: Optional[str] = typer.Option(None, "--home", help="folder of knowledge bases (env RAG_HOME; default ./.rag)"),
         config: Optional[str] = typer.Option(None, "--config", help="TOML config file (env RAG_CONFIG)"),
         verbose: bool = typer.Option(False, "-v", "--verbose")):
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    state.home, state.config = home, config


def _open(kb: str, writable: bool = False, create: bool = False, embed_model: Optional[str] = None):
    from indexer.kbs import KBNotFound

    mgr = state.manager()
    try:
        return mgr, mgr.open(kb, writable=writable, create=create, embed_model=embed_model)
    except (KBNotFound, ValueError) as e:
        fail(str(e))


@kb_app.command("list")
def kb_list(as_json: bool = typer.Option(False, "--json")):
    mgr = state.manager()
    rows = []
    for name in mgr.names():
        store = mgr.open(name)
        rows.append({"name": name, "documents": len(store.documents()), "embed_model": store.embed_model,
                     "context_window": store.context_window})
        store.close()
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        print(f"no knowledge bases in {mgr.home} yet; create one with `rag kb create NAME`")
    for r in rows if not as_json else []:
        print(f"{r['name']}\t{r['documents']} documents\t{r['embed_model']}\tcontext window {r['context_window']}")


@kb_app.command("create")
def kb_create(name: str, embed_model: Optional[str] = typer.Option(None, "--embed-model",
              help="e5+minilm (default: both bundled models fused), e5 (multilingual alone, faster indexing), minilm (English) or a sentence-transformers folder")):
    mgr = state.manager()
    try:
        store = mgr.create(name, embed_model)
    except (FileExistsError, ValueError) as e:
        fail(str(e))
    store.commit()
    print(f"created knowledge base {name!r} ({store.embed_model}, {store.dim}-d, context window "
          f"{store.context_window}) in {mgr.home / name}")
    store.close()


@kb_app.command("delete")
def kb_delete(name: str):
    from indexer.kbs import KBNotFound

    try:
        state.manager().delete(name)
    except (KBNotFound, ValueError) as e:
        fail(str(e))
    print(f"deleted knowledge base {name!r}")


def _tags(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            fail(f"--tag expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@app.command()
def index(paths: list[str] = typer.Argument(..., help="files and folders (recursive)"), kb: str = KB,
          tag: list[str] = typer.Option([], "--tag", help="key=value metadata, repeatable"),
          embed_model: Optional[str] = typer.Option(None, "--embed-model", help="model for a new KB"),
          quiet: bool = typer.Option(False, "-q", "--quiet")):
    """Index files and folders into a knowledge base (created if missing)."""
    from indexer.ingest import Ingestor

    tags = _tags(tag)
    mgr, store = _open(kb, writable=True, create=True, embed_model=embed_model)
    try:
        encoder = mgr.encoder(store.embed_model)
        report = Ingestor(store, encoder, mgr.settings).index_paths(paths, tags, progress=not quiet)
    finally:
        store.close()
    for r in report.failed:
        typer.secho(f"FAILED {r.source}: {r.reason}", fg="red", err=True)
    print(f"{kb}: {report.count('indexed')} indexed, {report.count('updated')} updated, "
          f"{report.count('unchanged')} unchanged, {len(report.failed)} failed")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def docs(kb: str = KB, as_json: bool = typer.Option(False, "--json")):
    """List the documents of a knowledge base."""
    _, store = _open(kb)
    rows = [{"doc_id": d.doc_id, "source": d.source, "chunks": d.chunks, "size": d.size,
             "indexed_at": d.indexed_at, "tags": d.tags} for d in store.documents()]
    store.close()
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        print(f"{r['doc_id']}  {r['chunks']:>4} chunks  {r['size']:>9} B  {r['indexed_at']}  {r['source']}")
    print(f"{len(rows)} documents")


@app.command()
def delete(doc: str = typer.Argument(..., help="document id or the path it was indexed from"), kb: str = KB):
    """Remove a document from every index of a knowledge base."""
    from indexer.ingest import delete as delete_doc

    _, store = _open(kb, writable=True)
    try:
        gone = delete_doc(store, doc)
    finally:
        store.close()
    if not gone:
        fail(f"no document {doc!r} in {kb!r}; `rag docs --kb {kb}` lists them")
    print(f"deleted {', '.join(gone)}")


@app.command()
def search(query: str, kb: str = KB, k: int = typer.Option(10, "-k", "--top-k"),
           mode: Optional[str] = typer.Option(None, "--mode", help="hybrid | dense | bm25"),
           doc: list[str] = DOC, source: list[str] = SOURCE, tag: list[str] = TAG,
           as_json: bool = typer.Option(False, "--json")):
    """Search a knowledge base (hybrid dense + BM25 by default)."""
    from indexer.types import Filters
    from rag.retrieve import HybridRetriever

    mgr, store = _open(kb)
    settings = state.settings()
    retriever = HybridRetriever(store, mgr.encoder(store.embed_model), settings.retrieval)
    hits = retriever.run(query, k, Filters.make(doc, source, _tags(tag)), mode)
    store.close()
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        print("no results")
    for i, h in enumerate(hits, 1):
        where = h.source + (f" p.{h.page}" if h.page else "") + (f" — {h.title}" if h.title else "")
        text = " ".join(h.text.split())
        print(f"{i:>2}. [{h.score:.4f}] {where}\n    {text[:300]}{'…' if len(text) > 300 else ''}")


def _pipeline(kb: str, adapter: Optional[str] = None):
    from indexer.kbs import KBNotFound
    from rag.pipeline import build_pipeline

    settings = state.settings()
    if adapter:  # CLI flag > env RAG_LLM_ADAPTER > [generation] adapter
        settings.generation = settings.generation.model_copy(update={"adapter": adapter})
    try:
        pipe = build_pipeline(settings, kb)
    except (KBNotFound, ValueError) as e:
        fail(str(e))
    pipe.warm_up()
    return pipe


def _print_answer(ans, streamed: bool) -> None:
    if not streamed:
        print(ans.answer)
    elif ans.mode == "extract":
        print()
    elif ans.fallback == "unsupported":
        typer.secho("\n(no sentence of that answer is supported by the passages, and none of them matches the "
                    "question:)", fg="yellow")
        print(ans.answer)
    elif ans.fallback:
        typer.secho("\n(no sentence of that answer is supported by the passages; quoting the best-matching one:)",
                    fg="yellow")
        print(ans.answer)
    else:
        print()
    for c in ans.citations:
        where = c.source + (f" p.{c.page}" if c.page else "")
        typer.secho(f"  [{c.n}] {where}: “{c.quote[:160]}”", fg="cyan")
    t = ans.timings
    if ans.mode == "extract" and not ans.refused:
        typer.secho("  (quoted from the passages, no generator: [answer] mode / [generation] languages)",
                    fg="bright_black", err=True)
    typer.secho(f"  ({'refused; ' if ans.refused else ''}retrieve {t.get('retrieve_s', 0) * 1000:.0f} ms, "
                f"rerank {t.get('rerank_s', 0) * 1000:.0f} ms, first token {t.get('ttft_s', 0):.2f} s, "
                f"total {t.get('total_s', 0):.2f} s)", fg="bright_black", err=True)


def _answer_json(ans) -> str:
    d = ans.to_dict()
    d["passages"] = d.pop("hits")
    return json.dumps(d, ensure_ascii=False, indent=2)


@app.command()
def ask(question: Optional[str] = typer.Argument(None), kb: str = KB,
        doc: list[str] = DOC, source: list[str] = SOURCE, tag: list[str] = TAG,
        stream: bool = typer.Option(False, "--stream", help="print tokens as they come"),
        as_json: bool = typer.Option(False, "--json"),
        questions: Optional[str] = typer.Option(None, "--questions", help="file: answer every line, one model load"),
        adapter: Optional[str] = typer.Option(None, "--adapter", help="LoRA adapter folder (rag tune generator)")):
    """Answer a question from a knowledge base, with verified citations."""
    from pathlib import Path

    from indexer.types import Filters
    from rag.answer_types import Answer

    filters = Filters.make(doc, source, _tags(tag))

    todo = [question] if question else []
    if questions:
        todo += [q.strip() for q in Path(questions).read_text(encoding="utf-8").splitlines() if q.strip()]
    if not todo:
        fail("give a question, or --questions FILE")
    pipe = _pipeline(kb, adapter)
    answers = []
    for q in todo:
        if len(todo) > 1 and not as_json:
            typer.secho(f"\nQ: {q}", bold=True)
        ans = None
        for event in pipe.stream(q, filters=filters):
            if isinstance(event, Answer):
                ans = event
            elif stream and not as_json:
                print(event.text, end="", flush=True)
        answers.append(ans)
        if not as_json:
            _print_answer(ans, stream)
    if as_json:
        print(_answer_json(answers[0]) if len(answers) == 1 else
              "[" + ",\n".join(_answer_json(a) for a in answers) + "]")


@app.command()
def chat(kb: str = KB, doc: list[str] = DOC, source: list[str] = SOURCE, tag: list[str] = TAG,
         adapter: Optional[str] = typer.Option(None, "--adapter", help="LoRA adapter folder (rag tune generator)")):
    """Interactive questions and answers; follow-ups use the conversation so far."""
    from indexer.types import Filters
    from rag.answer_types import Answer

    filters = Filters.make(doc, source, _tags(tag))

    pipe = _pipeline(kb, adapter)
    history: list[dict[str, str]] = []
    print(f"chatting with {kb!r}: empty line or Ctrl-D to quit, /reset to forget the conversation")
    while True:
        try:
            question = input("> ").strip()
        except EOFError:
            break
        if not question:
            break
        if question == "/reset":
            history = []
            continue
        ans = None
        for event in pipe.stream(question, history, filters):
            if isinstance(event, Answer):
                ans = event
            else:
                print(event.text, end="", flush=True)
        _print_answer(ans, True)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": ans.answer}]


def tune_refusal_cmd(kb: str = KB,
                     beir: list[str] = typer.Option([], "--beir", help="BEIR folder (repeatable): its qrels queries "
                                                    "are answerable, ids in unanswerable.txt are not"),
                     split: str = typer.Option("dev", "--split"),
                     answerable: Optional[str] = typer.Option(None, "--answerable", help="file: one question a line"),
                     unanswerable: Optional[str] = typer.Option(None, "--unanswerable",
                                                                help="file: one question a line (default: built-in "
                                                                     "off-topic questions, en + zh)"),
                     min_answered: float = typer.Option(0.9, "--min-answered", min=0.0, max=1.0,
                                                        help="answer at least this share of answerable questions")):
    """Calibrate the refusal threshold on answerable vs unanswerable questions; stored in the KB."""
    from pathlib import Path

    from rag.tune_refusal import read_questions, tune_refusal

    pos, neg = [], None
    for folder in beir:
        from eval.beir import load_beir, read_jsonl

        ds = load_beir(folder, split)
        pos += list(ds.queries.values())
        ids_file = Path(folder) / "unanswerable.txt"
        if ids_file.exists():
            ids = set(read_questions(ids_file))
            neg = (neg or []) + [q["text"] for q in read_jsonl(Path(folder) / "queries.jsonl") if str(q["_id"]) in ids]
    if answerable:
        pos += read_questions(answerable)
    if unanswerable:
        neg = (neg or []) + read_questions(unanswerable)
    if not pos:
        fail("give answerable questions with --beir DIR or --answerable FILE")
    from rag.pipeline import build_pipeline

    pipe = build_pipeline(state.settings(), kb)
    rep = tune_refusal(pipe, pos, neg, min_answered=min_answered)
    c = rep.calibration
    print(f"{kb}: refusal threshold {c.threshold:.4f} stored ({len(rep.answerable)} answerable: {c.answerable_kept:.0%} "
          f"answered; {len(rep.unanswerable)} unanswerable: {c.unanswerable_refused:.0%} refused)")


tune_app = typer.Typer(help="Adapt models and thresholds to a knowledge base.", no_args_is_help=True)
app.add_typer(tune_app, name="tune")
tune_app.command("refusal")(tune_refusal_cmd)
from rag.cli_tune import reranker as _tune_reranker  # noqa: E402  (lazy-importing command module)

tune_app.command("reranker")(_tune_reranker)
from rag.cli_adapt import register as _register_adapt  # noqa: E402  (synth, tune generator/merge, bench)

_register_adapt(app, tune_app)


from rag.cli_serve import serve as _serve  # noqa: E402

app.command("serve")(_serve)


def run() -> None:
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted; the knowledge base keeps its last complete state", file=sys.stderr)
        sys.exit(130)


eval_app = typer.Typer(help="Offline evaluation.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("retrieval")
def eval_retrieval(beir: str = typer.Option(..., "--beir", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/"),
                   split: str = typer.Option("test", "--split"), kb: Optional[str] = typer.Option(None, "--kb"),
                   out: Optional[str] = typer.Option(None, "--json", help="write the metrics here"),
                   modes: str = typer.Option("hybrid", "--modes", help="comma list of hybrid,dense,bm25,rerank "
                                             "(rerank = hybrid + the configured cross-encoder)"),
                   embed_model: Optional[str] = typer.Option(None, "--embed-model", help="model for a new KB"),
                   per_query: bool = typer.Option(False, "--per-query", help="include per-query rows in the JSON")):
    """Index a BEIR folder into a KB (reused when it already holds it) and measure retrieval."""
    from pathlib import Path

    from eval.beir import load_beir
    from eval.retrieval import evaluate, index_corpus
    from indexer.kbs import KBManager

    try:
        ds = load_beir(beir, split)
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    kb = kb or "beir-" + Path(beir).resolve().name
    settings = state.settings()
    mgr = KBManager(settings.indexer)
    written = index_corpus(ds, mgr, kb, embed_model)
    print(f"{kb}: {len(ds.corpus)} corpus documents ({written} newly indexed), {len(ds.queries)} queries in {split}")
    results = []
    for mode in [m.strip() for m in modes.split(",") if m.strip()]:
        try:
            r = evaluate(ds, settings, kb, mode, mgr=mgr)
        except ValueError as e:
            fail(str(e))
        if not per_query:
            r.pop("per_query")
        results.append(r)
        print(f"{mode:>7}: nDCG@10 {r['ndcg@10']:.4f}  R@5 {r['recall@5']:.4f}  R@10 {r['recall@10']:.4f}  "
              f"MRR@10 {r['mrr@10']:.4f}  p50 {r['latency_p50_ms']:.1f} ms  p95 {r['latency_p95_ms']:.1f} ms")
    doc = {"dataset": str(Path(beir).resolve()), "split": split, "kb": kb, **results[0], "configs": results}
    if out:
        Path(out).write_text(json.dumps(doc, ensure_ascii=False, indent=2))
        print(f"wrote {out}")


from rag.cli_eval import compare as _eval_compare, report as _eval_report  # noqa: E402

eval_app.command("report")(_eval_report)
eval_app.command("compare")(_eval_compare)
