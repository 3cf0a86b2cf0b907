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


def ask_all(pipe, questions: list[KBQuestion], progress: bool = True,
            on_result: Callable[[QuestionResult], None] | None = None) -> list[QuestionResult]:
    """`pipe`: a warmed-up rag.pipeline.Pipeline."""
    results = []
    for q in tqdm(questions, desc="questions", unit="q", disable=not progress):
        t0 = time.perf_counter()
        ans = pipe.ask(q.question)
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
