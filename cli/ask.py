"""`rag search`, `rag ask`, `rag chat`: questions to a knowledge base."""
from __future__ import annotations

import json
import re
from typing import Optional

import typer

from cli.state import DOC, KB, SOURCE, TAG, fail, open_kb, parse_tags, read_lines, state
from indexer.page_breaks import page_label
from rag.config import RetrievalMode


def search(query: str, kb: str = KB, k: int = typer.Option(10, "-k", "--top-k", min=1, help="hits to show"),
           mode: Optional[RetrievalMode] = typer.Option(None, "--mode", help="default: RAG_RETRIEVAL_MODE, else hybrid"),
           doc: list[str] = DOC, source: list[str] = SOURCE, tag: list[str] = TAG,
           as_json: bool = typer.Option(False, "--json")):
    """Search a knowledge base (hybrid dense + BM25 by default)."""
    from cli.doc_filters import kb_filters
    from rag.retrieval.hybrid import HybridRetriever

    tags = parse_tags(tag)
    mgr, store = open_kb(kb)
    settings = state.settings()
    retriever = HybridRetriever.from_store(store, mgr, settings.retrieval)
    hits = retriever.run(query, k, kb_filters(store, kb, doc, source, tags), mode)
    store.close()
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        print("no results")
    for i, h in enumerate(hits, 1):
        pages = page_label(h.page, h.page_end)
        where = h.source + (f" {pages}" if pages else "") + (f" — {h.title}" if h.title else "")
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


def _note(ans) -> str:
    """What became of the generator's answer, for the reader."""
    if ans.mode == "extract":
        return ""
    if ans.fallback == "unsupported":
        return "no sentence of that answer is supported by the passages, and none of them matches the question"
    if ans.fallback:
        return f"{ans.fallback_reason or 'the generated answer was replaced'}; quoting the passages"
    if any(d.outcome == "removed" for d in ans.dropped):
        return "sentences whose facts the passages contradict are left out"
    return ""


def _print_answer(ans, streamed: str | None) -> None:
    """`streamed`: the text already printed while the answer was written (None: nothing was)."""
    from rag.answering.cite import shorten_quote

    note = _note(ans)
    if streamed is None:
        print(ans.answer)
    elif streamed.strip() == ans.answer.strip():  # what was shown is the checked answer
        print()
        if note:
            typer.secho(f"({note})", fg="yellow")
    else:  # raw tokens were shown, or a later sentence changed an earlier one: the checked answer
        typer.secho(f"\n({note or 'the checked answer'}:)", fg="yellow")
        print(ans.answer)
    for c in ans.citations:
        pages = page_label(c.page, c.page_end)
        where = c.source + (f" {pages}" if pages else "")
        typer.secho(f"  [{c.n}] {where}: “{shorten_quote(c.quote, 160)}”", fg="cyan")
    for d in ans.dropped_sentences:
        typer.secho(f"  ({'dropped' if d.outcome == 'removed' else 'uncited'} “{_short(d.sentence)}”: {d.reason})",
                    fg="bright_black", err=True)
    t = ans.timings
    if ans.refused and ans.fallback_reason:  # why a KB that had passages on the subject still refused
        typer.secho(f"  (refused: {ans.fallback_reason})", fg="bright_black", err=True)
    if ans.mode == "extract" and not ans.refused:
        typer.secho("  (quoted from the passages; RAG_ANSWER_MODE=generate has the model write)", fg="bright_black",
                    err=True)
    typer.secho(f"  ({'refused; ' if ans.refused else ''}retrieve {t.get('retrieve_s', 0) * 1000:.0f} ms, "
                f"rerank {t.get('rerank_s', 0) * 1000:.0f} ms, first token {t.get('ttft_s', 0):.2f} s, "
                + (f"first shown {t['first_shown_s']:.2f} s, " if "first_shown_s" in t else "")
                + f"total {t.get('total_s', 0):.2f} s)", fg="bright_black", err=True)


def _short(sentence: str, limit: int = 70) -> str:
    from rag.answering.markers import MARKER

    text = re.sub(r"\s+([.,;:!?。，；：！？])", r"\1", " ".join(MARKER.sub(" ", sentence).split()))
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _answer_json(ans) -> str:
    d = ans.to_dict()
    d["passages"] = d.pop("hits")
    return json.dumps(d, ensure_ascii=False, indent=2)


def ask(question: Optional[str] = typer.Argument(None), kb: str = KB,
        doc: list[str] = DOC, source: list[str] = SOURCE, tag: list[str] = TAG,
        stream: bool = typer.Option(False, "--stream", help="print tokens as they come"),
        as_json: bool = typer.Option(False, "--json"),
        questions: Optional[str] = typer.Option(None, "--questions", help="file: answer every line, one model load"),
        adapter: Optional[str] = typer.Option(None, "--adapter", help="LoRA adapter folder (rag tune generator)")):
    """Answer a question from a knowledge base, with verified citations."""
    from cli.doc_filters import kb_filters
    from rag.answering.types import Answer

    tags = parse_tags(tag)
    todo = [question] if question else []
    if questions:
        todo += read_lines(questions, "--questions")
    if not todo:
        fail("give a question, or --questions FILE")
    pipe = _pipeline(kb, adapter)
    filters = kb_filters(pipe.store, kb, doc, source, tags)
    answers = []
    for q in todo:
        if len(todo) > 1 and not as_json:
            typer.secho(f"\nQ: {q}", bold=True)
        ans, shown = None, []
        for event in pipe.stream(q, filters=filters, shows_pieces=stream and not as_json):
            if isinstance(event, Answer):
                ans = event
            elif stream and not as_json:
                print(event.text, end="", flush=True)
                shown.append(event.text)
        answers.append(ans)
        if not as_json:
            _print_answer(ans, "".join(shown) if stream else None)
    if as_json:
        print(_answer_json(answers[0]) if len(answers) == 1 else
              "[" + ",\n".join(_answer_json(a) for a in answers) + "]")


def chat(kb: str = KB, doc: list[str] = DOC, source: list[str] = SOURCE, tag: list[str] = TAG,
         adapter: Optional[str] = typer.Option(None, "--adapter", help="LoRA adapter folder (rag tune generator)")):
    """Interactive questions and answers; follow-ups use the conversation so far."""
    from cli.doc_filters import kb_filters
    from rag.answering.types import Answer

    tags = parse_tags(tag)
    pipe = _pipeline(kb, adapter)
    filters = kb_filters(pipe.store, kb, doc, source, tags)
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
        ans, shown = None, []
        for event in pipe.stream(question, history, filters):
            if isinstance(event, Answer):
                ans = event
            else:
                print(event.text, end="", flush=True)
                shown.append(event.text)
        _print_answer(ans, "".join(shown))
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": ans.answer}]
