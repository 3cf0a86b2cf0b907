"""Folds of a labelled question set, so that choices and the figures reported are made on different
questions: every choice (learning rate, epochs, which encoders to tune, LoRA or full) is made on one
fold and the result is reported on another that no choice saw.

A question's fold is a fixed hash of its id, so the same question lands in the same fold in every
language of a parallel set (the Debian FAQ's English and Chinese questions share ids), and in every run.

    python -m rag.adapt.folds BEIR_DIR [--split dev] [--folds 2]

writes qrels/{split}-fold{i}.tsv next to qrels/{split}.tsv: `rag eval retrieval --split dev-fold1`
then measures one fold.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path


def fold_of(query_id: str, folds: int = 2) -> int:
    return int(hashlib.sha1(query_id.encode("utf-8")).hexdigest(), 16) % folds


def write_folds(root: str | Path, split: str = "dev", folds: int = 2) -> list[Path]:
    """qrels/{split}-fold{i}.tsv for i < folds; returns the files written."""
    qrels = Path(root) / "qrels"
    with open(qrels / f"{split}.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header, body = rows[0], [r for r in rows[1:] if r]
    out = []
    for i in range(folds):
        path = qrels / f"{split}-fold{i}.tsv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n")
            w.writerow(header)
            w.writerows(r for r in body if fold_of(r[0], folds) == i)
        out.append(path)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root")
    p.add_argument("--split", default="dev")
    p.add_argument("--folds", type=int, default=2)
    a = p.parse_args()
    for path in write_folds(a.root, a.split, a.folds):
        n = sum(1 for _ in open(path, encoding="utf-8")) - 1
        print(f"{path}: {n} judgements")


if __name__ == "__main__":
    main()
