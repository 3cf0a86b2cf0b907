"""OUT/report.html of `rag eval kb`: one self-contained page (eval.html's style; no scripts, no network).

Sections: the counts overall and per category, the changes against the baseline (when given), then each
category, worst first, with its questions worst first: the question, the verdict and why, the answer and the
sources it cites, the expected answer and facts.
"""
from __future__ import annotations

from eval.html import CSS, esc, fmt
from eval.kb_baseline import Comparison
from eval.kb_metrics import KBRun
from eval.kb_summary import by_category, count
from eval.kb_verdict import RIGHT, VERDICTS, QuestionResult

_KB_CSS = ".v{white-space:nowrap;font-weight:600}.q td:nth-child(2){width:11%}"


def _counts_table(results: list[QuestionResult]) -> str:
    groups = by_category(results)
    rows = [("all questions", results)] + ([(name or "(no category)", rs) for name, rs in groups.items()]
                                           if len(groups) > 1 or "" not in groups else [])
    head = "".join(f"<th>{esc(v)}</th>" for v in VERDICTS)
    body = []
    for name, rs in rows:
        c = count(rs)
        cells = "".join(f"<td>{c.verdicts[v]}</td>" for v in VERDICTS)
        body.append(f"<tr><td class=l>{esc(name)}</td><td>{c.questions}</td><td><b>{c.right}</b> "
                    f"({c.share_right:.0%})</td>{cells}<td>{fmt(c.f1_mean, 2)}</td></tr>")
    return (f"<table><tr><th class=l>category</th><th>questions</th><th>right</th>{head}<th>F1</th></tr>"
            f"{''.join(body)}</table><p class=small>right = correct + refused-correctly. correct: answered, citing "
            "the expected source file when one is given, with every key fact in the answer. F1: token F1 of the "
            "answers to the expected answers (per character for Chinese).</p>")


def _changes(cmp: Comparison, tolerance: int) -> str:
    status = (f'<p class="{"no" if cmp.failed(tolerance) else "ok"}"><b>{cmp.right_after} of {cmp.common} right, was '
              f'{cmp.right_before}</b>: {"FAILED" if cmp.failed(tolerance) else "passed"} (a drop of up to '
              f"{tolerance} question(s) allowed)</p>")
    if not cmp.changes:
        return status + "<p>No question changed verdict.</p>"
    rows = "".join(f'<tr><td class="l {"no" if c.direction == "worse" else "ok" if c.direction == "better" else ""}">'
                   f"{esc(c.direction)}</td><td class=l>{esc(c.question)}</td><td class=l>{esc(c.category)}</td>"
                   f"<td class=l>{esc(c.before)} → {esc(c.after)}</td></tr>" for c in cmp.changes)
    return status + (f"<table class=q><tr><th class=l>change</th><th class=l>question</th><th class=l>category</th>"
                     f"<th class=l>verdict</th></tr>{rows}</table>")


def _why(r: QuestionResult) -> str:
    parts = []
    if r.cites_source is False:
        parts.append(f"does not cite {r.source}")
    if r.missing:
        parts.append("missing: " + "; ".join(r.missing))
    if r.refused and r.reason:
        parts.append(f"refused: {r.reason}")
    return "; ".join(parts)


def _question_row(r: QuestionResult) -> str:
    cls = "ok" if r.verdict in RIGHT else "no"
    cited = ", ".join(r.cited_sources) or "nothing"
    expected = "<br>".join(
        [f"<span class=small>expected: {esc(r.expected[:400])}</span>"] * bool(r.expected)
        + [f"<span class=small>facts: {esc('; '.join(r.facts))}</span>"] * bool(r.facts)
        + [f"<span class=small>source: {esc(r.source)}</span>"] * bool(r.source)
        + ["<span class=small>the documents do not answer it</span>"] * (not r.answerable))
    why = _why(r)
    return (f"<tr><td class=l>{esc(r.question)}<br><span class=small>row {r.row}</span></td>"
            f"<td class=l><span class='v {cls}'>{esc(r.verdict)}</span>"
            + (f"<br><span class=small>{esc(why)}</span>" if why else "") + "</td>"
            f"<td class=l>{esc(r.answer[:600])}<br><span class=small>cited: {esc(cited)}</span></td>"
            f"<td class=l>{expected}</td><td>{fmt(r.f1, 2)}</td></tr>")


def render(run: KBRun, comparison: Comparison | None = None, tolerance: int = 0) -> str:
    info, results = run.info, run.results
    title = f"Evaluation of KB {info.kb}"
    meta = (f"questions {esc(info.questions_file)} (SHA-256 {esc(info.questions_sha256[:12])}) · "
            f"{len(results)} questions · {esc(info.finished_at)} · answers {esc(info.answer_mode)} · "
            f"refusal thresholds {esc(info.refusal_thresholds)} · code {esc(info.git_commit or 'unknown')}")
    body = [f"<h1>{esc(title)}</h1><div class=meta>{meta}</div>", "<h2>Summary</h2>", _counts_table(results)]
    if comparison is not None:
        body += [f"<h2>Against the baseline ({esc(info.baseline or '')}, run {esc(comparison.baseline.finished_at)})"
                 f"</h2>", _changes(comparison, tolerance)]
    body.append("<h2>Questions by category, worst first</h2>")
    for name, rs in by_category(results).items():
        c = count(rs)
        rows = "".join(_question_row(r) for r in rs)
        opened = " open" if c.right < c.questions else ""
        body.append(f"<details{opened}><summary>{esc(name or '(no category)')}: {c.right} of {c.questions} right"
                    f"</summary><table class=q><tr><th class=l>question</th><th class=l>verdict</th>"
                    f"<th class=l>answer</th><th class=l>expected</th><th>F1</th></tr>{rows}</table></details>")
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{CSS}{_KB_CSS}</style></head><body>{''.join(body)}</body></html>\n")
