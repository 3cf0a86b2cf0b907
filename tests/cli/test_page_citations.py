"""A citation names every page its sentence is on: `rag index` of real PDFs whose sentence a page break cuts
(English and Chinese), then `rag ask` / `rag search` (JSON and text), and the pages through an export and
import (real subprocesses, real models)."""
from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import rag
from tests.indexer.test_chunk_pages import two_page_pdf

QUESTIONS = {  # a question answered by the cut sentence; one answered by a sentence on page 2 alone
    "en": ("Who does not pay the annual fee for a safe deposit box?", "How much does it cost to replace lost keys?"),
    "zh": ("哪些客户可以免交保管箱年费？", "钥匙遗失补办收费多少？"),
}


def _citation(home, question: str, source: str) -> dict:
    ans = json.loads(rag(home, "ask", question, "--kb", "boxes", "--json", "--source", source).stdout)
    assert not ans["refused"] and ans["citations"], ans
    return ans["citations"][0]


@pytest.mark.slow  # ~90 s: a model load per command
def test_a_quote_cut_by_a_page_break_cites_both_pages_and_one_on_a_page_cites_it(tmp_path):
    home, docs = tmp_path / "home", tmp_path / "docs"
    docs.mkdir()
    pdfs = {lang: two_page_pdf(docs / f"boxes_{lang}.pdf", lang) for lang in ("en", "zh")}
    rag(home, "index", str(docs), "--kb", "boxes", "-q")

    for lang, (cut, on_page_2) in QUESTIONS.items():
        source = str(pdfs[lang])
        c = _citation(home, cut, source)
        assert (c["source"], c["page"], c["page_end"]) == (source, 1, 2), c
        c = _citation(home, on_page_2, source)
        assert (c["page"], c["page_end"]) == (2, 2), c  # its passage runs over pages 1-2, the sentence is on 2

    out = rag(home, "ask", QUESTIONS["en"][0], "--kb", "boxes", "--source", str(pdfs["en"])).stdout
    assert f"{pdfs['en']} p.1–2:" in out
    out = rag(home, "ask", QUESTIONS["zh"][1], "--kb", "boxes", "--source", str(pdfs["zh"])).stdout
    assert f"{pdfs['zh']} p.2:" in out
    [hit] = json.loads(rag(home, "search", "保管箱年费", "--kb", "boxes", "--json", "-k", "1",
                           "--source", str(pdfs["zh"])).stdout)
    assert (hit["page"], hit["page_end"]) == (1, 2) and hit["text"][hit["page_breaks"][0][0]:].startswith("保管箱年费")

    # an archive carries the pages: the imported KB cites as the original does
    archive = tmp_path / "boxes.zip"
    rag(home, "kb", "export", "boxes", str(archive))
    rag(home, "kb", "import", str(archive), "--as", "copy")
    ans = json.loads(rag(home, "ask", QUESTIONS["en"][0], "--kb", "copy", "--json", "--source", str(pdfs["en"])).stdout)
    assert (ans["citations"][0]["page"], ans["citations"][0]["page_end"]) == (1, 2)
