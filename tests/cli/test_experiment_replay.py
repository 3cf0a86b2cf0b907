"""`rag experiment replay`: every arm of an experiment over an evaluation set, offline."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def rag(*args: str, env: dict) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return p


@pytest.mark.slow  # a long robustness or end-to-end run: make test-all
def test_replay_runs_every_arm_over_an_eval_set(tmp_path):
    env = {**os.environ, "RAG_HOME": str(tmp_path / "home"), "RAG_EMBED_MODEL": "minilm",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    rag("index", str(ROOT / "data" / "sample" / "en" / "lost_or_stolen_cards.txt"), "--kb", "bank", "-q",
        "--no-calibrate", env=env)
    p = rag("experiment", "create", "fusion", "--kb", "bank", "--arm", "hybrid=0.5", "--arm", "lexical=0.5",
            "--set", "lexical:retrieval.mode=bm25", env=env)
    assert "warning" not in p.stderr  # retrieval settings change quoted answers too
    out = tmp_path / "replay"
    rag("experiment", "replay", "fusion", "--beir", str(ROOT / "data" / "eval" / "sample" / "en"),
        "--split", "test", "--no-answers", "--out", str(out), env=env)
    metrics = json.loads((out / "metrics.json").read_text())
    by_name = {c["name"]: c for c in metrics["configs"]}
    assert set(by_name) == {"hybrid", "lexical"} and metrics["reference"] == "hybrid"
    assert by_name["lexical"]["settings"]["retrieval"]["mode"] == "bm25"
    assert by_name["hybrid"]["quality"]["ndcg@10"]["mean"] != by_name["lexical"]["quality"]["ndcg@10"]["mean"]
    assert (out / "report.html").exists()

    # README's example before it was fixed: a prompt budget changes nothing while every answer is quoted
    rag("experiment", "stop", "fusion", env=env)
    p = rag("experiment", "create", "prompt-budget", "--kb", "bank", "--arm", "a=0.5", "--arm", "b=0.5",
            "--set", "b:generation.context_budget_tokens=400", env=env)
    assert "warning: arm 'b': generation.context_budget_tokens cannot change an answer" in p.stderr
    assert "--set a:answer.mode=generate --set b:answer.mode=generate" in p.stderr
    assert json.loads(p.stdout)["name"] == "prompt-budget"  # a warning, not a refusal


def test_arm_warnings_name_settings_that_cannot_change_an_answer():
    from api.experiments import make_experiment
    from cli.experiment import arm_warnings, inert_overrides
    from rag.config import Settings

    base = Settings.load(None)
    assert not base.uses_generator  # the defaults: every answer quoted (the bundled SmolLM2 writes no language)

    def warnings(arms: dict, kb_overrides: dict | None = None, settings=base) -> list[str]:
        exp = make_experiment("x", "bank", [{"name": n, "share": 1, "overrides": o} for n, o in arms.items()], settings)
        return arm_warnings(exp, settings, kb_overrides or {})

    budget = {"generation": {"context_budget_tokens": 400}}
    [w] = warnings({"a": {}, "b": budget})
    assert w.startswith("arm 'b': generation.context_budget_tokens cannot change an answer") and "languages unset" in w
    # README's example: the model writes in both arms
    generate = {"answer": {"mode": "generate"}}
    assert warnings({"a": generate, "b": {"answer": {"mode": "generate"}, **budget}}) == []
    # ... or the KB's own (promoted) settings make it write, or a model that writes is chosen
    assert warnings({"a": {}, "b": budget}, kb_overrides=generate) == []
    assert warnings({"a": {}, "b": {"generation": {"languages": ["en"], "context_budget_tokens": 400}}}) == []
    # settings quoted answers use are never flagged; in extract mode only the generator's are
    assert warnings({"a": {}, "b": {"generation": {"cite_min_overlap": 0.5}}}) == []
    extract = Settings.load(None, answer={"mode": "extract"})
    [w] = warnings({"a": {}, "b": {"answer": {"top_k": 2, "extractive_fallback": False},
                                   "generation": {"max_new_tokens": 64}}}, settings=extract)
    assert "answer.extractive_fallback, generation.max_new_tokens cannot" in w and "mode 'extract'" in w
    # reranker settings without a reranker; arms with the same settings
    [w] = warnings({"a": {}, "b": {"rerank": {"top_n": 10}}})
    assert w == "arm 'b': rerank.top_n cannot change an answer: no reranker is configured (rerank.model)"
    assert warnings({"a": {}, "b": {}}) == ["arms 'a' and 'b' have the same settings: their answers cannot differ"]
    assert inert_overrides(budget, Settings.load(None, answer={"mode": "generate"})) == []
