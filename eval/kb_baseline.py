"""`rag eval kb --baseline DIR`: which questions changed verdict since an earlier run, and the regression gate.

Questions are matched by their key (the id column, else the question's text). A change is better when the
verdict went from a wrong outcome to a right one (correct, refused-correctly), worse the other way, and
otherwise a change between two wrong outcomes ("wrong" -> "refused-answerable"). The gate counts the right
outcomes among the questions both runs asked, so questions added to or removed from the file move nothing:
it fails when that count drops by more than `tolerance` questions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from eval.kb_metrics import KBRun, RunInfo
from eval.kb_verdict import SEVERITY


@dataclass
class Change:
    key: str
    question: str
    category: str
    before: str
    after: str
    direction: str  # "better", "worse", "changed"


@dataclass
class Comparison:
    baseline: RunInfo  # the run compared with
    common: int
    right_before: int
    right_after: int
    changes: list[Change] = field(default_factory=list)
    added: list[str] = field(default_factory=list)     # questions only in this run
    removed: list[str] = field(default_factory=list)   # questions only in the baseline

    @property
    def drop(self) -> int:
        return self.right_before - self.right_after

    def failed(self, tolerance: int) -> bool:
        return self.drop > tolerance

    def lines(self) -> list[str]:
        out = [f"against the baseline: {self.right_after} of {self.common} questions right, was "
               f"{self.right_before} ({'+' if self.drop <= 0 else '-'}{abs(self.drop)})"]
        for direction in ("worse", "better", "changed"):
            for c in (c for c in self.changes if c.direction == direction):
                named = f" (id {c.key})" if c.key != c.question else ""
                out.append(f"  {direction:>7}: {c.before} -> {c.after}: {c.question}{named}")
        if self.added:
            out.append(f"  {len(self.added)} question(s) not in the baseline (not compared)")
        if self.removed:
            out.append(f"  {len(self.removed)} question(s) of the baseline not asked this time (not compared)")
        return out


def compare(baseline: KBRun, current: KBRun) -> Comparison:
    before = {r.key: r for r in baseline.results}
    now = {r.key: r for r in current.results}
    common = [k for k in now if k in before]
    cmp = Comparison(baseline.info, len(common), sum(before[k].right for k in common), sum(now[k].right for k in common),
                     added=[now[k].question for k in now if k not in before],
                     removed=[before[k].question for k in before if k not in now])
    for k in common:
        a, b = before[k], now[k]
        if a.verdict == b.verdict:
            continue
        direction = "better" if b.right and not a.right else "worse" if a.right and not b.right else "changed"
        cmp.changes.append(Change(k, b.question, b.category, a.verdict, b.verdict, direction))
    order = {"worse": 0, "better": 1, "changed": 2}
    cmp.changes.sort(key=lambda c: (order[c.direction], SEVERITY[c.after], c.question))
    return cmp
