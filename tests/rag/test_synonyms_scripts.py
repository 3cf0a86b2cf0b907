"""A KB's synonyms over documents in traditional characters (a Hong Kong hospital's pages, s2hk of the
hospital's own): rules written in simplified characters are found in them, search them in their own characters,
and name their table rows and columns, for questions in either script. Real components: the packaged encoders,
FAISS and BM25 over a small KB indexed once for the module."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.rag.quoting_kb import quoting_pipeline, synonyms

HOSPITAL = Path(__file__).resolve().parents[2] / "data" / "eval" / "domains" / "hospital" / "docs" / "zh"


@pytest.fixture(scope="module")
def hk_kb(tmp_path_factory, ens):
    """The hospital's appointment guide and visiting rules in Hong Kong's traditional characters (OpenCC s2hk:
    號別與診查費, 陪護管理), indexed with the default encoders and the threshold `rag index` calibrates."""
    from opencc import OpenCC

    root = tmp_path_factory.mktemp("hk")
    docs = root / "docs"
    docs.mkdir()
    hk = OpenCC("s2hk")
    for name in ("yuyue-guahao.md", "tanshi-peihu.txt"):
        (docs / name).write_text(hk.convert((HOSPITAL / name).read_text(encoding="utf-8")), encoding="utf-8")
    assert "| 號別 | 診查費 |" in (docs / "yuyue-guahao.md").read_text(encoding="utf-8")
    return quoting_pipeline(root / "home", "hk", docs, ens)


@pytest.mark.parametrize("question", ["挂号费多少", "掛號費多少"])
def test_a_simplified_rule_names_a_traditional_tables_column(hk_kb, question):
    """`挂号费, 诊查费` met no passage written 診查費: BM25 searched 诊查费, which the KB does not hold, and the
    column 診查費 was not named. Both the simplified question and the Hong Kong reader's own get each 號別's fee."""
    rows = ("普通門診——診查費：10元", "副主任醫師——診查費：20元", "知名專家——診查費：50元", "便民門診——診查費：免收診查費")
    plain = hk_kb.ask(question).answer
    with synonyms(hk_kb, "挂号费, 诊查费"):
        searched = hk_kb.retriever.run(question, 3, mode="bm25")
        ans = hk_kb.ask(question)
    assert searched and "號別與診查費" in searched[0].title, [h.title for h in searched]
    assert not ans.refused and all(r in ans.answer for r in rows), ans.answer
    assert not any(r in plain for r in rows), plain


@pytest.mark.parametrize("question", ["名医号多少钱", "名醫號多少錢"])
def test_a_simplified_rule_names_a_traditional_tables_row(hk_kb, question):
    assert hk_kb.ask(question).refused
    with synonyms(hk_kb, "名医号, 知名专家"):
        ans = hk_kb.ask(question)
    assert ans.answer.startswith("知名專家——診查費：50元"), ans.answer


def test_a_simplified_rule_quotes_a_traditional_sentence(hk_kb):
    """The quote is matched through the rule in the documents' characters: the canonical term is written as they
    write it (陪護), not in simplified characters inside a traditional sentence, where jieba cut "陪护證遺失" into
    陪护 and 證遺失 and the lost pass's fee lost to a sentence saying 陪护 twice."""
    assert hk_kb.ask("陪床的人能住嗎").refused
    with synonyms(hk_kb, "陪床, 陪护"):
        stay = hk_kb.ask("陪床的人能住嗎")
        lost = hk_kb.ask("陪床證丟了怎麼辦")
    assert not stay.refused and "只安排1名固定陪護人員" in stay.answer, stay.answer
    assert lost.answer.startswith("陪護證遺失補辦收取工本費10元"), lost.answer


def test_the_kbs_rules_mean_their_terms_in_its_own_characters(hk_kb):
    from rag.synonyms.matcher import matcher

    with synonyms(hk_kb, "挂号费, 诊查费\n陪床 => 陪护\nATM card => debit card"):
        rules = hk_kb.synonyms
    m = matcher(rules)
    assert "診查費" in m.expansions("挂号费多少") and "陪護" in m.expansions("陪床的人能住吗")
    assert m.as_canonical("陪床證") == "陪護證"  # the documents' own word, as they write it
    assert rules.rules[2].means == ("debit card",)  # no Chinese: as written
