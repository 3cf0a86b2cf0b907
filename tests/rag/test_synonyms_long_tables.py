"""A long table's column that a question names through the KB's synonyms (rag.answering.table_rows.column_quote):
"挂号费多少" over a 20-row price list whose column is 诊查费. A short table's column was quoted row by row, a longer
one not at all (the question got a sentence about the prices). Now the row the question also names gives its
cell; naming none, the column's first rows are quoted, with how many rows the table has and which are left out."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.rag.quoting_kb import quoting_pipeline, synonyms

HOSPITAL = Path(__file__).resolve().parents[2] / "data" / "eval" / "domains" / "hospital" / "docs"

ZH_ROWS = [("普通门诊", "10元", "住院医师或主治医师出诊"), ("急诊", "15元", "24小时开放"), ("夜间门诊", "12元", "18:00—21:00"),
           ("副主任医师", "20元", ""), ("主任医师", "30元", ""), ("知名专家", "50元", "每周出诊时间见公众号"),
           ("特需门诊", "300元", "需提前预约"), ("便民门诊", "免收诊查费", "仅限慢病患者开药"), ("互联网复诊", "8元", "仅限复诊"),
           ("多学科会诊", "500元", "3个以上科室"), ("儿科专家", "40元", ""), ("口腔专家", "40元", ""), ("中医专家", "35元", ""),
           ("名老中医", "80元", "每周二、周四上午"), ("康复门诊", "15元", ""), ("心理咨询", "100元", "每次50分钟"),
           ("营养门诊", "20元", ""), ("疼痛门诊", "25元", ""), ("戒烟门诊", "免收诊查费", "公益门诊"), ("护理门诊", "10元", "")]
EN_ROWS = [("General clinic", "$20", "Resident or attending doctor"), ("Evening clinic", "$25", "6 pm to 9 pm"),
           ("Weekend clinic", "$30", "Saturday and Sunday"), ("Urgent care", "$45", "Open 24 hours"),
           ("Associate specialist", "$40", ""), ("Senior specialist", "$60", ""), ("Renowned expert", "$100", "By referral"),
           ("Telehealth follow-up", "$15", "Follow-up visits only"), ("Dental check", "$35", ""), ("Eye clinic", "$35", ""),
           ("Hearing clinic", "$35", ""), ("Skin clinic", "$40", ""), ("Sleep clinic", "$50", "Overnight study extra"),
           ("Pain clinic", "$45", ""), ("Diet clinic", "$25", ""), ("Travel clinic", "$30", "Vaccines extra"),
           ("Sports clinic", "$40", ""), ("Memory clinic", "$55", ""), ("Smoking cessation clinic", "Free", "Funded by the city"),
           ("Nurse clinic", "$10", "")]


def _table(header: str, rows) -> str:
    return header + "".join(f"| {a} | {b} | {c} |\n" for a, b, c in rows)


ZH_PAGE = ("# 门诊收费标准\n\n本院门诊诊查费按号别收取，执行省医疗服务价格规定。医保患者按规定比例报销。\n\n## 各号别诊查费一览\n\n"
           + _table("| 号别 | 诊查费 | 说明 |\n|------|--------|------|\n", ZH_ROWS) + "\n以上价格如有调整，以门诊大厅公示为准。\n")
EN_PAGE = ("# Outpatient prices\n\nEach outpatient visit is charged a consultation fee by the kind of clinic. Insurance "
           "covers part of it under your plan.\n\n## Consultation fees by clinic\n\n"
           + _table("| Clinic | Consultation fee | Notes |\n|---|---|---|\n", EN_ROWS)
           + "\nPrices may change; the price board in the main hall is current.\n")


@pytest.fixture(scope="module")
def prices_kb(tmp_path_factory, ens):
    """The two price lists with two of the hospital's pages, indexed with the default encoders and the threshold
    `rag index` calibrates."""
    root = tmp_path_factory.mktemp("prices")
    docs = root / "docs"
    docs.mkdir()
    (docs / "menzhen-shoufei.md").write_text(ZH_PAGE, encoding="utf-8")
    (docs / "outpatient-prices.md").write_text(EN_PAGE, encoding="utf-8")
    shutil.copy(HOSPITAL / "zh" / "jiaotong-tingche.txt", docs)
    shutil.copy(HOSPITAL / "en" / "parking-and-directions.txt", docs)
    return quoting_pipeline(root / "home", "prices", docs, ens)


@pytest.mark.parametrize("question, rules, expected", [
    ("挂号费多少", "挂号费, 诊查费",
     "普通门诊——诊查费：10元[1]。急诊——诊查费：15元[1]。夜间门诊——诊查费：12元[1]。副主任医师——诊查费：20元[1]。"
     "主任医师——诊查费：30元[1]。知名专家——诊查费：50元[1]。该表共20行，其余14行（特需门诊至护理门诊）见原文[1]。"),
    ("How much is the visit fee?", "visit fee => consultation fee",
     "General clinic - Consultation fee: $20 [1]. Evening clinic - Consultation fee: $25 [1]. Weekend clinic - "
     "Consultation fee: $30 [1]. Urgent care - Consultation fee: $45 [1]. Associate specialist - Consultation fee: "
     "$40 [1]. Senior specialist - Consultation fee: $60 [1]. The table has 20 rows; the other 14 (Renowned expert "
     "to Nurse clinic) are in the document [1]."),
])
def test_a_long_tables_column_gives_its_first_rows_and_says_how_many_more(prices_kb, question, rules, expected):
    assert prices_kb.ask(question).refused
    with synonyms(prices_kb, rules):
        ans = prices_kb.ask(question)
    assert ans.answer == expected
    assert Path(ans.citations[0].source).name in ("menzhen-shoufei.md", "outpatient-prices.md")


@pytest.mark.parametrize("question, rules, expected", [
    ("心理咨询挂号费多少钱", "挂号费, 诊查费", "心理咨询——诊查费：100元[1]。"),
    ("名医号的挂号费多少", "挂号费, 诊查费\n名医号, 知名专家", "知名专家——诊查费：50元[1]。"),  # the row through a rule too
    ("How much is the visit fee for the sleep clinic?", "visit fee => consultation fee",
     "Sleep clinic - Consultation fee: $50 [1]."),
])
def test_the_row_a_question_also_names_gives_its_cell_of_the_column(prices_kb, question, rules, expected):
    with synonyms(prices_kb, rules):
        assert prices_kb.ask(question).answer == expected


@pytest.mark.parametrize("question, rules", [("诊查费多少", "挂号费, 诊查费"),
                                             ("What is the consultation fee for the sleep clinic?",
                                              "visit fee => consultation fee")])
def test_a_question_in_the_documents_words_is_answered_as_without_the_rules(prices_kb, question, rules):
    before = prices_kb.ask(question).answer
    with synonyms(prices_kb, rules):
        assert prices_kb.ask(question).answer == before


def test_the_quote_of_a_long_column_is_bounded():
    """Rows of long cells: fewer first rows (two at least, here two), so the quote stays about COLUMN_QUOTE_CHARS
    long."""
    from rag.answering.equivalents import kb_synonyms
    from rag.answering.table_rows import COLUMN_QUOTE_CHARS, column_quote
    from rag.synonyms.rules import parse

    rows = [(f"Clinic {i}", f"${i} " + "plus a supplement for each extra test ordered during the visit " * 3, "")
            for i in range(1, 31)]
    page = _table("| Clinic | Consultation fee | Notes |\n|---|---|---|\n", rows)
    assert column_quote(page, "How much is the visit fee?") is None  # no KB synonyms: never
    with kb_synonyms(parse("visit fee => consultation fee")):
        quote = column_quote(page, "How much is the visit fee?")
    assert quote.startswith("Clinic 1 - Consultation fee: $1 plus") and "Clinic 2 - " in quote
    assert "Clinic 3 - " not in quote and len(quote) < COLUMN_QUOTE_CHARS + 200
    assert quote.endswith("The table has 30 rows; the other 28 (Clinic 3 to Clinic 30) are in the document.")


@pytest.mark.parametrize("header, rows, question, rules, tail", [
    ("| 科室 | 诊查费 | 说明 |\n|---|---|---|\n",
     [("内科", f"¥{10 + n}", f"第{n}档") for n in range(4)] + [("外科", f"¥{20 + n}", f"第{n}档") for n in range(4)],
     "挂号费多少", "挂号费, 诊查费", "外科——诊查费：¥21。该表共8行，其余2行（外科）见原文。"),
    ("| Clinic | Consultation fee | Notes |\n|---|---|---|\n",
     [("General", f"${10 + n}", f"level {n}") for n in range(4)] + [("Surgery", f"${20 + n}", f"level {n}")
                                                                  for n in range(4)],
     "How much is the visit fee?", "visit fee => consultation fee",
     "Surgery - Consultation fee: $21. The table has 8 rows; the other 2 (Surgery) are in the document."),
])
def test_a_long_column_whose_row_names_repeat_counts_the_rows_left_out(header, rows, question, rules, tail):
    """Rows grouped under a name each repeats (内科 over four kinds of doctor): every name of the rows left out is
    also a quoted row's. The quote counted the rows left out by name, found none, and failed (IndexError)."""
    from rag.answering.equivalents import kb_synonyms
    from rag.answering.table_rows import column_quote
    from rag.synonyms.rules import parse

    with kb_synonyms(parse(rules)):
        assert column_quote(_table(header, rows), question).endswith(tail)
