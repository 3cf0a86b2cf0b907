"""A question asking for a range of times ("营业时间是几点到几点？") asks with its 到: the 到 is no word a quote
must share. It was read as one, so the bank's "预约客户到网点后凭预约码优先办理" (sharing only 到) was quoted
from the first passage where the second gives the opening hours, and with a time asked for, that quote is the
refusal (tests/api/test_channels.py asks it of a WeCom channel over the bank's pages). A 到 naming a place or
a way ("从上海到杭州") is still the question's."""
from __future__ import annotations

import pytest

from rag.answering.words import quote_words


@pytest.mark.parametrize("question, words, kept", [
    ("营业时间是几点到几点？", {"营业时间"}, set()),
    ("周几至周几营业", {"营业"}, set()),
    ("从上海到杭州汇款多少钱", {"上海", "杭州"}, {"到"}),
    ("几点到校", {"到校"}, set()),
])
def test_the_to_of_a_range_asked_is_no_word_to_share(question, words, kept):
    got = quote_words(question)
    assert words <= got and "到" not in got - kept and "至" not in got, got
    assert kept <= got
