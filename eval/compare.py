"""`rag eval compare A B`: the regression gate between two report folders (A = baseline).

Every quality metric of every configuration in A (retrieval and answer metrics; all are "higher is
better") must be in B and may not drop by more than `tolerance` (absolute). A metric that B has and
A does not (one added since the baseline was written, e.g. answered_correctly) is listed as "new" and
never fails the gate. Latency is shown for information only: it depends on the machine and is never
gated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Row:
    config: str
    metric: str
    a: float | None
    b: float | None
    status: str        # ok | better | new (not in A: not gated) | REGRESSION | MISSING

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass
class Comparison:
    rows: list[Row]
    warnings: list[str]

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.status in ("REGRESSION", "MISSING")]


def load_metrics(folder: str | Path) -> dict:
    path = Path(folder)
    path = path / "metrics.json" if path.is_dir() else path
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: give a folder written by `rag eval report`")
    data = json.loads(path.read_text(encoding="utf-8"))
    if "configs" not in data:
        raise ValueError(f"{path} is not a report's metrics.json (no 'configs')")
    return data


def compare(a: dict, b: dict, tolerance: float = 0.005, noise_questions: float = 0.0) -> Comparison:
    """`noise_questions`: also allow a drop of that many questions' share of a metric (k / n, n = the
    questions the metric averages over). On a small set a figure moves by one question's share between
    machines whose CPUs round floating point differently (docs/evaluation.md); a regression of more
    questions than that still fails."""
    warnings = []
    for k in ("fingerprint", "split", "answerable", "unanswerable"):
        if a["dataset"].get(k) != b["dataset"].get(k):
            warnings.append(f"dataset {k} differs: {a['dataset'].get(k)} vs {b['dataset'].get(k)}")
    b_configs = {c["name"]: c for c in b["configs"]}
    rows = []
    for ca in a["configs"]:
        cb = b_configs.get(ca["name"])
        for metric, qa in ca["quality"].items():
            va = qa.get("mean")
            qb = (cb or {}).get("quality", {}).get(metric)
            vb = qb.get("mean") if qb else None
            if va is None:
                status = "ok"
            elif vb is None:
                status = "MISSING"
            elif vb < va - max(tolerance, noise_questions / max(1, int(qa.get("n") or 1))) - 1e-12:
                status = "REGRESSION"
            elif vb > va + tolerance:
                status = "better"
            else:
                status = "ok"
            rows.append(Row(ca["name"], metric, va, vb, status))
        for metric, qb in (cb or {}).get("quality", {}).items():
            if metric not in ca["quality"]:
                rows.append(Row(ca["name"], metric, None, qb.get("mean"), "new"))
    extra = sorted(set(b_configs) - {c["name"] for c in a["configs"]})
    if extra:
        warnings.append(f"configurations only in B (not gated): {', '.join(extra)}")
    return Comparison(rows, warnings)


def format_comparison(cmp: Comparison, tolerance: float) -> str:
    lines = [f"{'configuration':<18} {'metric':<22} {'A':>8} {'B':>8} {'delta':>8}  status"]
    for r in cmp.rows:
        f = lambda x: "–" if x is None else f"{x:.4f}"  # noqa: E731
        d = "–" if r.delta is None else f"{r.delta:+.4f}"
        lines.append(f"{r.config:<18} {r.metric:<22} {f(r.a):>8} {f(r.b):>8} {d:>8}  {r.status}")
    lines += [f"warning: {w}" for w in cmp.warnings]
    n = len(cmp.regressions)
    new = sum(r.status == "new" for r in cmp.rows)
    extra = f"; {new} new figure{'s' if new != 1 else ''} not in A, not gated" if new else ""
    lines.append(f"{n} regression{'s' if n != 1 else ''} beyond tolerance {tolerance}{extra}" if n else
                 f"no regression beyond tolerance {tolerance} ({len(cmp.rows) - new} figures compared{extra})")
    return "\n".join(lines)


def latency_summary(a: dict, b: dict) -> list[str]:
    """Informational p50 lines (never gated)."""
    b_configs = {c["name"]: c for c in b["configs"]}
    out = []
    for ca in a["configs"]:
        cb = b_configs.get(ca["name"])
        if not cb:
            continue
        for stage in ("retrieve_ms", "ttft_ms", "answer_total_ms"):
            la, lb = ca["latency"].get(stage), cb["latency"].get(stage)
            if la and lb and la.get("p50") and lb.get("p50"):
                out.append(f"  {ca['name']:<18} {stage:<16} p50 {la['p50']:.1f} -> {lb['p50']:.1f} ms")
    return out
