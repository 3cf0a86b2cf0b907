"""`rag experiment replay`: every arm of an experiment over an evaluation set, offline."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def rag(*args: str, env: dict) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return p


def test_replay_runs_every_arm_over_an_eval_set(tmp_path):
    env = {**os.environ, "RAG_HOME": str(tmp_path / "home"), "RAG_EMBED_MODEL": "minilm",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    rag("index", str(ROOT / "data" / "sample" / "en" / "lost_or_stolen_cards.txt"), "--kb", "bank", "-q",
        "--no-calibrate", env=env)
    rag("experiment", "create", "fusion", "--kb", "bank", "--arm", "hybrid=0.5", "--arm", "lexical=0.5",
        "--set", "lexical:retrieval.mode=bm25", env=env)
    out = tmp_path / "replay"
    rag("experiment", "replay", "fusion", "--beir", str(ROOT / "data" / "eval" / "sample" / "en"),
        "--split", "test", "--no-answers", "--out", str(out), env=env)
    metrics = json.loads((out / "metrics.json").read_text())
    by_name = {c["name"]: c for c in metrics["configs"]}
    assert set(by_name) == {"hybrid", "lexical"} and metrics["reference"] == "hybrid"
    assert by_name["lexical"]["settings"]["retrieval"]["mode"] == "bm25"
    assert by_name["hybrid"]["quality"]["ndcg@10"]["mean"] != by_name["lexical"]["quality"]["ndcg@10"]["mean"]
    assert (out / "report.html").exists()
