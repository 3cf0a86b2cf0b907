"""A KB's synonyms over HTTP (api/routes/synonyms.py): set, read, validated, scoped to keys, applied to
searches and answers at once, and never answered from the cache under other synonyms."""
from __future__ import annotations

import pytest

from cli.testing import ADMIN, Server, wait_job
from tests.conftest import SAMPLE

DOCS = [SAMPLE / "en" / "lost_or_stolen_cards.txt", SAMPLE / "en" / "wire_transfers.html",
        SAMPLE / "zh" / "card_loss_reporting.txt"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("synonyms") / "home").start()
    admin = srv.client()
    assert admin.post("/v1/kbs", json={"name": "bank"}).status_code == 201
    keys = {scope: admin.post("/v1/keys", json={"kb": "bank", "scope": scope}).json()["key"] for scope in ("read", "write")}
    r = admin.post("/v1/kbs/bank/documents", files=[("files", (p.name, p.read_bytes())) for p in DOCS])
    assert r.status_code == 202, r.text
    wait_job(admin, r.json()["job_id"])
    yield srv, keys
    srv.stop()


def _bm25_first(c, query: str) -> str | None:
    hits = c.post("/v1/kbs/bank/search", json={"query": query, "k": 3, "mode": "bm25"}).json()
    return hits[0]["source"] if hits else None


def test_synonyms_are_set_read_applied_and_removed(env):
    srv, keys = env
    c = srv.client(keys["write"])
    assert c.get("/v1/kbs/bank/synonyms").json() == {"kb": "bank", "rules": [], "text": ""}
    assert _bm25_first(c, "zorblax") is None  # a word no document holds
    r = c.put("/v1/kbs/bank/synonyms", json={"text": "# our words\nzorblax => SWIFT\n挂失, 报失\n"})
    assert r.status_code == 200, r.text
    assert r.json()["rules"] == [{"terms": ["zorblax"], "means": ["SWIFT"]},
                                 {"terms": ["挂失", "报失"], "means": ["挂失", "报失"]}]
    assert srv.client(keys["read"]).get("/v1/kbs/bank/synonyms").json()["text"] == "zorblax => SWIFT\n挂失, 报失\n"
    assert _bm25_first(c, "zorblax") == "wire_transfers.html"  # searched as the documents' word
    assert _bm25_first(c, "报失") == "card_loss_reporting.txt"
    assert c.delete("/v1/kbs/bank/synonyms").status_code == 204
    assert _bm25_first(c, "zorblax") is None and c.get("/v1/kbs/bank/synonyms").json()["rules"] == []


