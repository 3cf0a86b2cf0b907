"""An experiment's report from its recorded answers and their votes: per arm counts, rates with 95%
Wilson intervals, latency p50/p95, and a two-proportion z-test of each arm against the first (the
control) on up-vote rate and refusal rate, with the minimum detectable effect at the current sample
size (80% power, alpha 0.05)."""
from __future__ import annotations

import html

from api.experiments.stats import mde, percentile, two_proportion_z, wilson

ALPHA, POWER = 0.05, 0.8


def _rate(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "rate": (k / n) if n else None, "ci95": [lo, hi]}


def _test(k1: int, n1: int, k2: int, n2: int) -> dict:
    z, p = two_proportion_z(k1, n1, k2, n2)
    base = k1 / n1 if n1 else 0.5
    effect = mde(base, n1, n2, ALPHA, POWER)
    diff = (k2 / n2 - k1 / n1) if n1 and n2 else None
    return {"diff": diff, "z": z, "p": p, "significant": bool(n1 and n2 and p < ALPHA), "mde": effect}


def build_report(name: str, arms: list[str], rows: list[dict]) -> dict:
    """`rows`: one per answer: {arm, refused, latency_s, fallback, dropped, cached, rating ('up'|'down'|None)}."""
    per: dict[str, dict] = {}
    for arm in arms:
        mine = [r for r in rows if r.get("arm") == arm]
        n = len(mine)
        up = sum(r.get("rating") == "up" for r in mine)
        down = sum(r.get("rating") == "down" for r in mine)
        lat = [float(r.get("latency_s") or 0) for r in mine if not r.get("cached")]
        per[arm] = {
            "answers": n,
            "votes": up + down,
            "up": up,
            "down": down,
            "up_rate": _rate(up, up + down),
            "refusal_rate": _rate(sum(bool(r.get("refused")) for r in mine), n),
            "fallback_rate": _rate(sum(bool(r.get("fallback")) for r in mine), n),
            "cache_hit_rate": _rate(sum(bool(r.get("cached")) for r in mine), n),
            "dropped_sentences": sum(int(r.get("dropped") or 0) for r in mine),
            "latency_p50_s": percentile(lat, 50),
            "latency_p95_s": percentile(lat, 95),
        }
    tests = []
    control = arms[0] if arms else None
    for arm in arms[1:]:
        a, b = per[control], per[arm]
        tests.append({"control": control, "arm": arm,
                      "up_rate": _test(a["up"], a["votes"], b["up"], b["votes"]),
                      "refusal_rate": _test(a["refusal_rate"]["k"], a["answers"], b["refusal_rate"]["k"],
                                            b["answers"])})
    return {"experiment": name, "arms": per, "tests": tests, "alpha": ALPHA, "power": POWER}


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _ci(r: dict) -> str:
    return f"{_pct(r['rate'])} [{_pct(r['ci95'][0])}, {_pct(r['ci95'][1])}] ({r['k']}/{r['n']})"


def render_text(report: dict) -> str:
    lines = [f"experiment {report['experiment']}"]
    for arm, s in report["arms"].items():
        p50 = "–" if s["latency_p50_s"] is None else f"{s['latency_p50_s'] * 1000:.0f} ms"
        p95 = "–" if s["latency_p95_s"] is None else f"{s['latency_p95_s'] * 1000:.0f} ms"
        lines.append(f"  {arm}: {s['answers']} answers, {s['votes']} votes; up {_ci(s['up_rate'])}; refused "
                     f"{_ci(s['refusal_rate'])}; fallback {_pct(s['fallback_rate']['rate'])}; cache hits "
                     f"{_pct(s['cache_hit_rate']['rate'])}; dropped sentences {s['dropped_sentences']}; "
                     f"latency p50 {p50}, p95 {p95}")
    for t in report["tests"]:
        for metric in ("up_rate", "refusal_rate"):
            r = t[metric]
            diff = "–" if r["diff"] is None else f"{100 * r['diff']:+.1f} pts"
            m = "–" if r["mde"] is None else f"{100 * r['mde']:.1f} pts"
            verdict = "SIGNIFICANT" if r["significant"] else "not significant"
            lines.append(f"  {t['arm']} vs {t['control']} {metric.replace('_', ' ')}: {diff}, z={r['z']:.2f}, "
                         f"p={r['p']:.4f} ({verdict} at alpha {report['alpha']}); minimum detectable effect "
                         f"{m} (power {report['power']:.0%})")
    return "\n".join(lines)


def render_html(report: dict) -> str:
    e = html.escape
    rows = []
    for arm, s in report["arms"].items():
        cells = [arm, str(s["answers"]), str(s["votes"]), _ci(s["up_rate"]), _ci(s["refusal_rate"]),
                 _pct(s["fallback_rate"]["rate"]), _pct(s["cache_hit_rate"]["rate"]), str(s["dropped_sentences"]),
                 "–" if s["latency_p50_s"] is None else f"{s['latency_p50_s'] * 1000:.0f} ms",
                 "–" if s["latency_p95_s"] is None else f"{s['latency_p95_s'] * 1000:.0f} ms"]
        rows.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
    tests = []
    for t in report["tests"]:
        for metric in ("up_rate", "refusal_rate"):
            r = t[metric]
            cells = [f"{t['arm']} vs {t['control']}", metric.replace("_", " "),
                     "–" if r["diff"] is None else f"{100 * r['diff']:+.1f} pts", f"{r['z']:.2f}", f"{r['p']:.4f}",
                     "yes" if r["significant"] else "no", "–" if r["mde"] is None else f"{100 * r['mde']:.1f} pts"]
            tests.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
    head = ("arm", "answers", "votes", "up-vote rate [95% CI]", "refusal rate [95% CI]", "fallbacks", "cache hits",
            "dropped sentences", "latency p50", "latency p95")
    thead = "".join(f"<th>{e(h)}</th>" for h in head)
    ttest = "".join(f"<th>{e(h)}</th>" for h in ("comparison", "metric", "difference", "z", "p", "significant",
                                                   "MDE (80% power)"))
    return (f"<!doctype html><meta charset=utf-8><title>experiment {e(report['experiment'])}</title>"
            f"<h1>Experiment {e(report['experiment'])}</h1><table border=1><tr>{thead}</tr>{''.join(rows)}</table>"
            f"<h2>Tests (two-proportion z, alpha {report['alpha']})</h2><table border=1><tr>{ttest}</tr>"
            f"{''.join(tests)}</table>")
