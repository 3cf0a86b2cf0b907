"""Extractive answers over the whole bundled sample (`make demo`'s documents, the default encoders):
every question a bank's customer asks gets a non-empty answer, cited, or the refusal; and the answers
found wrong or empty by asking `make demo`'s KB stay right."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# question -> words the answer must hold (None: any cited answer or the refusal)
QUESTIONS: dict[str, tuple[str, ...] | None] = {
    # the README's sample questions
    **{q: None for q in (ROOT / "data" / "sample_questions.txt").read_text(encoding="utf-8").splitlines() if q.strip()},
    # everyday customer questions, many of which the sample does not answer: a cited quote or the refusal
    **{q: None for q in (ROOT / "tests" / "data" / "customer_questions.txt").read_text(encoding="utf-8").splitlines()
       if q.strip()},
    # emptied by the facts check reading the fee schedule's row as "收费标准：…；备注：…免收"
    "房贷提前还款要交违约金吗？": ("1%",),
    # the notice's title line (plain text, no markup) had been quoted as what to do; the ways to report the
    # loss at once are the steps under 临时挂失 ("发现卡片丢失后，可通过以下任一方式立即办理临时挂失")
    "银行卡丢了怎么办？": ("400-106-9588", "选择需挂失的卡片"),
    # refused: jieba cuts 补卡要, which no passage has
    "补卡要多少钱？": ("5元",),
    # the savings withdrawal limits, ranked first, had been quoted
    "How much is an ATM withdrawal outside the U.S.?": ("$5.00",),
    # the page's opening sentences had been quoted
    "Is the Quayside branch open on Saturday?": ("Quayside", "3:00 p.m. on Saturdays"),
    "What is the fee for a stop payment?": ("$30",),
    "Do you offer personal loans, and what is the maximum amount?": ("$50,000",),
    # the heading "Safe deposit boxes" had been quoted as a sentence
    "Which branches have safe deposit boxes and how much do they cost?": ("Quayside Main and Old Town",),
    "周末网点营业吗？": None,
    "一天最多能转多少钱？": None,
    # a sentence about fees not charged had been quoted: "how many" asks for a count
    "How many overdraft fees can I be charged in one day?": ("3 fees",),
    "Does Harbor Bank share my data with third parties?": None,
    "What happens if I forget my password?": ("Forgot password",),
    # the top passage's row says it in other words ("Returned deposited item (a check you deposited
    # bounces)", 第二套住房 最低首付比例): quoted by meaning; the inactivity fee and 首付款收据 had been
    "What's the fee if I bounce a check?": ("$12",),
    "二套房首付多少？": ("30%",),
    # a duration, not an amount: the age rule had been quoted; the maximum term is the table's row
    "房贷最长能贷多少年？": ("最长贷款期限", "30年"),
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, ens):
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager
    from rag.adapt.tune_refusal import index_calibrated
    from rag.config import Settings
    from rag.pipeline import build_pipeline

    home = tmp_path_factory.mktemp("sample") / "home"
    manager = KBManager(IndexerSettings(home=home, embed_model="e5+minilm"), encoders={"e5+minilm": ens})
    settings = Settings.load(indexer={"home": home}, answer={"mode": "extract"})
    index_calibrated(settings, "demo", manager, [str(ROOT / "data" / "sample")])  # the KB and refusal threshold `rag index` leaves
    return build_pipeline(settings, "demo", manager, reranker=None)


@pytest.mark.parametrize("question", list(QUESTIONS))
def test_every_sample_question_gets_a_cited_answer_or_the_refusal(pipeline, question):
    ans = pipeline.ask(question)
    assert ans.answer.strip(), question
    assert ans.refused or ans.citations, (question, ans.answer)
    for words in QUESTIONS[question] or ():
        assert not ans.refused and words in ans.answer, (question, ans.answer)


def test_a_heading_is_not_quoted_as_an_answer(pipeline):
    """The section heading "Safe deposit boxes" shares the question's words and had been quoted as a
    sentence of its own, before the one that answers."""
    ans = pipeline.ask("Which branches have safe deposit boxes and how much do they cost?")
    assert ans.answer.startswith("Safe deposit boxes are available at the Quayside Main and Old Town branches")


# about the bank, in the sample's words, and not in it: quoted before the quote itself was checked
NOT_IN_THE_SAMPLE = ("Is there free Wi-Fi in the branches?", "What is the dress code for bank staff?")


@pytest.mark.parametrize("question", NOT_IN_THE_SAMPLE)
def test_a_quote_off_the_question_is_the_refusal(pipeline, question):
    """The passage passes the refusal threshold (the question is about banking), the sentence quoted from it
    ("Branch - Everyday Checking: $250,000 per day") does not, by QUOTE_MARGIN: the refusal, saying why."""
    from rag.answering.extract import fallback_answer

    hits = pipeline.retriever.run(question, pipeline.settings.answer.top_k)
    assert fallback_answer(question, hits, pipeline._cross(), min_meaning=pipeline.min_meaning(question))
    ans = pipeline.ask(question)
    assert ans.refused and not ans.citations, (question, ans.answer)
    assert "does not match the question" in ans.fallback_reason


@pytest.mark.parametrize("question", [
    "信用卡年费多少钱？",  # had: the debit card's fee deduction rule; the sample gives no credit card fee
    "Somebody used my lost debit card and I only told the bank a week later. How much could I be on the hook for?",
])
def test_an_amount_asked_for_and_not_given_is_the_refusal(pipeline, question):
    ans = pipeline.ask(question)
    assert ans.refused and not ans.citations, (question, ans.answer)
    assert ans.fallback_reason == "the passages give no amount for it"


def test_a_thing_asked_for_and_not_named_by_the_quote_is_the_refusal(pipeline):
    # had: "所有网点均设有无障碍通道和爱心窗口 ...", which shares 网点 and says nothing of parking
    ans = pipeline.ask("网点有停车位吗？")
    assert ans.refused and not ans.citations, ans.answer
    assert ans.fallback_reason == "the quoted passage does not mention what the question asks about"
    # had: the complaints hotline ("中国人民银行...投诉电话：12363"), which shares 银行 and says nothing of insurance
    ans = pipeline.ask("你们银行提供宠物保险吗？")
    assert ans.refused and not ans.citations, ans.answer
    # "有没有办法免掉" asks how to avoid the fee, not whether a thing is there: the fee row answers it
    ans = pipeline.ask("普卡一年收多少年费？有没有办法免掉？")
    assert not ans.refused and "首年免收" in ans.answer, ans.answer


def test_a_follow_up_quote_is_checked_against_the_question_it_follows(pipeline):
    """"And a domestic one?" alone is far from any sentence; searched with the question before it, it is
    checked with it too, and answered."""
    history = [{"role": "user", "content": "What does an international wire cost?"},
               {"role": "assistant", "content": "..."}]
    ans = pipeline.ask("And a domestic one?", history=history)
    assert not ans.refused and "domestic" in ans.answer, ans.answer


def test_an_extract_off_the_question_replaces_no_generated_answer(pipeline):
    """With the model writing, an answer no passage supports is replaced by an extract, or refused: an
    extract off the question replaces nothing (the unsupported answer is then refused)."""
    from rag.answering.extract import fallback_answer
    from rag.pipeline import _replacing_extract

    question = NOT_IN_THE_SAMPLE[0]
    hits = pipeline.retriever.run(question, pipeline.settings.answer.top_k)
    cross = pipeline._cross()
    unsupported = "Yes, every branch has free Wi-Fi for customers."
    args = (question, unsupported, [], False, hits)
    unchecked = lambda: fallback_answer(question, hits, cross, min_meaning=pipeline.min_meaning(question))  # noqa: E731
    extract, why = _replacing_extract(*args, unchecked)  # no quote check: the extract replaces it
    assert extract and "supported" in why
    assert _replacing_extract(*args, lambda: pipeline.checked_extract(question, hits, cross)[0]) == (None, "")


def test_an_elliptical_follow_up_gets_what_the_question_before_asked_of_its_own_subject(pipeline):
    """"金卡呢" after "普卡年费多少" was refused: it asks no amount itself. It is quoted when one sentence names
    金卡, holds a word of the question before (年费) and gives its amount; "信用卡呢？" after "借记卡年费多少钱？"
    stays refused: no sentence gives a credit card's annual fee (one about its conversion fee does not)."""
    history = [{"role": "user", "content": "普卡年费多少"}, {"role": "assistant", "content": "..."}]
    gold = pipeline.ask("金卡呢", history=history)
    assert not gold.refused and "50元" in gold.answer, gold.answer
    history = [{"role": "user", "content": "借记卡年费多少钱？"}, {"role": "assistant", "content": "..."}]
    credit = pipeline.ask("信用卡呢？", history=history)
    assert credit.refused, credit.answer
