"""A citation over HTTP names every page its sentence is on (a real server, real PDFs uploaded whose
sentence a page break cuts, English and Chinese): the query JSON's `page`/`page_end`, the OpenAI-compatible
answer's citations, the OpenAPI schema, and the web page's "p.1–2" / "第1–2页" in headless Chromium."""
from __future__ import annotations

import httpx
import pytest

from api.channels.core import sources
from cli.testing import Server, wait_job
from tests.cli.test_page_citations import QUESTIONS
from tests.indexer.test_chunk_pages import two_page_pdf

pytestmark = pytest.mark.slow  # ~20 s: a server, two uploads, answers, a headless browser


def test_citations_name_both_pages_of_a_cut_sentence_in_json_openai_and_the_web_page(tmp_path):
    from openai import OpenAI

    from tests.chromium import Browser, chromium_path

    if chromium_path() is None:
        pytest.fail("Debian's chromium package is needed for this test (apt-get install chromium); .ci/run installs it")
    pdfs = {lang: two_page_pdf(tmp_path / f"boxes_{lang}.pdf", lang) for lang in ("en", "zh")}
    srv = Server(tmp_path / "home").start()
    browser = None
    try:
        admin = srv.client()
        assert admin.post("/v1/kbs", json={"name": "boxes"}).status_code == 201
        key = admin.post("/v1/keys", json={"kb": "boxes", "scope": "read"}).json()["key"]
        r = admin.post("/v1/kbs/boxes/documents", files=[("files", (p.name, p.read_bytes())) for p in pdfs.values()])
        assert r.status_code == 202, r.text
        assert {f["status"] for f in wait_job(admin, r.json()["job_id"])["files"]} == {"indexed"}

        reader = srv.client(key)
        for lang, (cut, on_page_2) in QUESTIONS.items():
            source = {"sources": [pdfs[lang].name]}
            body = reader.post("/v1/kbs/boxes/query", json={"question": cut, "filters": source}).json()
            assert [(c["page"], c["page_end"]) for c in body["citations"]] == [(1, 2)], body
            assert (body["passages"][0]["page"], body["passages"][0]["page_end"]) == (1, 2)
            assert sources(body["citations"]) == [(1, f"{pdfs[lang].name}, p. 1–2")]  # a chat channel's reply
            body = reader.post("/v1/kbs/boxes/query", json={"question": on_page_2, "filters": source}).json()
            assert [(c["page"], c["page_end"]) for c in body["citations"]] == [(2, 2)], body
            assert sources(body["citations"]) == [(1, f"{pdfs[lang].name}, p. 2")]

        client = OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0)
        resp = client.chat.completions.create(model="boxes", messages=[{"role": "user", "content": QUESTIONS["zh"][0]}])
        assert [(c["page"], c["page_end"]) for c in resp.model_extra["citations"]] == [(1, 2)]

        schema = httpx.get(srv.url + "/openapi.json").json()["components"]["schemas"]
        assert "one page (p. 3)" in schema["CitationOut"]["properties"]["page_end"]["description"]

        browser = Browser()
        for lang, label in (("en", "p.1–2"), ("zh", "第1–2页")):
            browser.goto(f"{srv.url}/?lang={lang}#key={key}&kb=boxes&q={QUESTIONS[lang][0]}")
            browser.wait_for("document.querySelectorAll('#citations li').length > 0", timeout=120)
            shown = browser.eval("document.querySelector('#citations').textContent")
            assert label in shown, shown
    finally:
        if browser is not None:
            browser.close()
        srv.stop()