def test_a_bad_list_is_refused_with_its_line_and_changes_nothing(env):
    srv, keys = env
    c = srv.client(keys["write"])
    assert c.put("/v1/kbs/bank/synonyms", json={"text": "ATM card => debit card"}).status_code == 200
    r = c.put("/v1/kbs/bank/synonyms", json={"text": "ok, fine\nlonely\n"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_synonyms"
    assert "line 2" in r.json()["error"]["message"] and "unchanged" in r.json()["error"]["message"]
    assert c.put("/v1/kbs/bank/synonyms", json={"text": "a, b\n" * 60000}).status_code == 422  # over the size bound
    assert c.get("/v1/kbs/bank/synonyms").json()["text"] == "ATM card => debit card\n"
    c.delete("/v1/kbs/bank/synonyms")


def test_only_keys_that_may_write_the_kb_change_its_synonyms(env):
    srv, keys = env
    assert srv.client(keys["read"]).put("/v1/kbs/bank/synonyms", json={"text": "a, b"}).status_code == 403
    assert srv.client(keys["read"]).delete("/v1/kbs/bank/synonyms").status_code == 403
    assert srv.client(None).get("/v1/kbs/bank/synonyms").status_code == 401
    assert srv.client().get("/v1/kbs/nope/synonyms").status_code == 404


def test_an_answer_cached_under_other_synonyms_is_not_served(env):
    srv, keys = env
    c = srv.client(keys["write"])
    q = {"question": "What is the zorblax code for an incoming wire?"}
    first = c.post("/v1/kbs/bank/query", json=q).json()
    assert c.post("/v1/kbs/bank/query", json=q).json()["cached"] is True
    c.put("/v1/kbs/bank/synonyms", json={"text": "zorblax => SWIFT"})
    try:
        after = c.post("/v1/kbs/bank/query", json=q).json()
        assert after["cached"] is False, after
        assert "HRBRUS33" in after["answer"] and "HRBRUS33" not in first["answer"], (first["answer"], after["answer"])
    finally:
        c.delete("/v1/kbs/bank/synonyms")


def test_the_gaps_report_names_the_readers_words_that_synonyms_then_answer(env, tmp_path):
    """GET /v1/kbs/{kb}/gaps and `rag feedback gaps`: refused and voted-down questions, most asked first,
    and the words of theirs no document holds; the rule it suggests then answers the question."""
    import os
    import subprocess
    import sys

    srv, keys = env
    c = srv.client(keys["write"])
    q = "Tell me the quux for wires"
    for asked in (q, q.upper(), "挂号费多少？"):  # refused, or answered off the point and voted down
        r = c.post("/v1/kbs/bank/query", json={"question": asked}).json()
        assert r["refused"] or "HRBRUS33" not in r["answer"], r["answer"]
        if not r["refused"]:
            assert c.post("/v1/feedback", json={"answer_id": r["answer_id"], "rating": "down"}).status_code == 200
    ok = c.post("/v1/kbs/bank/query", json={"question": "How do I report a lost card?"}).json()
    assert not ok["refused"]
    assert c.post("/v1/feedback", json={"answer_id": ok["answer_id"], "rating": "down",
                                        "comment": "wanted the phone number"}).status_code == 200
    assert srv.client(keys["write"]).get("/v1/kbs/bank/gaps").status_code == 403  # readers' questions: admins only
    admin = srv.client()
    rep = admin.get("/v1/kbs/bank/gaps", params={"days": 1}).json()
    assert rep["refused"] + rep["voted_down"] == 4 and rep["answers"] >= 4
    top = rep["questions"][0]
    assert top["times"] == 2 and top["question"].lower() == q.lower()  # one question, asked twice
    down = next(u for u in rep["questions"] if u["comments"])
    assert down["question"] == "How do I report a lost card?" and down["comments"] == ["wanted the phone number"]
    trail = admin.get("/v1/audit", params={"action": "feedback.gaps"}).json()
    assert trail and trail[0]["kb"] == "bank"  # readers' questions read: recorded like an export
    missing = {w["word"].lower(): w for w in rep["missing_words"]}
    assert "quux" in missing and "挂号费" in missing, missing
    assert "wire" not in missing and "card" not in missing  # the documents' own words
    env_cli = {**os.environ, "RAG_HOME": str(srv.home)}
    out = subprocess.run([sys.executable, "-m", "cli", "feedback", "gaps", "--kb", "bank", "--days", "1"],
                         env=env_cli, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "quux" in out.stdout.lower() and "rag kb synonyms bank" in out.stdout, out
    c.put("/v1/kbs/bank/synonyms", json={"text": "quux => SWIFT code"})
    try:
        after = c.post("/v1/kbs/bank/query", json={"question": q}).json()
        assert not after["refused"] and "HRBRUS33" in after["answer"], after["answer"]
    finally:
        c.delete("/v1/kbs/bank/synonyms")


def test_the_web_page_shows_the_gaps_and_edits_the_synonyms(env):
    """The page at / in headless Chromium: an admin sees what was not answered and saves synonyms that the
    next search uses; a key that may only read sees the synonyms, not the readers' questions, and cannot save."""
    from tests.chromium import Browser, chromium_path

    if chromium_path() is None:
        pytest.fail("Debian's chromium package is needed for this test (apt-get install chromium); .ci/run installs it")
    srv, keys = env
    c = srv.client(keys["write"])
    c.post("/v1/kbs/bank/query", json={"question": "Tell me the quux for wires"})
    browser = Browser()
    try:
        browser.goto(f"{srv.url}/?lang=zh#key={ADMIN}&kb=bank")
        browser.wait_for("!document.querySelector('#synonyms-section').hidden && "
                         "!document.querySelector('#gaps-section').hidden", timeout=60)
        assert "quux" in browser.eval("document.querySelector('#gap-words').textContent")
        assert "文档中没有的词" in browser.eval("document.querySelector('#gap-words').textContent")
        browser.eval("document.querySelector('#synonyms').value = 'quux => SWIFT code\\n'; "
                     "document.querySelector('#synonyms-form').requestSubmit()")
        browser.wait_for("document.querySelector('#synonyms-status').textContent.includes('1')", timeout=30)
        assert _bm25_first(c, "quux") == "wire_transfers.html"
        browser.eval("document.querySelector('#synonyms').value = 'lonely\\n'; "
                     "document.querySelector('#synonyms-form').requestSubmit()")
        browser.wait_for("document.querySelector('#synonyms-status .error') !== null", timeout=30)
        assert "line 1" in browser.eval("document.querySelector('#synonyms-status').textContent")
        browser.goto(f"{srv.url}/?lang=en#key={keys['read']}&kb=bank")
        browser.wait_for("!document.querySelector('#synonyms-section').hidden", timeout=60)
        assert browser.eval("document.querySelector('#gaps-section').hidden")  # readers' questions: admins only
        assert browser.eval("document.querySelector('#synonyms').value") == "quux => SWIFT code\n"
        browser.eval("document.querySelector('#synonyms-form').requestSubmit()")
        browser.wait_for("document.querySelector('#synonyms-status .error') !== null", timeout=30)
    finally:
        browser.close()
        c.delete("/v1/kbs/bank/synonyms")


def test_the_web_page_never_saves_one_kbs_synonyms_into_another(env):
    """The page loads a KB's synonyms after its documents when the KB is chosen; until they came, the box
    still held the previous KB's list and Save wrote it into the newly chosen KB (and a slow answer for the
    previous KB could fill the box after the new one's). Save now writes only the list loaded for the KB
    shown, and a late answer for another KB is dropped. The other KB's synonyms answer late here (the
    browser's fetch delayed by the test)."""
    from tests.chromium import Browser, chromium_path

    if chromium_path() is None:
        pytest.fail("Debian's chromium package is needed for this test (apt-get install chromium); .ci/run installs it")
    srv, _ = env
    admin = srv.client()
    assert admin.post("/v1/kbs", json={"name": "clinic"}).status_code == 201
    assert admin.put("/v1/kbs/clinic/synonyms", json={"text": "挂号费, 诊查费\n"}).status_code == 200
    admin.put("/v1/kbs/bank/synonyms", json={"text": "zorblax => SWIFT\n"})
    browser = Browser()
    try:
        browser.goto(f"{srv.url}/?lang=zh#key={ADMIN}&kb=bank")
        browser.wait_for("document.querySelector('#synonyms').value === 'zorblax => SWIFT\\n'", timeout=60)
        browser.eval("""(() => {
            const real = window.fetch;
            window.fetch = async (url, opts) => {  // the clinic's synonyms come 2 s late
              if (String(url).endsWith('/kbs/clinic/synonyms') && !(opts && opts.method)) {
                await new Promise(r => setTimeout(r, 2000));
              }
              return real(url, opts);
            };
            const kb = document.querySelector('#kb');
            kb.value = 'clinic';
            kb.dispatchEvent(new Event('change'));
            setTimeout(() => document.querySelector('#synonyms-form').requestSubmit(), 500);  // a quick Save
        })()""")
        browser.wait_for("document.querySelector('#synonyms').value === '挂号费, 诊查费\\n'", timeout=30)
        assert admin.get("/v1/kbs/clinic/synonyms").json()["text"] == "挂号费, 诊查费\n"
        assert admin.get("/v1/kbs/bank/synonyms").json()["text"] == "zorblax => SWIFT\n"
    finally:
        browser.close()
        admin.delete("/v1/kbs/bank/synonyms")
        admin.delete("/v1/kbs/clinic")
