"""`rag eval kb` figures: verdict counts overall and per category, the terminal table, and OUT/per_question.csv
(one row a question, worst first; opens in Excel). OUT/metrics.json: eval.kb_metrics.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from eval.kb_verdict import SEVERITY, VERDICTS, QuestionResult

CSV_COLUMNS = ["row", "id", "category", "question", "answerable", "verdict", "refused", "cites_source",
               "missing_facts", "f1", "answer", "expected", "facts", "source", "cited_sources", "reason", "seconds"]


@dataclass
class Counts:
    questions: int = 0
    right: int = 0                         # correct + refused-correctly
    verdicts: dict[str, int] = field(default_factory=lambda: {v: 0 for v in VERDICTS})
    f1_mean: float | None = None           # over answered questions with an expected answer

    @property
    def share_right(self) -> float:
        return self.right / self.questions if self.questions else 0.0


def count(results: list[QuestionResult]) -> Counts:
    c = Counts(questions=len(results))
    for r in results:
        c.verdicts[r.verdict] += 1
        c.right += r.right
    f1 = [r.f1 for r in results if r.f1 is not None]
    c.f1_mean = sum(f1) / len(f1) if f1 else None
    return c


def by_category(results: list[QuestionResult]) -> dict[str, list[QuestionResult]]:
    """Categories worst first (lowest share right, then most questions), each's questions worst first."""
    groups: dict[str, list[QuestionResult]] = {}
    for r in results:
        groups.setdefault(r.category, []).append(r)
    ordered = sorted(groups.items(), key=lambda kv: (count(kv[1]).share_right, -len(kv[1]), kv[0]))
    return {name: worst_first(rows) for name, rows in ordered}


def worst_first(results: list[QuestionResult]) -> list[QuestionResult]:
    return sorted(results, key=lambda r: (SEVERITY[r.verdict], r.f1 if r.f1 is not None else 1.0, r.row))


def table(results: list[QuestionResult]) -> str:
    """The terminal summary: one line overall, one per category (when the file has categories)."""
    head = ["", "questions", "right", *VERDICTS, "F1"]
    rows = [("all", count(results))]
    groups = by_category(results)
    if len(groups) > 1 or "" not in groups:
        rows += [(name or "(no category)", count(rs)) for name, rs in groups.items()]
    lines = [[name, str(c.questions), f"{c.right} ({c.share_right:.0%})", *(str(c.verdicts[v]) for v in VERDICTS),
              "–" if c.f1_mean is None else f"{c.f1_mean:.2f}"] for name, c in rows]
    widths = [max(_width(x) for x in col) for col in zip(head, *lines)]
    fmt = lambda cells: "  ".join(_pad(x, w, i == 0) for i, (x, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([fmt(head), *(fmt(line) for line in lines)])


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)  # CJK characters take two columns


def _pad(text: str, width: int, left: bool) -> str:
    space = " " * (width - _width(text))
    return text + space if left else space + text


def write_per_question(path: Path, results: list[QuestionResult]) -> None:
    """per_question.csv: one row a question, worst first (UTF-8 with a BOM, so that Excel shows Chinese)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for r in worst_first(results):
            w.writerow([r.row, r.key if r.key != r.question else "", r.category, r.question,
                        "yes" if r.answerable else "no", r.verdict, "yes" if r.refused else "no",
                        "" if r.cites_source is None else "yes" if r.cites_source else "no", "；".join(r.missing),
                        "" if r.f1 is None else f"{r.f1:.3f}", r.answer, r.expected, "；".join(r.facts), r.source,
                        "；".join(r.cited_sources), r.reason, f"{r.seconds:.2f}"])
