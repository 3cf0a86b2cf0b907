"""report.html: one self-contained page (inline CSS and SVG, no scripts, no network).

Sections: summary table, metric bars with 95% intervals, latency distributions, per-stage time
breakdown, paired tests against the reference, and the worst questions with what was retrieved
and answered.
"""
from __future__ import annotations

import html
import math

from eval.evalset import EvalSet
from eval.runner import ConfigRun
from eval.stats import percentiles

COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f"]
STAGE_COLORS = {"retrieve": "#4e79a7", "rerank": "#f28e2b", "first token": "#59a14f", "decode": "#e15759"}
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC",sans-serif;margin:24px auto;
max-width:1140px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;font-size:12.5px}table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}th{background:#f5f5f5}
td.l,th.l{text-align:left}.ci{color:#888;font-size:11px}.best{font-weight:700}.up{color:#2a7d2a}.down{color:#c0392b}
.grid{display:flex;flex-wrap:wrap;gap:10px}.grid svg{border:1px solid #eee;background:#fff}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}.q td{font-size:12.5px}
.q td:nth-child(1){width:24%}.q td:nth-child(2){width:30%}
.ok{color:#2a7d2a}.no{color:#c0392b}.small{font-size:11.5px;color:#555}
"""


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def fmt(x, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def color(i: int) -> str:
    return COLORS[i % len(COLORS)]


# ---------------------------------------------------------------------------- summary
def summary_table(metrics: dict) -> str:
    """One row per metric, one column per configuration (configurations are few, metrics many)."""
    configs = metrics["configs"]
    names = list(dict.fromkeys(m for c in configs for m in c["quality"]))
    sig = {(s["b"], s["metric"]): s for s in metrics["significance"]}
    head = "".join(f'<th><span class=sw style="background:{color(i)}"></span>{esc(c["name"])}'
                   f'{" (reference)" if c["name"] == metrics["reference"] else ""}<br>'
                   f'<span class=small>{esc(_overrides(c))}{_threshold(c)}</span></th>' for i, c in enumerate(configs))
    rows = []
    for m in names:
        means = [c["quality"][m]["mean"] for c in configs if m in c["quality"] and c["quality"][m]["mean"] is not None]
        best = max(means) if len(means) > 1 else None
        cells = []
        for c in configs:
            q = c["quality"].get(m)
            if not q or q["mean"] is None:
                cells.append("<td>–</td>")
                continue
            s = sig.get((c["name"], m))
            mark = ""
            if s and s["p_value"] is not None and s["p_value"] < 0.05 and s["diff"]:
                mark = f' <span class="{"up" if s["diff"] > 0 else "down"}">{"▲" if s["diff"] > 0 else "▼"}</span>'
            cls = ' class="best"' if best is not None and abs(q["mean"] - best) < 1e-12 else ""
            cells.append(f"<td><span{cls}>{fmt(q['mean'])}</span>{mark} <span class=ci>"
                         f"[{fmt(q['ci_low'])}, {fmt(q['ci_high'])}] n={q['n']}</span></td>")
        rows.append(f"<tr><td class=l>{esc(m)}</td>{''.join(cells)}</tr>")
    return (f"<table><tr><th class=l>metric</th>{head}</tr>{''.join(rows)}</table>"
            f"<p class=small>mean, 95% bootstrap interval and number of questions; ▲/▼ differs from the "
            f"reference with p &lt; 0.05 (paired sign-flip test); bold = best.</p>"
            + ("<p class=small>answered_correctly: share of answerable questions answered (not refused) with "
               "a citation of a relevant document and no sentence dropped by the citation check (a number, "
               "time, date, amount, negation or name the cited passage does not back, or too few shared "
               "words).</p>" if "answered_correctly" in names else ""))


def _threshold(c: dict) -> str:
    t, by_language = c.get("refusal_threshold"), c.get("refusal_threshold_by_language") or {}
    if not c.get("answers") or t is None:
        return ""
    each = ", ".join(f"{lang} {v:.3f}" for lang, v in sorted(by_language.items()))
    return f"<br>refusal threshold {each or f'{t:.3f}'}"


def _overrides(c: dict) -> str:
    parts = [f"{s}.{k}={v}" for s, d in c["overrides"].items() for k, v in d.items()]
    return ", ".join(parts) or "settings as configured"


# ---------------------------------------------------------------------------- metric bars
def metric_bars(metrics: dict) -> str:
    configs = metrics["configs"]
    names = list(dict.fromkeys(m for c in configs for m in c["quality"]))
    charts = []
    for m in names:
        rows = [(i, c["name"], c["quality"][m]) for i, c in enumerate(configs) if m in c["quality"]
                and c["quality"][m]["mean"] is not None]
        w, label_w, bar_h = 270, 92, 16
        h = 26 + bar_h * len(rows) + 6 * len(rows)
        scale = w - label_w - 44
        parts = [f'<svg width="{w}" height="{h}" role="img" aria-label="{esc(m)}">',
                 f'<text x="6" y="15" font-size="12" font-weight="600">{esc(m)}</text>']
        for j, (i, name, q) in enumerate(rows):
            y = 24 + j * (bar_h + 6)
            x0 = label_w
            bw = max(0.0, min(1.0, q["mean"])) * scale
            lo, hi = (x0 + max(0.0, min(1.0, v)) * scale for v in (q["ci_low"], q["ci_high"]))
            parts += [f'<text x="{label_w - 4}" y="{y + 12}" font-size="11" text-anchor="end">{esc(name[:14])}</text>',
                      f'<rect x="{x0}" y="{y}" width="{bw:.1f}" height="{bar_h}" fill="{color(i)}" opacity="0.85"/>',
                      f'<line x1="{lo:.1f}" x2="{hi:.1f}" y1="{y + bar_h / 2}" y2="{y + bar_h / 2}" stroke="#222"/>',
                      f'<line x1="{lo:.1f}" x2="{lo:.1f}" y1="{y + 3}" y2="{y + bar_h - 3}" stroke="#222"/>',
                      f'<line x1="{hi:.1f}" x2="{hi:.1f}" y1="{y + 3}" y2="{y + bar_h - 3}" stroke="#222"/>',
                      f'<text x="{x0 + scale + 4}" y="{y + 12}" font-size="11">{fmt(q["mean"])}</text>']
        parts.append(f'<line x1="{label_w}" x2="{label_w}" y1="20" y2="{h - 2}" stroke="#999"/></svg>')
        charts.append("".join(parts))
    return (f'<div class=grid>{"".join(charts)}</div>'
            '<p class=small>bars: mean (0 to 1); whiskers: 95% bootstrap interval.</p>')


# ---------------------------------------------------------------------------- latency
def latency_plot(runs: list[ConfigRun], title: str, series, colors: dict[str, int] | None = None) -> str:
    """Box (p25-p75, median) with p5-p95 whiskers and every query as a dot, log-scaled ms axis.
    `colors`: configuration name -> color index (default: the position in `runs`)."""
    colors = colors or {r.config.name: i for i, r in enumerate(runs)}
    data = [(colors[r.config.name], r.config.name, [v * 1000 for v in series(r) if v]) for r in runs]
    data = [d for d in data if d[2]]
    if not data:
        return ""
    lo = min(min(v) for _, _, v in data)
    hi = max(max(v) for _, _, v in data)
    lo, hi = 10 ** math.floor(math.log10(max(lo, 1e-3))), 10 ** math.ceil(math.log10(max(hi, 1e-3)))
    hi = hi * 10 if hi <= lo else hi
    w, left, right, row_h = 1080, 120, 190, 30
    h = 40 + row_h * len(data) + 24
    span = math.log10(hi) - math.log10(lo)
    x = lambda v: left + (math.log10(v) - math.log10(lo)) / span * (w - left - right)  # noqa: E731
    parts = [f'<svg width="{w}" height="{h}" role="img" aria-label="{esc(title)}">',
             f'<text x="6" y="16" font-size="12" font-weight="600">{esc(title)}</text>']
    decade = lo
    while decade <= hi * 1.0001:
        xx = x(decade)
        parts += [f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="26" y2="{h - 20}" stroke="#eee"/>',
                  f'<text x="{xx:.1f}" y="{h - 6}" font-size="10" text-anchor="middle">{_ms_label(decade)}</text>']
        decade *= 10
    for j, (i, name, vals) in enumerate(data):
        y = 34 + j * row_h
        p = percentiles(vals, (5, 25, 50, 75, 95))
        parts += [f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{esc(name[:18])}</text>',
                  f'<line x1="{x(p["p5"]):.1f}" x2="{x(p["p95"]):.1f}" y1="{y + 9}" y2="{y + 9}" stroke="#555"/>',
                  f'<rect x="{x(p["p25"]):.1f}" y="{y + 2}" width="{max(1.0, x(p["p75"]) - x(p["p25"])):.1f}" '
                  f'height="14" fill="{color(i)}" opacity="0.35" stroke="{color(i)}"/>',
                  f'<line x1="{x(p["p50"]):.1f}" x2="{x(p["p50"]):.1f}" y1="{y}" y2="{y + 18}" stroke="#000" '
                  f'stroke-width="2"/>']
        for k, v in enumerate(vals):
            jitter = ((k * 7919) % 11 - 5) * 0.9
            parts.append(f'<circle cx="{x(v):.1f}" cy="{y + 9 + jitter:.1f}" r="2.2" fill="{color(i)}" opacity="0.7"/>')
        parts.append(f'<text x="{w - 6}" y="{y + 13}" font-size="10" text-anchor="end">'
                     f'p50 {_ms_label(p["p50"])} · p95 {_ms_label(p["p95"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _ms_label(v: float) -> str:
    return f"{v / 1000:.3g} s" if v >= 1000 else f"{v:.3g} ms"


def stage_breakdown(runs: list[ConfigRun]) -> str:
    """Mean time per stage per configuration, stacked (answers when generated, else retrieval)."""
    rows = []
    for i, r in enumerate(runs):
        if r.answers:
            gen = [a for a in r.answers if a.get("generate_s")]
            mean = lambda k, rows=gen: sum(a.get(k) or 0 for a in rows) / max(1, len(rows))  # noqa: E731
            first = mean("ttft_s") - mean("retrieve_s") - mean("rerank_s")
            stages = {"retrieve": mean("retrieve_s"), "rerank": mean("rerank_s"), "first token": max(0.0, first),
                      "decode": max(0.0, mean("total_s") - mean("ttft_s"))}
        else:
            n = max(1, len(r.retrieval))
            stages = {"retrieve": sum(x["retrieve_s"] for x in r.retrieval) / n,
                      "rerank": sum(x.get("rerank_s") or 0 for x in r.retrieval) / n}
        rows.append((r.config.name, stages))
    total_max = max(sum(s.values()) for _, s in rows) or 1.0
    w, left, row_h = 1080, 120, 26
    h = 30 + row_h * len(rows) + 26
    scale = (w - left - 150) / total_max
    parts = [f'<svg width="{w}" height="{h}" role="img" aria-label="time per stage">']
    for j, (name, stages) in enumerate(rows):
        y, x0 = 10 + j * row_h, float(left)
        parts.append(f'<text x="{left - 6}" y="{y + 13}" font-size="11" text-anchor="end">{esc(name[:18])}</text>')
        for stage, secs in stages.items():
            bw = secs * scale
            parts.append(f'<rect x="{x0:.1f}" y="{y}" width="{bw:.1f}" height="18" fill="{STAGE_COLORS[stage]}">'
                         f'<title>{esc(stage)}: {_ms_label(secs * 1000)}</title></rect>')
            x0 += bw
        parts.append(f'<text x="{x0 + 6:.1f}" y="{y + 13}" font-size="10">{_ms_label(sum(stages.values()) * 1000)}'
                     f'</text>')
    ly = h - 14
    for k, (stage, c) in enumerate(STAGE_COLORS.items()):
        parts.append(f'<rect x="{left + k * 110}" y="{ly - 9}" width="10" height="10" fill="{c}"/>'
                     f'<text x="{left + k * 110 + 14}" y="{ly}" font-size="11">{stage}</text>')
    parts.append("</svg>")
    return "".join(parts) + ('<p class=small>mean seconds per question; configurations that generate answers show '
                             'the answer path (first token = prompt + prefill), the others retrieval only.</p>')


# ---------------------------------------------------------------------------- tables
def latency_table(metrics: dict) -> str:
    cols = ["retrieve_ms", "rerank_ms", "ttft_ms", "generate_ms", "answer_total_ms"]
    head = "".join(f"<th>{c} p50 / p95</th>" for c in cols) + "<th>tokens/s</th>"
    rows = []
    for c in metrics["configs"]:
        lat = c["latency"]
        cells = "".join(f"<td>{fmt(lat[k]['p50'], 1)} / {fmt(lat[k]['p95'], 1)}</td>" if k in lat else "<td>–</td>"
                        for k in cols)
        tps = lat.get("tokens_per_s", {}).get("generation")
        rows.append(f"<tr><td class=l>{esc(c['name'])}</td>{cells}<td>{fmt(tps, 1)}</td></tr>")
    return f"<table><tr><th class=l>configuration</th>{head}</tr>{''.join(rows)}</table>"


def significance_table(metrics: dict) -> str:
    rows = [f"<tr><td class=l>{esc(s['b'])} − {esc(s['a'])}</td><td class=l>{esc(s['metric'])}</td>"
            f"<td class=\"{'up' if (s['diff'] or 0) > 0 else 'down' if (s['diff'] or 0) < 0 else ''}\">"
            f"{s['diff']:+.3f}</td><td>[{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]</td><td>{fmt(s['p_value'], 4)}"
            f"{' *' if s['p_value'] is not None and s['p_value'] < 0.05 else ''}</td><td>{s['n']}</td></tr>"
            for s in metrics["significance"]]
    if not rows:
        return "<p>Only one configuration: nothing to test.</p>"
    return ("<details><summary>paired tests against the reference</summary><table><tr><th class=l>pair</th>"
            "<th class=l>metric</th><th>Δ mean</th><th>95% interval</th><th>p</th><th>n</th></tr>"
            f"{''.join(rows)}</table></details>")


def worst_questions(es: EvalSet, runs: list[ConfigRun], reference: str, n: int) -> str:
    questions = {q.qid: q for q in es.questions}
    out = []
    for r in runs:
        ans = {a["qid"]: a for a in r.answers or []}
        ret = {x["qid"]: x for x in r.retrieval}
        order = sorted(ret.values(), key=lambda x: (x["ndcg@10"], (ans.get(x["qid"]) or {}).get("f1") or 0, x["qid"]))
        weak = [x for x in order if x["ndcg@10"] < 1 or (ans.get(x["qid"]) or {}).get("f1", 1) is None
                or (ans.get(x["qid"]) or {}).get("f1", 1) < 0.5 or (ans.get(x["qid"]) or {}).get("refused")
                or (ans.get(x["qid"]) or {}).get("answered_correctly", 1) == 0]
        rows = [_question_row(questions[x["qid"]], x, ans.get(x["qid"]), es) for x in weak[:n]]
        bad_refusals = [a for a in ans.values() if not a["answerable"] and not a["refused"]]
        rows += [_question_row(questions[a["qid"]], None, a, es) for a in bad_refusals[:max(2, n // 3)]]
        open_ = " open" if r.config.name == reference else ""
        if not rows:
            out.append(f"<details><summary>{esc(r.config.name)}: no weak questions (nDCG@10 = 1 and, where "
                       f"answered, F1 >= 0.5 for every question)</summary></details>")
            continue
        out.append(f"<details{open_}><summary>{esc(r.config.name)}: worst {len(rows)} questions</summary>"
                   "<table class=q><tr><th class=l>question</th><th class=l>retrieved (✓ relevant)</th>"
                   "<th class=l>answer</th><th>nDCG@10</th><th>F1</th></tr>" + "".join(rows) + "</table></details>")
    return "".join(out)


def _question_row(q, ret: dict | None, ans: dict | None, es: EvalSet) -> str:
    retrieved = "<br>".join(
        f'<span class="{"ok" if d in q.qrels else "no"}">{"✓" if d in q.qrels else "✗"}</span> '
        f'{esc(d)} <span class=small>{esc(es.ds.corpus.get(d, ("", ""))[0][:60])}</span>'
        for d in (ret or {}).get("ranked", [])[:5]) or "–"
    gold = "".join(f"<br><span class=small>relevant: {esc(d)}</span>" for d in q.qrels if d not in
                   (ret or {}).get("ranked", [])[:5])
    if ans:
        status = "refused" if ans["refused"] else f"cited: {', '.join(ans['cited']) or 'nothing'}"
        kind = "" if q.answerable else ' <b class="no">unanswerable</b>' if not ans["refused"] else " (unanswerable)"
        if ans.get("answered_correctly") is not None:
            status += "; answered correctly" if ans["answered_correctly"] else "; not answered correctly"
        dropped = "".join(f'<br><span class="small no">dropped: “{esc(d["sentence"][:160])}” — {esc(d["reason"])}'
                          f"</span>" for d in ans.get("dropped") or [])
        answer = (f"{esc(ans['answer'][:400])}<br><span class=small>{esc(status)}{kind}</span>{dropped}"
                  + (f"<br><span class=small>gold: {esc(q.gold[:300])}</span>" if q.gold else ""))
    else:
        answer = "<span class=small>not generated for this configuration</span>"
    ndcg = fmt(ret["ndcg@10"]) if ret else "–"
    f1 = fmt(ans.get("f1")) if ans else "–"
    return (f"<tr><td class=l>{esc(q.text)}<br><span class=small>{esc(q.qid)}</span>{gold}</td>"
            f"<td class=l>{retrieved}</td><td class=l>{answer}</td><td>{ndcg}</td><td>{f1}</td></tr>")


# ---------------------------------------------------------------------------- page
def render(metrics: dict, es: EvalSet, runs: list[ConfigRun], worst: int = 8) -> str:
    d, v = metrics["dataset"], metrics["versions"]
    pkgs = ", ".join(f"{k} {x}" for k, x in v["packages"].items())
    meta = (f"{esc(d['path'])} · split {esc(d['split'])} · {d['corpus']} documents · {d['answerable']} answerable "
            f"questions ({d['gold_answers']} with gold answers) · {d['unanswerable']} unanswerable "
            f"({esc(d['unanswerable_source'])}) · inputs {esc(d['fingerprint'])}")
    ver = (f"code {esc(v['git_commit'] or 'unknown commit')} (source hash {esc(v['code_hash'])}) · Python "
           f"{esc(v['python'])} · {esc(pkgs)}<br>models: {esc('; '.join(v['models']))}")
    answered = [r for r in runs if r.answers]
    colors = {r.config.name: i for i, r in enumerate(runs)}
    body = [f"<h1>Evaluation report: {esc(d['name'])}</h1><div class=meta>{meta}<br>{ver}</div>",
            "<h2>Summary</h2>", summary_table(metrics), significance_table(metrics),
            "<h2>Metrics with 95% intervals</h2>", metric_bars(metrics),
            "<h2>Latency</h2>", latency_table(metrics),
            latency_plot(runs, "retrieval latency per question (retrieve + rerank)",
                         lambda r: [x["retrieve_s"] + (x.get("rerank_s") or 0) for x in r.retrieval])]
    if answered:
        body.append(latency_plot(answered, "answer latency per question (question to last token)",
                                 lambda r: [a.get("total_s") for a in r.answers], colors))
        body.append(latency_plot(answered, "time to first token (generated answers)",
                                 lambda r: [a.get("ttft_s") for a in r.answers if a.get("generate_s")], colors))
    body += ["<h2>Time per stage</h2>", stage_breakdown(runs),
             "<h2>Worst questions</h2>", worst_questions(es, runs, metrics["reference"], worst)]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Evaluation report: '
            f'{esc(d["name"])}</title><style>{CSS}</style></head><body>{"".join(body)}</body></html>\n')
