"""`rag eval retrieval --kb BASE,OTHER`: two KBs on the same questions, compared question by question."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.side_by_side import compare_runs

ROOT = Path(__file__).resolve().parents[2]


def _run(rows: list[tuple[str, float, float]]) -> dict:
    return {"mode": "hybrid", "per_query": [{"query_id": q, "ndcg@10": n, "recall@1": r} for q, n, r in rows]}


def test_the_comparison_counts_the_questions_behind_a_change():
    base = _run([("q1", 1.0, 1.0), ("q2", 0.5, 0.0), ("q3", 0.63, 0.0), ("q4", 1.0, 1.0)])
    other = _run([("q1", 0.5, 0.0), ("q2", 1.0, 1.0), ("q3", 1.0, 1.0), ("q4", 1.0, 1.0), ("q5", 1.0, 1.0)])
    c = compare_runs(base, other, "base", "tuned")
    assert c.questions == 4  # q5 was not asked of the base: not compared
    nd, r1 = c.changes
    assert nd.metric == "ndcg@10" and nd.diff == pytest.approx((-0.5 + 0.5 + 0.37) / 4)
    assert r1.metric == "recall@1" and r1.diff == pytest.approx(0.25) and r1.ci_low <= r1.diff <= r1.ci_high
    assert (c.better, c.worse, c.gained_at_1, c.lost_at_1) == (2, 1, 2, 1)
    assert 0 < r1.p_value <= 1
    assert "2 ranked their answer higher, 1 lower; rank 1: 2 gained, 1 lost" in c.line()
    with pytest.raises(ValueError, match="different questions"):
        compare_runs(base, _run([("x", 1.0, 1.0)]), "base", "other")


@pytest.mark.slow
def test_cli_measures_two_kbs_on_the_same_questions(tmp_path):
    env = {**os.environ, "RAG_HOME": str(tmp_path / "home"), "RAG_EMBED_MODEL": "minilm",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    beir = ROOT / "data" / "eval" / "sample" / "en"

    def rag(*args):
        p = subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
        return p.stdout

    rag("eval", "retrieval", "--beir", str(beir), "--kb", "words")
    # the second KB is new: it is indexed with --embed-model (e5), the first keeps its MiniLM vectors
    out = tmp_path / "cmp.json"
    printed = rag("eval", "retrieval", "--beir", str(beir), "--kb", "words,multi", "--embed-model", "e5",
                  "--modes", "dense", "--json", str(out), "--per-query")
    doc = json.loads(out.read_text())
    (a,), (b,) = (k["configs"] for k in doc["kbs"])
    assert (a["embed_model"], b["embed_model"]) == ("minilm", "e5") and doc["kb"] == "words"
    (c,) = doc["comparisons"]
    assert (c["base_kb"], c["other_kb"], c["mode"]) == ("words", "multi", "dense")
    rows = {r["query_id"]: r["ndcg@10"] for r in a["per_query"]}
    pairs = [(rows[r["query_id"]], r["ndcg@10"]) for r in b["per_query"]]
    assert c["questions"] == len(pairs) == a["queries"]
    assert (c["better"], c["worse"]) == (sum(y > x for x, y in pairs), sum(y < x for x, y in pairs))
    assert c["changes"][0]["diff"] == pytest.approx(b["ndcg@10"] - a["ndcg@10"], abs=1e-9)
    assert "multi against words, dense" in printed and "R@1" in printed
