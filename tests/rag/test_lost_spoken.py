"""Something one cannot find any more is lost: "银行卡找不到了怎么办" shared nothing with "发现卡片丢失后" (jieba cuts
找 / 不到), so make demo's KB answered it with the fraud section's 温馨提示 (卡片), not the steps of 一、临时挂失.
The packaged rule (rag/answering/equivalents.txt) reads 找不到了 / 找不着了 as 丢了; 找不到 alone may be a place
one is looking for."""
from __future__ import annotations

import pytest

from rag.answering.equivalents import as_words
from rag.answering.extract import fallback_answer
from rag.types import Hit

FRAUD = ("如果发现账户有不是本人进行的交易，请按以下步骤处理：\n1. 立即拨打400-106-9588挂失，防止损失扩大；\n"
         "2. 就近在本行ATM上查询余额或取款，留下“卡在人在”的交易凭证；\n3. 及时向公安机关报案，并保留报案回执。\n"
         "温馨提示：银行工作人员不会向您索要短信验证码和交易密码，请妥善保管卡片和密码，不要将卡片借给他人使用。")
LOSS = ("发现卡片丢失后，可通过以下任一方式立即办理临时挂失，临时挂失免费：\n"
        "1. 拨打港湾银行24小时客服热线400-106-9588，按语音提示转人工服务，核实身份后即可挂失；\n"
        "2. 登录港湾银行手机银行，进入“我的—银行卡管理—挂失”，选择需挂失的卡片并完成人脸识别；\n"
        "3. 身在境外时，请拨打+86-21-6188-9588（可对方付费）。")


@pytest.mark.parametrize("question", ["银行卡找不到了怎么办", "我的卡找不着了怎么办"])
def test_a_card_one_cannot_find_gets_the_steps_for_a_lost_card(question):
    hits = [Hit(chunk_id="f", doc_id="d", text=FRAUD, score=0.9, source="挂失.md", title="六、发现盗刷怎么办"),
            Hit(chunk_id="l", doc_id="d", text=LOSS, score=0.8, source="挂失.md", title="一、临时挂失（口头挂失）")]
    answer = fallback_answer(question, hits)
    assert answer.startswith("1. 拨打港湾银行24小时客服热线") and "温馨提示" not in answer


def test_a_place_one_cannot_find_is_not_lost():
    assert as_words("银行卡找不到了") == "银行卡丢了"
    assert as_words("找不到网点入口") == "找不到网点入口"
