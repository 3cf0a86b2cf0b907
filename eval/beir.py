"""Reading a BEIR-layout folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class BeirDataset:
    root: Path
    corpus: dict[str, tuple[str, str]]   # _id -> (title, text)
    queries: dict[str, str]              # _id -> text (only those in the split's qrels)
    qrels: dict[str, dict[str, float]]   # query id -> {doc id: relevance}


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_beir(root: str | Path, split: str = "test") -> BeirDataset:
    root = Path(root)
    for need in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (root / need).exists():
            raise FileNotFoundError(f"{root / need} is missing: a BEIR folder needs corpus.jsonl, queries.jsonl "
                                    f"and qrels/{split}.tsv (use --split to pick another qrels file)")
    corpus = {str(d["_id"]): (d.get("title", "") or "", d.get("text", "") or "") for d in read_jsonl(root / "corpus.jsonl")}
    all_queries = {str(q["_id"]): q["text"] for q in read_jsonl(root / "queries.jsonl")}
    qrels: dict[str, dict[str, float]] = {}
    with (root / f"qrels/{split}.tsv").open(encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = float(row[2])
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        raise ValueError(f"{len(missing)} qrels query ids are not in queries.jsonl (first: {missing[0]})")
    return BeirDataset(root, corpus, {q: all_queries[q] for q in qrels}, qrels)
