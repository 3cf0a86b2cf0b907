"""Two KBs measured on the same labelled questions (`rag eval retrieval --kb BASE,OTHER`): the change in
nDCG@10 and recall@1 with a paired test, and how many questions moved which way.

On a few dozen questions one question moves nDCG@10 by up to ~0.03, so a change is reported with its
bootstrap interval, its paired sign-flip p-value (eval.stats.paired_by_id) and the questions behind it:
how many ranked their answer higher and lower, and how many gained or lost the answer at rank 1.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from eval.stats import paired_by_id

METRICS = ("ndcg@10", "recall@1")


@dataclass(frozen=True)
class MetricChange:
    metric: str
    base: float
    other: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class RunComparison:
    base_kb: str
    other_kb: str
    mode: str
    questions: int
    changes: list[MetricChange]
    better: int           # questions whose nDCG@10 rose
    worse: int            # ... fell
    gained_at_1: int      # answer at rank 1 with OTHER only
    lost_at_1: int        # ... with BASE only

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        parts = [f"{c.metric} {c.diff:+.4f} (95% CI {c.ci_low:+.4f} .. {c.ci_high:+.4f}, p {c.p_value:.2f})"
                 for c in self.changes]
        return (f"{self.other_kb} against {self.base_kb}, {self.mode}, {self.questions} questions: "
                f"{'; '.join(parts)}; {self.better} ranked their answer higher, {self.worse} lower; "
                f"rank 1: {self.gained_at_1} gained, {self.lost_at_1} lost")


def compare_runs(base: dict, other: dict, base_kb: str, other_kb: str) -> RunComparison:
    """`base` and `other`: eval.retrieval.evaluate results of one mode, with their per_query rows."""
    a = {r["query_id"]: r for r in base["per_query"]}
    b = {r["query_id"]: r for r in other["per_query"]}
    ids = [q for q in a if q in b]
    if not ids:
        raise ValueError(f"{base_kb} and {other_kb} were measured on different questions: nothing to compare")
    changes = []
    for m in METRICS:
        xs, ys = {q: a[q][m] for q in ids}, {q: b[q][m] for q in ids}
        t = paired_by_id(xs, ys)
        changes.append(MetricChange(m, sum(xs.values()) / len(ids), sum(ys.values()) / len(ids), t.diff, t.low,
                                    t.high, t.p_value))
    nd = [(a[q]["ndcg@10"], b[q]["ndcg@10"]) for q in ids]
    r1 = [(a[q]["recall@1"], b[q]["recall@1"]) for q in ids]
    return RunComparison(base_kb=base_kb, other_kb=other_kb, mode=base["mode"], questions=len(ids),
                         changes=changes, better=sum(y > x for x, y in nd), worse=sum(y < x for x, y in nd),
                         gained_at_1=sum(y > x for x, y in r1), lost_at_1=sum(y < x for x, y in r1))
