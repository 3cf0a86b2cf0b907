"""Closing the loop: answer ids and feedback, A/B experiments (sticky arms, per-arm metrics, report
statistics), promotion and rollback of KB settings — pure functions, and end to end against a real
`rag serve` (extractive answers: no LLM loads)."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from api.experiments import ExperimentError, apply_overrides, assign, make_experiment, merge, validate_overrides
from api.experiments.report import build_report, render_html, render_text
from api.experiments.stats import mde, percentile, two_proportion_z, wilson
from cli.testing import ROOT, Server, wait_job
from rag.config import Settings
from tests.conftest import SAMPLE

QUESTION = "How do I report a lost or stolen card?"


# ---- pure functions -------------------------------------------------------------------------------------
def test_assignment_splits_1000_users_by_share_and_is_sticky():
    arms = [("a", 0.5), ("b", 0.3), ("c", 0.2)]
    users = [f"user-{i}" for i in range(1000)]
    got = {u: assign("exp-split", arms, u) for u in users}
    for name, share in arms:
        n = sum(v == name for v in got.values())
        assert abs(n / 1000 - share) <= 0.05, (name, n)
    # the same user always gets the same arm (a pure hash: same on every replica and request)
    assert all(assign("exp-split", arms, u) == got[u] for u in users)
    # another experiment reshuffles
    assert sum(assign("other-exp", arms, u) != got[u] for u in users) > 200


def test_overrides_are_validated_against_the_settings_models():
    base = Settings.load()
    assert validate_overrides({"answer": {"top_k": "2"}}, base) == {"answer": {"top_k": 2}}
    for bad in ({"nope": {"x": 1}}, {"answer": {"no_such_field": 1}}, {"answer": {"top_k": 0}},
                {"retrieval": {"mode": "magic"}}, {"answer": 3}):
        with pytest.raises(ExperimentError):
            validate_overrides(bad, base)
    s = apply_overrides(base, {"retrieval": {"mode": "bm25"}, "answer": {"top_k": 1}})
    assert s.retrieval.mode == "bm25" and s.answer.top_k == 1 and base.answer.top_k == 4
    assert merge({"answer": {"top_k": 2}}, {"answer": {"mode": "extract"}}) == {"answer": {"top_k": 2, "mode": "extract"}}
    with pytest.raises(ExperimentError):
        make_experiment("x", "kb", [{"name": "a", "share": 1}], base)  # one arm
    exp = make_experiment("x", "kb", [{"name": "a", "share": 3}, {"name": "b", "share": 1}], base)
    assert [a.share for a in exp.arms] == [0.75, 0.25]


def test_statistics():
    lo, hi = wilson(80, 100)
    assert 0.71 < lo < 0.72 and 0.86 < hi < 0.87
    assert wilson(0, 0) == (0.0, 1.0)
    z, p = two_proportion_z(320, 400, 240, 400)
    assert z > 6 and p < 1e-6
    assert two_proportion_z(280, 400, 280, 400) == (0.0, 1.0)
    m = mde(0.7, 400, 400)
    assert 0.08 < m < 0.1  # 2.8 * sqrt(.21 * 2 / 400) = 0.0907
    assert percentile([1, 2, 3, 4, 5], 50) == 3 and percentile([], 50) is None


def _population(rates: dict[str, float], votes: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for arm, rate in rates.items():
        for i in range(votes):
            rows.append({"arm": arm, "refused": 0, "latency_s": 0.1 + i / 1000, "fallback": "", "dropped": 0,
                         "cached": 0, "rating": "up" if rng.random() < rate else "down"})
    return rows


def test_report_detects_a_real_difference_and_not_a_null_one():
    diff = build_report("e", ["a", "b"], _population({"a": 0.8, "b": 0.6}, 400, seed=1))
    t = diff["tests"][0]["up_rate"]
    assert t["significant"] and t["p"] < 0.001 and t["diff"] < -0.1 and t["mde"] < 0.1
    assert diff["arms"]["a"]["votes"] == 400 and diff["arms"]["a"]["latency_p95_s"] is not None
    same = build_report("e", ["a", "b"], _population({"a": 0.7, "b": 0.7}, 400, seed=2))
    assert not same["tests"][0]["up_rate"]["significant"]
    assert "SIGNIFICANT" in render_text(diff) and "not significant" in render_text(same)
    assert "<table" in render_html(diff)


# ---- end to end -------------------------------------------------------------------------------------
def rag(home, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_HOME": str(home), "RAG_EMBED_MODEL": "minilm", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    srv = Server(root / "home", RAG_ANSWER_MODE="extract").start()
    admin = srv.client()
    for name in ("alpha", "other"):
        assert admin.post("/v1/kbs", json={"name": name}).status_code == 201
    keys = {kb: admin.post("/v1/keys", json={"kb": kb, "scope": "read"}).json()["key"] for kb in ("alpha", "other")}
    files = [("files", (p.name, p.read_bytes())) for p in (SAMPLE / "en" / "lost_or_stolen_cards.txt",
                                                           SAMPLE / "en" / "wire_transfers.html")]
    r = admin.post("/v1/kbs/alpha/documents", files=files)
    assert r.status_code == 202, r.text
    assert wait_job(admin, r.json()["job_id"])["status"] == "done"
    yield {"srv": srv, "keys": keys, "root": root, "home": root / "home"}
    srv.stop()


def test_answers_carry_ids_and_feedback_is_stored_and_exported(env):
    srv = env["srv"]
    c = srv.client(env["keys"]["alpha"])
    ans = c.post("/v1/kbs/alpha/query", json={"question": QUESTION}).json()
    assert len(ans["answer_id"]) == 32 and not ans["refused"] and ans["citations"]
    # SSE done event, WebSocket-free OpenAI route: ids too, each answer its own
    with c.stream("POST", "/v1/kbs/alpha/query", json={"question": QUESTION, "stream": True}) as r:
        text = "".join(r.iter_text())
    done = json.loads(text.split("event: done\ndata: ")[1].split("\n\n")[0])
    chat = c.post("/v1/chat/completions", json={"model": "alpha", "messages": [{"role": "user", "content": QUESTION}]})
    ids = {ans["answer_id"], done["answer_id"], chat.json()["answer_id"]}
    assert len(ids) == 3

    r = c.post("/v1/feedback", json={"answer_id": ans["answer_id"], "rating": "up"})
    assert r.status_code == 200 and r.json()["rating"] == "up"
    r = c.post("/v1/feedback", json={"answer_id": done["answer_id"], "rating": "down", "comment": "too long",
                                     "correction": "Call the card hotline at once to report a lost or stolen card."})
    assert r.status_code == 200
    assert c.post("/v1/feedback", json={"answer_id": ans["answer_id"], "rating": "meh"}).status_code == 422
    # unknown id and another tenant's answer: the same 404
    unknown = c.post("/v1/feedback", json={"answer_id": "0" * 32, "rating": "up"})
    foreign = srv.client(env["keys"]["other"]).post("/v1/feedback", json={"answer_id": ans["answer_id"], "rating": "down"})
    assert unknown.status_code == foreign.status_code == 404
    assert unknown.json()["error"] == foreign.json()["error"] | {"message": unknown.json()["error"]["message"]}

    out, beir = env["root"] / "fb.jsonl", env["root"] / "fb-beir"
    p = rag(env["home"], "feedback", "export", "--kb", "alpha", "--out", str(out), "--beir", str(beir))
    assert p.returncode == 0, p.stderr
    from rag.adapt.qa_data import read_records

    records = read_records(out)
    assert len(records) == 2 and all(r.context for r in records)
    assert {r.meta["rating"] for r in records} == {"up", "down"}
    assert any(r.answer.startswith("Call the card hotline") for r in records)
    from eval.evalset import load_evalset

    es = load_evalset(beir)
    assert len(es.answerable) == 2 and {q.gold for q in es.answerable} >= {
        "Call the card hotline at once to report a lost or stolen card."}


def _arm_of(c, user):
    a = c.post("/v1/kbs/alpha/query", json={"question": QUESTION, "user": user}).json()
    return a["arm"], a


def test_experiment_sticky_arms_metrics_report_promote_rollback(env):
    srv, home = env["srv"], env["home"]
    admin, c = srv.client(), srv.client(env["keys"]["alpha"])
    body = {"name": "topk", "arms": [{"name": "a", "share": 1},
                                     {"name": "b", "share": 1, "overrides": {"answer": {"top_k": 1,
                                                                                        "refusal_threshold": 1e9}}}]}
    assert c.post("/v1/kbs/alpha/experiments", json=body).status_code == 403  # admin only
    bad = {"name": "bad", "arms": [{"name": "a", "share": 1}, {"name": "b", "share": 1,
                                                               "overrides": {"answer": {"top_k": 0}}}]}
    assert admin.post("/v1/kbs/alpha/experiments", json=bad).status_code == 422
    r = admin.post("/v1/kbs/alpha/experiments", json=body)
    assert r.status_code == 201, r.text
    assert admin.post("/v1/kbs/alpha/experiments", json={**body, "name": "second"}).status_code == 409
    assert [e["name"] for e in admin.get("/v1/kbs/alpha/experiments").json()] == ["topk"]

    seen = {}
    for i in range(12):
        user = f"u{i}"
        arm1, ans = _arm_of(c, user)
        arm2, _ = _arm_of(c, user)
        assert arm1 == arm2 == assign("topk", [("a", 0.5), ("b", 0.5)], user)
        seen[user] = (arm1, ans)
        if arm1 == "b":
            assert ans["refused"] and len(ans["passages"]) <= 1
        else:
            assert not ans["refused"] and len(ans["passages"]) > 1
    assert {a for a, _ in seen.values()} == {"a", "b"}
    # OpenAI `user` picks the arm the same way
    chat = c.post("/v1/chat/completions", json={"model": "alpha", "user": "u0",
                                                "messages": [{"role": "user", "content": QUESTION}]}).json()
    assert chat["arm"] == seen["u0"][0]
    # votes per arm
    for user, (arm, ans) in seen.items():
        r = c.post("/v1/feedback", json={"answer_id": ans["answer_id"], "rating": "up" if arm == "a" else "down"})
        assert r.status_code == 200
    metrics = srv.client(None).get("/metrics").text
    for arm in ("a", "b"):
        assert f'rag_experiment_requests_total{{arm="{arm}",experiment="topk"}}' in metrics
    assert 'rag_experiment_refusals_total{arm="b",experiment="topk"}' in metrics
    assert 'rag_experiment_feedback_total{arm="a",experiment="topk",rating="up"}' in metrics
    assert 'rag_experiment_answer_seconds_count{arm="a",experiment="topk"}' in metrics

    rep = admin.get("/v1/kbs/alpha/experiments/topk/report").json()
    assert rep["arms"]["b"]["refusal_rate"]["rate"] == 1.0 and rep["arms"]["a"]["refusal_rate"]["rate"] == 0.0
    html = env["root"] / "report.html"
    p = rag(home, "experiment", "report", "topk", "--html", str(html))
    assert p.returncode == 0, p.stderr
    assert "refusal rate" in p.stdout and html.read_text().startswith("<!doctype html>")

    # promote b: a new request (any user) gets b's settings; rollback restores the old ones
    p = rag(home, "experiment", "promote", "topk", "b")
    assert p.returncode == 0, p.stderr
    arm, ans = _arm_of(c, "u-new")
    assert arm is None and ans["refused"]
    assert admin.get("/v1/kbs/alpha/experiments").json()[0]["status"] == "promoted"
    p = rag(home, "experiment", "rollback", "--kb", "alpha")
    assert p.returncode == 0, p.stderr
    arm, ans = _arm_of(c, "u-new")
    assert arm is None and not ans["refused"] and len(ans["passages"]) > 1
    assert rag(home, "experiment", "rollback", "--kb", "alpha").returncode != 0  # nothing left to roll back
    p = rag(home, "experiment", "list", "--json")
    assert json.loads(p.stdout)[0]["winner"] == "b"
