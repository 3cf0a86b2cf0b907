"""A question whether something takes money asks for an amount (rag.answering.asks.asked_kind: "money"): "挂号要钱吗",
"收钱吗", "花钱吗", as English "is there a fee for ...?" already did. "我爸65了挂号要钱吗" over the hospital's registration
guide, whose passages retrieved give no fee, had quoted "70岁以上老人……可凭相关证件到门诊楼1楼“爱心窗口”优先挂号": as a
question asking for an amount, a quote giving none, and not saying it is free, is the refusal (rag.pipeline._not_given).
"收费吗" and English "does it cost anything" are left as they were: asking for an amount, the extract preferred a
second sentence giving one ("跨行取款收费吗" got the overseas ATM fee after the answer in place of the gold cards' free
withdrawals), and "... does it cost anything?" over a club table whose row says "Fee per term: Free" was refused."""
from __future__ import annotations

import pytest

from rag.answering.asks import asked_kind
from tests.rag.quoting_kb import written_pipeline


@pytest.mark.parametrize("question", ["挂号要钱吗", "我爸65了挂号要钱吗", "停车收钱吗", "办卡要花钱吗", "is there a fee to register?"])
def test_whether_it_costs_asks_for_an_amount(question):
    assert asked_kind(question) == "money"


@pytest.mark.parametrize("question", ["要带什么证件", "钱包丢了怎么办", "How do I pay?"])
def test_other_questions_ask_no_amount(question):
    assert asked_kind(question) is None


GUIDE_ZH = ("门诊挂号须知\n\n优先服务\n\n70岁以上老人、现役军人、残疾人、孕妇可凭相关证件到门诊楼1楼爱心窗口优先挂号、优先就诊。\n\n"
            "挂失\n\n银行卡丢失后可拨打客服电话办理临时挂失，临时挂失免费。")
GUIDE_EN = ("Registration\n\nPriority service\n\nPatients over 70, veterans and pregnant women may register first at the "
            "Help Desk on the ground floor of the Outpatient Building.\n\nShuttle\n\n"
            "The hospital shuttle runs every 20 minutes from Central Station and is free of charge.")


@pytest.fixture(scope="module")
def guide_kb(tmp_path_factory, ens):
    return written_pipeline(tmp_path_factory.mktemp("costs"), "costs", {"挂号须知.md": GUIDE_ZH, "guide.md": GUIDE_EN}, ens)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["我爸65了挂号要钱吗", "is there a fee to register at the help desk"],
                         ids=["zh", "en"])
def test_whether_it_costs_answered_with_no_amount_is_the_refusal(guide_kb, question):
    ans = guide_kb.ask(question)
    assert ans.refused and not ans.citations, ans.answer
    assert ans.fallback_reason == "the passages give no amount for it"


@pytest.mark.slow
@pytest.mark.parametrize("question, words", [("临时挂失要钱吗", "临时挂失免费"), ("is there a fee for the shuttle", "free of charge")],
                         ids=["zh", "en"])
def test_whether_it_costs_answered_that_it_is_free(guide_kb, question, words):
    ans = guide_kb.ask(question)
    assert not ans.refused and words in ans.answer, ans.answer
