"""Question/answer/context training records: the typed record, reading and writing files.

Accepted inputs (`read_records`):
  * JSONL, one object a line: {"question": ..., "answer": ..., "context": "..." or ["...", ...]};
  * the seed's field list: a first line {"fields": ["question", "answer", "context"]} (any order),
    then records as JSON lists in that order;
  * a .json file holding {"fields": [...], "records": [[...], ...]} or a list of objects;
  * a .yaml / .yml file with the same shapes as the .json one.
`context` is one passage or a list of passages; the answer cites them as [1], [2], ... in that order.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from indexer.atomic import write_lines
from rag.answering.cite import is_refusal, parse_citations

FIELDS = ("question", "answer", "context")


@dataclass
class QARecord:
    question: str
    answer: str
    context: list[str]
    kind: str = ""                     # "answerable" | "unanswerable" ("" = inferred from the answer)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.context, str):
            self.context = [self.context]
        self.context = [str(c) for c in self.context if str(c).strip()]
        if not self.kind:
            self.kind = "unanswerable" if is_refusal(self.answer) and not parse_citations(self.answer) \
                else "answerable"

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"

    @property
    def cited(self) -> list[int]:
        """Passage numbers the reference answer cites."""
        return parse_citations(self.answer)

    def to_dict(self) -> dict:
        d = asdict(self)
        if not d["meta"]:
            d.pop("meta")
        return d


class DataError(ValueError):
    """A training-data file that cannot be read as question/answer/context records."""


def _record(obj, fields: list[str], where: str) -> QARecord:
    if isinstance(obj, list):
        if len(obj) != len(fields):
            raise DataError(f"{where}: {len(obj)} values for the fields {fields}")
        obj = dict(zip(fields, obj))
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected an object or a list, got {type(obj).__name__}")
    missing = [f for f in FIELDS if f not in obj or obj[f] in (None, "", [])]
    if missing:
        raise DataError(f"{where}: missing {', '.join(missing)} (each record needs question, answer, context)")
    return QARecord(question=str(obj["question"]).strip(), answer=str(obj["answer"]).strip(),
                    context=obj["context"], kind=str(obj.get("kind", "")), meta=dict(obj.get("meta") or {}))


def _fields(header: dict, where: str) -> list[str]:
    fields = [str(f) for f in header.get("fields", [])]
    if sorted(fields) != sorted(FIELDS):
        raise DataError(f"{where}: 'fields' must list question, answer, context (got {fields})")
    return fields


def read_records(path: str | Path) -> list[QARecord]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (make one with `rag synth --kb NAME --out {path.name}`)")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".json", ".yaml", ".yml"):
        if path.suffix.lower() == ".json":
            doc = json.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
        fields = list(FIELDS)
        if isinstance(doc, dict):
            fields = _fields(doc, str(path)) if "fields" in doc else fields
            doc = doc.get("records", [])
        if not isinstance(doc, list):
            raise DataError(f"{path}: expected a list of records")
        return [_record(r, fields, f"{path} record {i + 1}") for i, r in enumerate(doc)]
    out: list[QARecord] = []
    fields = list(FIELDS)
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{n}: not JSON ({e.msg})") from e
        if isinstance(obj, dict) and "fields" in obj and "question" not in obj:
            fields = _fields(obj, f"{path}:{n}")
            continue
        out.append(_record(obj, fields, f"{path}:{n}"))
    if not out:
        raise DataError(f"{path}: no records")
    return out


def write_records(records: list[QARecord], path: str | Path) -> Path:
    return write_lines(path, (json.dumps(r.to_dict(), ensure_ascii=False) for r in records))


def record_hits(record: QARecord):
    """The record's passages as retrieval hits (passage i is [i+1] in the prompt)."""
    from rag.types import Hit

    return [Hit(doc_id=f"ctx{i}", chunk_id=f"ctx{i}#0", source="", text=t, score=1.0)
            for i, t in enumerate(record.context)]


def record_messages(record: QARecord, count_tokens=None, budget: int = 400) -> list[dict[str, str]]:
    """The chat messages the pipeline would send for this question and these passages
    (rag.generation.prompt.build_messages), so training and serving see one prompt format."""
    from rag.generation.prompt import build_messages

    messages, _ = build_messages(record.question, record_hits(record), None, count_tokens, budget)
    return messages


def completion_prompt_ids(tokenizer, messages: list[dict[str, str]], examples: bool) -> list[int]:
    """A completion prompt's ids (base models, rag.generation.fewshot) as the llama.cpp backend builds
    them: the header (with BOS) and the body tokenized apart."""
    from rag.generation import fewshot

    head = tokenizer(fewshot.header(messages, examples), add_special_tokens=True)["input_ids"]
    return list(head) + list(tokenizer(fewshot.body(messages), add_special_tokens=False)["input_ids"])
