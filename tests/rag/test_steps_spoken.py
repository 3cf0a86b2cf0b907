"""Steps asked for in spoken words (rag.answering.steps, extract._steps_answer), over make demo's own card and
password notices. "卡丢了怎么办" was answered with the steps under "六、发现盗刷怎么办": the first passage with a
list whose heading shared a word with the question (怎么办) and whose steps another (卡, in "卡在人在"); the
temporary loss report's list ("发现卡片丢失后，可通过以下任一方式……") was not matched at all, 丢 not being 丢失
nor 卡 卡片. "密码忘了怎么办" got the password guide's opening sentence: 忘 is not 忘记 to the tokenizer. The
steps now come from the passage whose heading and list introduction hold the most of the question's words,
matched as quotes are (a spoken verb and the word a document writes are one word)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.rag.quoting_kb import quoting_pipeline

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
FILES = ("zh/card_loss_reporting.txt", "zh/online_banking_password_reset.txt", "en/online_banking_password_reset.md",
         "en/lost_or_stolen_cards.txt")


@pytest.fixture(scope="module")
def pipe(tmp_path_factory, ens):
    docs = tmp_path_factory.mktemp("steps-docs")
    for rel in FILES:
        (docs / rel).parent.mkdir(exist_ok=True)
        shutil.copy(SAMPLE / rel, docs / rel)
    return quoting_pipeline(tmp_path_factory.mktemp("steps") / "home", "steps", docs, ens)


def _ask(pipe, question: str):
    ans = pipe.ask(question)
    assert not ans.refused, question
    return ans.answer


def test_a_lost_card_gets_the_ways_to_report_it_not_the_fraud_steps(pipe):
    answer = _ask(pipe, "卡丢了怎么办")
    assert answer.startswith("1. 拨打港湾银行24小时客服热线400-106-9588"), answer
    assert "选择需挂失的卡片" in answer and "公安机关" not in answer


def test_a_stolen_card_still_gets_the_fraud_steps(pipe):
    answer = _ask(pipe, "卡被盗刷了怎么办")
    assert answer.startswith("1. 立即拨打400-106-9588挂失"), answer
    assert "及时向公安机关报案" in answer


def test_a_forgotten_password_gets_the_reset_steps(pipe):
    answer = _ask(pipe, "密码忘了怎么办")
    assert answer.startswith("1. 打开港湾银行手机银行App"), answer
    assert "设置新的登录密码并确认" in answer


def test_english_reset_steps_keep_their_label_and_cite_after_it(pipe):
    answer = _ask(pipe, "How do I reset my password if I forgot it?")
    first = answer.splitlines()[0]
    assert first.startswith("1. ") and "Forgot password? [" in first, answer
    assert "create a new password" in answer
