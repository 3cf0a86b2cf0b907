"""Chinese automatic numbering in Word documents: "一、总则", "（二）适用范围", "壹、".

Word computes a numbered paragraph's label when it draws it; unstructured renders the label from
numbering.xml, but only in Western formats (decimal, letters, roman). A label in a Chinese format raised
its "unrenderable" signal and was dropped, so the headings and items of a Chinese notice or regulation
("一、总则" ... "五、收费") lost their numbers and "第三项" could not be found by its number. install()
teaches unstructured's renderer the East Asian formats Word and WPS write; every other format is left to
unstructured as before.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

_DIGITS = "零一二三四五六七八九"
_LEGAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_TRADITIONAL_DIGITS = "〇一二三四五六七八九"
_UNITS = ("", "十", "百", "千")
_LEGAL_UNITS = ("", "拾", "佰", "仟")
_HEAVENLY_STEMS = "甲乙丙丁戊己庚辛壬癸"
_EARTHLY_BRANCHES = "子丑寅卯辰巳午未申酉戌亥"
_MOST = 9999  # four Chinese digits: numbering past this is not something a document does


def chinese_number(value: int, digits: str = _DIGITS, units: tuple[str, ...] = _UNITS,
                   bare_ten: bool = True) -> str:
    """1 -> 一, 10 -> 十, 21 -> 二十一, 105 -> 一百零五 (Word's chineseCounting and ...Thousand)."""
    if value == 0:
        return digits[0]
    places = [int(d) for d in str(value)][::-1]
    out: list[str] = []
    zero_pending = False
    for power in range(len(places) - 1, -1, -1):
        digit = places[power]
        if digit == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out.append(digits[0])
            zero_pending = False
        if not (bare_ten and digit == 1 and power == 1 and not out):
            out.append(digits[digit])
        out.append(units[power])
    return "".join(out)


def _full_width(value: int) -> str:
    return "".join(chr(ord("０") + int(d)) for d in str(value))


_FORMATS: dict[str, Callable[[int], str | None]] = {
    "chineseCounting": lambda n: chinese_number(n) if 0 < n <= _MOST else None,
    "chineseCountingThousand": lambda n: chinese_number(n) if 0 < n <= _MOST else None,
    "taiwaneseCounting": lambda n: chinese_number(n, _TRADITIONAL_DIGITS) if 0 < n <= _MOST else None,
    "taiwaneseCountingThousand": lambda n: chinese_number(n, _TRADITIONAL_DIGITS) if 0 < n <= _MOST else None,
    "japaneseCounting": lambda n: chinese_number(n) if 0 < n <= _MOST else None,
    "chineseLegalSimplified": lambda n: (chinese_number(n, _LEGAL_DIGITS, _LEGAL_UNITS, bare_ten=False)
                                         if 0 < n <= _MOST else None),
    "ideographTraditional": lambda n: _HEAVENLY_STEMS[(n - 1) % 10] if n > 0 else None,
    "ideographZodiac": lambda n: _EARTHLY_BRANCHES[(n - 1) % 12] if n > 0 else None,
    "decimalFullWidth": lambda n: _full_width(n) if n >= 0 else None,
    "decimalFullWidth2": lambda n: _full_width(n) if n >= 0 else None,
    "decimalEnclosedParen": lambda n: chr(0x2474 + n - 1) if 1 <= n <= 20 else f"({n})",
    "decimalEnclosedFullstop": lambda n: chr(0x2488 + n - 1) if 1 <= n <= 20 else f"{n}.",
}


def install() -> None:
    """Wrap unstructured's label renderer once: East Asian formats here, the rest as before."""
    from unstructured.partition import docx as unstructured_docx

    labels: Any = getattr(unstructured_docx, "_ListLabels", None)
    original = getattr(labels, "_format_number", None)
    if original is None or getattr(original, "_east_asian", False):
        return  # another unstructured version (no such renderer), or installed already

    def format_number(value: int, num_fmt: str) -> str:
        render = _FORMATS.get(num_fmt)
        label = render(value) if render is not None else None
        return label if label is not None else original(value, num_fmt)

    format_number._east_asian = True  # type: ignore[attr-defined]
    labels._format_number = staticmethod(format_number)
