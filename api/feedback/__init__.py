"""Answers as recorded when produced (table answers) and the votes on them (table feedback), and the
export of rated answers as training records (rag.adapt.qa_data) and as an evaluation set (BEIR folder)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from api.state import forgotten
from api.state.base import Database
from indexer.store.base import now as _now
from rag.guard.personal_data import mask_personal

RATINGS = ("up", "down")


@dataclass
class Recorded:
    """Where an answer came from, besides the answer itself."""
    kb: str
    question: str
    key_id: str = ""
    user: str = ""
    settings_hash: str = ""
    experiment: str = ""
    arm: str = ""
    latency_s: float | None = None   # the service's own time for the answer (default: the answer's total_s)
    owner: str = ""                  # the user's pseudonym (api.audit.pseudonym) ...
    epoch: int | None = None         # ... and their forget epoch when the question came (api.state.forgotten)


class FeedbackStore:
    def __init__(self, db: Database, mask_questions: bool = False):
        self.db = db
        self.mask_questions = mask_questions  # [service] mask_stored_questions

    def record(self, answer_id: str, where: Recorded, answer: dict) -> bool:
        """Store an answer as it is produced (the API's answer dict: answer, citations, passages, ...). False,
        and nothing stored, when its user (`owner`) was forgotten since `epoch` was read."""
        passages = [{k: p.get(k) for k in ("doc_id", "chunk_id", "source", "title", "text")}
                    for p in answer.get("passages") or []]
        dropped = len({d.get("sentence") for d in answer.get("dropped") or []
                       if d.get("outcome") in ("removed", "uncited")})
        row = (
            "INSERT INTO answers(id, kb, key_id, user_id, question, answer, citations, passages, refused, fallback, "
            "dropped, cached, settings_hash, experiment, arm, latency_s, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (answer_id, where.kb, where.key_id, where.user,
             mask_personal(where.question) if self.mask_questions else where.question, answer.get("answer", ""),
             json.dumps(answer.get("citations") or [], ensure_ascii=False), json.dumps(passages, ensure_ascii=False),
             int(bool(answer.get("refused"))), answer.get("fallback") or "", dropped, int(bool(answer.get("cached"))),
             where.settings_hash, where.experiment, where.arm,
             float(where.latency_s if where.latency_s is not None
                   else (answer.get("timings") or {}).get("total_s") or 0.0), _now()))
        if not where.owner or where.epoch is None:
            self.db.execute(*row)
            return True
        with self.db.tx() as t:
            if not forgotten.still(t, self.db, where.owner, where.epoch):
                return False
            t.execute(*row)
        return True

    def get(self, answer_id: str) -> dict | None:
        row = self.db.one("SELECT * FROM answers WHERE id = ?", (answer_id,))
        return dict(row) if row else None

    def rate(self, answer_id: str, rating: str, comment: str = "", correction: str = "", key_id: str = "") -> dict:
        """Store the vote on an answer (a later vote on the same answer replaces it)."""
        if rating not in RATINGS:
            raise ValueError("rating must be 'up' or 'down'")
        at = _now()
        with self.db.tx() as t:
            t.execute("DELETE FROM feedback WHERE answer_id = ?", (answer_id,))
            t.execute("INSERT INTO feedback(answer_id, rating, comment, correction, key_id, created_at) "
                      "VALUES (?,?,?,?,?,?)", (answer_id, rating, comment or "", correction or "", key_id, at))
        return {"answer_id": answer_id, "rating": rating, "comment": comment or "", "correction": correction or "",
                "created_at": at}

    def experiment_rows(self, experiment: str) -> list[dict]:
        """Every answer of an experiment with its vote (rating None when none)."""
        rows = self.db.query(
            "SELECT a.arm, a.refused, a.latency_s, a.fallback, a.dropped, a.cached, f.rating FROM answers a "
            "LEFT JOIN feedback f ON f.answer_id = a.id WHERE a.experiment = ?", (experiment,))
        return [dict(r) for r in rows]

    def rated(self, kb: str) -> list[dict]:
        """The KB's rated answers, oldest first, with their votes."""
        rows = self.db.query(
            "SELECT a.*, f.rating, f.comment, f.correction, f.created_at AS rated_at FROM answers a "
            "JOIN feedback f ON f.answer_id = a.id WHERE a.kb = ? ORDER BY a.created_at, a.id", (kb,))
        out = []
        for r in rows:
            d = dict(r)
            d["citations"], d["passages"] = json.loads(d["citations"]), json.loads(d["passages"])
            out.append(d)
        return out


# ---- export ----------------------------------------------------------------------------------------
def _context(row: dict) -> tuple[str, list[str], list[dict]]:
    """(answer text with [n] renumbered to the context order, context passages, their passage dicts):
    the cited passages in marker order, else every passage."""
    passages = row["passages"]
    cited = sorted({c["n"]: c for c in row["citations"]}.values(), key=lambda c: c["n"])
    used, mapping = [], {}
    for c in cited:
        i = int(c.get("passage") or 0) - 1
        p = passages[i] if 0 <= i < len(passages) else {"doc_id": c.get("doc_id"), "chunk_id": c.get("chunk_id"),
                                                       "text": c.get("quote", "")}
        if not p.get("text"):
            continue
        used.append(p)
        mapping[c["n"]] = len(used)
    if not used:
        used = [p for p in passages if p.get("text")]
    text = re.sub(r"\[(\d+)\]", lambda m: f"[{mapping[int(m.group(1))]}]" if int(m.group(1)) in mapping
                  else "", row["answer"])
    return text, [p["text"] for p in used], used


def training_records(rows: list[dict]) -> list[dict]:
    """QARecord dicts (rag.adapt.qa_data: question, answer, context, meta): up-voted answers as given
    (citations renumbered to the context), down-voted ones with a correction as the correction; down
    votes without a correction teach nothing and are left out."""
    out = []
    for r in rows:
        text, context, _ = _context(r)
        if r["rating"] == "down":
            if not (r.get("correction") or "").strip():
                continue
            text = r["correction"].strip()
        if not context or not text.strip():
            continue
        out.append({"question": r["question"], "answer": text, "context": context,
                    "meta": {"answer_id": r["id"], "rating": r["rating"], "kb": r["kb"], "experiment": r["experiment"],
                             "arm": r["arm"], "comment": r.get("comment") or "", "original": r["answer"]}})
    return out


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def write_beir(rows: list[dict], folder: str | Path) -> dict:
    """An evaluation set `rag eval report --beir FOLDER` reads: corpus.jsonl (the passages the rated
    answers were drawn from, one document per chunk), queries.jsonl, qrels/test.tsv and answers.jsonl
    (gold answers). Labelled questions: down-voted answers with a correction (gold = the correction;
    relevant = the passages sharing most words with it) and up-voted answers (gold = the answer;
    relevant = the passages it cites)."""
    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    corpus: dict[str, dict] = {}
    queries, qrels, answers = [], [], []
    for r in rows:
        correction = (r.get("correction") or "").strip()
        if r["rating"] == "down" and not correction:
            continue
        if r["refused"] and r["rating"] == "up":
            continue  # a liked refusal: no passage to label
        for p in r["passages"]:
            if p.get("text") and p.get("chunk_id"):
                corpus.setdefault(p["chunk_id"], {"_id": p["chunk_id"], "title": p.get("title") or "",
                                                  "text": p["text"]})
        if r["rating"] == "up":
            _, _, used = _context(r)
            relevant = [p["chunk_id"] for p in used if p.get("chunk_id") in corpus]
            gold = re.sub(r"\s*\[\d+\]", "", r["answer"]).strip()
        else:
            cw = _words(correction)
            scored = sorted(((len(cw & _words(p.get("text") or "")), p.get("chunk_id")) for p in r["passages"]
                             if p.get("chunk_id") in corpus), reverse=True)
            relevant = [scored[0][1]] if scored and scored[0][0] > 0 else []
            gold = correction
        if not relevant:
            continue
        queries.append({"_id": r["id"], "text": r["question"]})
        qrels += [(r["id"], c) for c in dict.fromkeys(relevant)]
        answers.append({"_id": r["id"], "answer": gold})

    def dump(name: str, items: list[dict]) -> None:
        with open(folder / name, "w", encoding="utf-8") as fh:
            for it in items:
                fh.write(json.dumps(it, ensure_ascii=False) + "\n")
    dump("corpus.jsonl", list(corpus.values()))
    dump("queries.jsonl", queries)
    dump("answers.jsonl", answers)
    with open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for q, c in qrels:
            fh.write(f"{q}\t{c}\t1\n")
    return {"queries": len(queries), "documents": len(corpus)}
