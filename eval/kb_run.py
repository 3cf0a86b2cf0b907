"""Run a customer's questions through their KB's query pipeline, as `rag ask` answers them.

The pipeline is the one `rag ask` builds (rag.pipeline.build_pipeline: the same settings, the KB's own
calibrated refusal thresholds); nothing is indexed. Each question is asked on its own (no conversation).
"""
from __future__ import annotations

import time
from collections.abc import Callable

from tqdm import tqdm

from eval.kb_questions import KBQuestion
from eval.kb_verdict import QuestionResult, file_name, judge
from rag.generation.base import GenerationError


class GeneratorFailed(RuntimeError):
    """The generator failed on a question and no answer was quoted instead ([answer] extractive_fallback = false):
    the run cannot score it, so it stops, naming the question and what to do."""


def ask_all(pipe, questions: list[KBQuestion], progress: bool = True,
            on_result: Callable[[QuestionResult], None] | None = None) -> list[QuestionResult]:
    """`pipe`: a warmed-up rag.pipeline.Pipeline. GeneratorFailed when the generator fails on a question."""
    results = []
    for q in tqdm(questions, desc="questions", unit="q", disable=not progress):
        t0 = time.perf_counter()
        try:
            ans = pipe.ask(q.question)
        except GenerationError as e:
            raise GeneratorFailed(f"row {q.row} ({q.question[:80]!r}): the generator failed after {len(results)} "
                                  f"question(s) were answered: {e}. Check the generator ([generation] base_url, "
                                  "model), or set [answer] extractive_fallback = true to have such questions quoted "
                                  "from the documents, then run again") from e
        seconds = time.perf_counter() - t0
        result = judge(q, ans.answer, ans.refused, [c.source for c in ans.citations], ans.fallback_reason, seconds)
        results.append(result)
        if on_result:
            on_result(result)
    return results


def unknown_sources(questions: list[KBQuestion], kb_sources: list[str]) -> list[KBQuestion]:
    """The questions whose expected source names no document of the KB (a misspelt file name, or a document
    not indexed): they cannot be answered correctly, so the user hears of them before the run."""
    names = {file_name(s) for s in kb_sources}
    stems = {n.rsplit(".", 1)[0] for n in names}
    out = []
    for q in questions:
        want = file_name(q.source) if q.source else ""
        if want and want not in names and ("." in want or want not in stems):
            out.append(q)
    return out
