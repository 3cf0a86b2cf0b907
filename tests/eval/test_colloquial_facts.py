"""bench/bench_colloquial.py's fact check: an amount a row quote gives under a header naming its currency names the
amount ("住宿押金——收费标准(元)：200" names "200元"), as the answer's reader takes it; a number of another size or
under another currency does not."""
from __future__ import annotations

from bench.bench_colloquial import holds_fact

# the school's fee table as rag.answering.table_rows quotes its row (data/eval/domains/school/docs/nanhu-fees-2024-2025.csv)
ZH_ROW = "住宿押金——适用对象：新住宿生；收费标准(元)：200；计费周期：一次性；备注：退宿时检查宿舍物品无损坏后全额退还[1]。"
EN_ROW = "Exam remark - Price (CAD): 40; Notes: refunded if the mark changes [1]."


def test_an_amount_under_its_currency_header_names_the_fact():
    assert holds_fact(ZH_ROW, ["200元"])
    assert holds_fact(EN_ROW, ["CAD 40"])
    assert holds_fact("Stop payment - Fee ($): 30.00 [1].", ["$30"])


def test_another_number_or_currency_under_the_header_does_not():
    assert not holds_fact(ZH_ROW.replace("200", "2000"), ["200元"])
    assert not holds_fact(ZH_ROW.replace("(元)", "(美元)"), ["200元"])
    assert not holds_fact(ZH_ROW, ["$200"])
    assert not holds_fact(EN_ROW, ["CAD 4"])
    assert not holds_fact("Stop payment - Fee ($): 3 [1].", ["$30"])
