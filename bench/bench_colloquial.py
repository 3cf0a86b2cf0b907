"""Colloquial questions over three KBs: the bundled bank sample (`make demo`'s KB) and the school's and the
hospital's documents (data/eval/domains/), asked as customers, parents and patients type them: misspelt,
abbreviated, without a question mark, as follow-ups to an earlier question ("and at a branch?").

    python bench/bench_colloquial.py [--home /tmp/colloquial-home] [--json colloquial] [--compare OTHER.json]

data/eval/colloquial/questions.jsonl: per question its KB, language, the questions asked before it in the same
conversation (`history`), what a right answer says (`expect`), the facts any one of which a right answer holds
(`facts`: "$12", "555-0199", "15:00") and whether the documents answer it at all (`answerable`). Reported per
KB and language:
  facts named   answerable questions with a fact list whose answer holds one of the facts
  refused       answerable questions refused
  unans. refused questions the documents do not answer that get the refusal

Each KB is indexed as `rag index` leaves it (the refusal threshold calibrated automatically). `--compare`
lists the questions whose answer differs from another run's JSON, with the fact check before and after.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import write_json  # noqa: E402

QUESTIONS = REPO / "data" / "eval" / "colloquial" / "questions.jsonl"
DOCS = {"demo": REPO / "data" / "sample", "school": REPO / "data" / "eval" / "domains" / "school" / "docs",
        "hospital": REPO / "data" / "eval" / "domains" / "hospital" / "docs"}


def holds_fact(answer: str, facts: list[str]) -> bool:
    """Does the answer hold one of the facts, a number as a whole number ("2元" is not held by "每笔12元",
    "$3" not by "$30"), an amount also as a table row's cell under a header naming its currency
    (`_under_currency`)?"""
    return any(re.search(_whole(f), answer, re.IGNORECASE) or _under_currency(f, answer) for f in facts)


# an amount as a fact writes it: its currency before the number ("$30", "CAD 40", "¥5") or after it ("200元")
_AMOUNT = re.compile(r"(?:(?P<before>[A-Z]{3}|[A-Z]{0,2}\$|[€£¥])\s*(?P<n1>\d[\d,.]*)|(?P<n2>\d[\d,.]*)\s*(?P<after>元))")


def _under_currency(fact: str, answer: str) -> bool:
    """Is the amount `fact` ("200元") in the answer as a row quote writes a cell under a header naming the
    currency ("收费标准(元)：200", "Price (CAD): 40"; the header read as rag.answering.verify.HEADER_CURRENCY
    reads it)?"""
    from rag.answering.verify import HEADER_CURRENCY

    if not (m := _AMOUNT.fullmatch(fact.strip())):
        return False
    currency, number = m.group("before") or m.group("after"), m.group("n1") or m.group("n2")
    cell = re.compile(r"\s*[:：]\s*" + _whole(number))
    return any(h.group(1) == currency and cell.match(answer, h.end()) for h in HEADER_CURRENCY.finditer(answer))


def _whole(fact: str) -> str:
    """`fact` as a pattern that a digit (or a decimal point or thousands separator followed by one) does not
    continue on either side where the fact starts or ends with a digit; zero decimals are the same number
    ("$60" is held by "$60.00")."""
    before = r"(?<![\d.,])" if fact[:1].isdigit() else ""
    after = r"(?!\d|,\d|\.(?!0+\b)\d)" if fact[-1:].isdigit() else ""
    return before + re.escape(fact) + after


def run(home: Path) -> list[dict]:
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager
    from rag.adapt.tune_refusal import index_calibrated
    from rag.config import Settings
    from rag.pipeline import build_pipeline

    settings = Settings.load(indexer={"home": home})
    manager = KBManager(IndexerSettings(home=home))
    questions = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    pipes = {}
    rows = []
    for i, q in enumerate(questions, 1):
        kb = q["kb"]
        if kb not in pipes:
            index_calibrated(settings, kb, manager, [str(DOCS[kb])])
            pipes[kb] = build_pipeline(settings, kb, manager, reranker=None)
            pipes[kb].warm_up()
        pipe, history = pipes[kb], []
        for before in q["history"]:
            earlier = pipe.ask(before, history=history or None)
            history += [{"role": "user", "content": before}, {"role": "assistant", "content": earlier.answer}]
        ans = pipe.ask(q["question"], history=history or None)
        rows.append({**q, "answer": ans.answer, "refused": ans.refused, "reason": ans.fallback_reason,
                     "cited": sorted({Path(c.source).name for c in ans.citations}),
                     "fact_named": holds_fact(ans.answer, q["facts"]) if q["facts"] else None})
        print(f"\r{i}/{len(questions)} questions", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["kb"], r["lang"])].append(r)
    out = []
    for (kb, lang), rs in sorted(groups.items()):
        named = [r for r in rs if r["answerable"] and r["facts"]]
        unans = [r for r in rs if not r["answerable"]]
        out.append({"kb": kb, "lang": lang, "questions": len(rs),
                    "facts_named": sum(r["fact_named"] for r in named), "with_facts": len(named),
                    "refused_answerable": sum(r["refused"] for r in rs if r["answerable"]),
                    "unanswerable_refused": sum(r["refused"] for r in unans), "unanswerable": len(unans)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", default="/tmp/colloquial-home")
    ap.add_argument("--json", default=None, help="write the rows and the summary to bench/out/NAME.json")
    ap.add_argument("--compare", default=None, help="another run's JSON: list the answers that differ")
    a = ap.parse_args()
    rows = run(Path(a.home))
    table = summary(rows)
    print(f"{'kb':9}{'lang':5}{'n':>4}{'facts named':>14}{'refused (ans.)':>16}{'unans. refused':>16}")
    for s in table:
        print(f"{s['kb']:9}{s['lang']:5}{s['questions']:>4}{s['facts_named']:>9} of {s['with_facts']:<3}"
              f"{s['refused_answerable']:>16}{s['unanswerable_refused']:>10} of {s['unanswerable']}")
    total = sum(s["facts_named"] for s in table), sum(s["with_facts"] for s in table)
    print(f"facts named: {total[0]} of {total[1]}")
    if a.json:
        write_json(a.json, {"rows": rows, "summary": table})
    if a.compare:
        before = {(r["kb"], r["question"], tuple(r["history"])): r
                  for r in json.loads(Path(a.compare).read_text(encoding="utf-8"))["rows"]}
        changed = 0
        for r in rows:
            b = before.get((r["kb"], r["question"], tuple(r["history"])))
            if b is not None and b["answer"] != r["answer"]:
                changed += 1
                print(f"[{r['kb']}] {r['question']}  fact {b['fact_named']} -> {r['fact_named']}\n"
                      f"   - {b['answer'][:200]}\n   + {r['answer'][:200]}")
        print(f"{changed} of {len(rows)} answers differ from {a.compare}")


if __name__ == "__main__":
    main()
