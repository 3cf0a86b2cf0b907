"""A table cell that is an amount: a number with its currency or unit, and nothing else ("10元", "45元/天",
"¥10", "$5 per month", "5%", "3天", "2次"). An amount is a row's value, never its name
(rag.answering.table_rows: which column names the rows).

    is_amount("10元") -> True      is_amount("普通号") -> False

Not amounts: a tier of amounts ("1万元以下", "1万元至10万元（含）": it names its row in a fee table by amount),
and a term in months or years ("3个月", "1年": a deposit's or loan's term names its row).
"""
from __future__ import annotations

import re

_NUMBER = r"(?:\d[\d,]*(?:\.\d+)?|[〇零一二两三四五六七八九十百千]+)\s*[千万亿]?"
_CURRENCY = r"(?:[¥￥$€£]|RMB|CNY|USD|HKD|EUR|人民币)"
_UNIT = (r"(?:元|块|角|毛|美元|港元|港币|欧元|日元|英镑|%|％|‰|次|天|日|笔|个?工作日|小时|分钟"
         r"|yuan|dollars?|cents?|percent|times?|days?|business days?|hours?|minutes?)")
_PER = r"(?:\s*(?:/|每|per\b|a\b|an\b|each\b)\s*[^\W\d_]+)"
# "10万": a count of ten thousands is an amount without a unit too
_AMOUNT = re.compile(rf"(?:{_CURRENCY}\s*{_NUMBER}\s*{_UNIT}?|{_NUMBER}\s*{_UNIT}|\d[\d,.]*\s*[万亿]){_PER}?",
                     re.IGNORECASE)


def is_amount(cell: str) -> bool:
    """Is `cell` a number with its currency or unit and nothing else (a value, not a name)?"""
    return bool(_AMOUNT.fullmatch(cell.strip()))
