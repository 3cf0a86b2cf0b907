""""押金多少", "租金是多少", "价格多少" ask for an amount of money, as "年费是多少" does: "住宿押金多少 退宿能退吗" was read
as asking for no kind of number, so the fee table's row 住宿押金 (200元), in the passage ranked second, lost to the
first passage's sentence on the deposit's refund, which holds as many of the question's words."""
from __future__ import annotations

import pytest

from rag.answering.asks import asked_kind
from rag.answering.extract import fallback_answer
from rag.types import Hit


@pytest.mark.parametrize("question", ["住宿押金多少", "押金是多少？", "保证金要多少", "储物柜租金是多少", "校服价格多少"])
def test_a_deposit_rent_or_price_asked_how_much_is_money(question):
    assert asked_kind(question) == "money"


@pytest.mark.parametrize("question", ["押金能退吗", "押金怎么退？", "What deposit do I pay?"])
def test_asking_about_a_deposit_otherwise_asks_no_amount(question):
    assert asked_kind(question) is None


REFUND = ("1. 学生退宿须由家长提前一个月向宿管中心提交书面申请;\n2. 宿管员检查宿舍物品,无损坏的全额退还押金;\n"
          "3. 学期中途退宿的,住宿费按剩余整月退还,不足一个月按一个月收取。")
FEES = ("项目 | 适用对象 | 收费标准(元) | 计费周期 | 备注\n一卡通补办 | 遗失校园卡的学生 | 20 | 每次 | 当场补卡\n"
        "住宿押金 | 新住宿生 | 200 | 一次性 | 退宿时检查宿舍物品无损坏后全额退还\n住宿费 | 初中住宿生 | 800 | 每学期 | 六人间")


def test_the_deposit_row_answers_how_much_the_deposit_is():
    hits = [Hit(chunk_id="r", doc_id="dorm", text=REFUND, score=0.9, source="宿舍管理.md", title="三、退宿办法"),
            Hit(chunk_id="f", doc_id="fees", text=FEES, score=0.8, source="收费.csv", title="")]
    answer = fallback_answer("住宿押金多少 退宿能退吗", hits)
    assert answer.startswith("住宿押金——适用对象：新住宿生；收费标准(元)：200；") and answer.endswith("[2]。")
