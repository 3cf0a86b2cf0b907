"""The question set of a report: a BEIR split (answerable questions with qrels), gold answers,
and unanswerable questions.

Unanswerable questions are the ids listed in the folder's `unanswerable.txt` (queries.jsonl holds
their text; they have no qrels). A folder without that file gets generated ones: off-topic
questions in the dataset's language (rag.adapt.tune_refusal.OFF_TOPIC), about one for every five
answerable questions, so refusal is always measured.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from eval.beir import BeirDataset, load_beir, read_jsonl
from indexer.script import CJK_CHAR


@dataclass
class Question:
    qid: str
    text: str
    answerable: bool
    gold: str | None = None                          # gold answer text, when known
    qrels: dict[str, float] = field(default_factory=dict)


@dataclass
class EvalSet:
    ds: BeirDataset
    split: str
    questions: list[Question]
    unanswerable_source: str                         # "unanswerable.txt" | "generated: off-topic" | "none"
    answers_file: str | None
    fingerprint: str                                 # sha256 of the input files (12 hex digits)

    @property
    def answerable(self) -> list[Question]:
        return [q for q in self.questions if q.answerable]

    @property
    def unanswerable(self) -> list[Question]:
        return [q for q in self.questions if not q.answerable]


def _is_chinese(texts) -> bool:
    chars = "".join(texts)
    cjk = sum(bool(CJK_CHAR.match(c)) for c in chars)
    return cjk > 0.2 * max(1, len(chars.replace(" ", "")))


def generated_unanswerable(queries: list[str], n: int) -> list[Question]:
    from rag.adapt.tune_refusal import OFF_TOPIC

    zh = _is_chinese(queries)
    pool = [q for q in OFF_TOPIC if _is_chinese([q]) == zh]
    return [Question(f"offtopic-{i + 1:02d}", q, False) for i, q in enumerate(pool[:n])]


def load_evalset(root: str | Path, split: str = "test", answers: str | Path | None = None,
                 limit: int | None = None) -> EvalSet:
    """`answers`: a JSONL file of {"_id", "answer"}; default: the folder's answers.jsonl if present.
    `limit`: keep only the first N answerable (and N unanswerable) questions, for quick runs."""
    root = Path(root)
    ds = load_beir(root, split)
    answers_path = Path(answers) if answers else root / "answers.jsonl"
    if answers and not answers_path.exists():
        raise FileNotFoundError(f"answers file {answers_path} does not exist")
    gold = {str(r["_id"]): str(r["answer"]) for r in read_jsonl(answers_path)} if answers_path.exists() else {}
    questions = [Question(qid, text, True, gold.get(qid), ds.qrels[qid]) for qid, text in ds.queries.items()]
    questions = questions[:limit] if limit else questions
    unans_file = root / "unanswerable.txt"
    inputs = [root / "corpus.jsonl", root / "queries.jsonl", root / f"qrels/{split}.tsv"]
    if unans_file.exists():
        ids = [line.strip() for line in unans_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        texts = {str(q["_id"]): q["text"] for q in read_jsonl(root / "queries.jsonl")}
        missing = [i for i in ids if i not in texts]
        if missing:
            raise ValueError(f"{unans_file}: {len(missing)} ids are not in queries.jsonl (first: {missing[0]})")
        extra = [Question(i, texts[i], False, gold.get(i)) for i in ids if i not in ds.qrels]
        source = "unanswerable.txt"
        inputs.append(unans_file)
    else:
        extra = generated_unanswerable([q.text for q in questions], max(1, len(questions) // 5))
        source = "generated: off-topic" if extra else "none"
    extra = extra[:limit] if limit else extra
    if answers_path.exists():
        inputs.append(answers_path)
    h = hashlib.sha256()
    for p in inputs:
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    h.update(f"{split}|{limit}".encode())
    return EvalSet(ds, split, questions + extra, source, str(answers_path) if answers_path.exists() else None,
                   h.hexdigest()[:12])
