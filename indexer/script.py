"""Scripts and languages of text: the one home of the CJK character ranges and the language tests.

CJK here = CJK Unified Ideographs with extension A and the compatibility ideographs (the Han
characters of Chinese text); kana and Hangul are not included.
"""
from __future__ import annotations

import re
from functools import lru_cache

CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # for use inside a regex character class
CJK_CHAR = re.compile(rf"[{CJK_RANGES}]")
CJK_RUN = re.compile(rf"[{CJK_RANGES}]+")


def language(text: str) -> str:
    """'zh' when the text has any CJK character (a Chinese question with English terms is still
    Chinese), else 'en': picks the refusal message, the guard's reply and the answer mode."""
    return "zh" if CJK_CHAR.search(text) else "en"


def is_cjk(text: str) -> bool:
    """More than a third of the letters are CJK (Chinese text, possibly with Latin words; `_script`)."""
    return _script(text) == "zh"


_LETTER = re.compile(r"[^\W\d_]")


def _script(text: str) -> str | None:
    """'zh' when more than a third of the letters are CJK, 'latin' otherwise, None for text without letters.
    Letters, not characters: a timetable ("早读 | 7:20—7:50") is mostly digits and punctuation, and is Chinese
    (it had counted as Latin: a quarter of all characters). A third of the letters keeps a Chinese question
    holding English terms ("如何重置 VPN password?") matched by its English words, as a quarter of the
    characters did."""
    letters = len(_LETTER.findall(text))
    if not letters:
        return None
    return "zh" if len(CJK_CHAR.findall(text)) > letters / 3 else "latin"


def cross_script(a: str, b: str) -> bool:
    """One text is Chinese and the other is not: word overlap cannot compare them. Text without letters (a row
    of numbers) is in neither script."""
    sa, sb = _script(a), _script(b)
    return sa is not None and sb is not None and sa != sb


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def simplified(text: str) -> str:
    """`text` with traditional Chinese characters (and OpenCC's phrase forms) in simplified ones; text without
    Chinese as it is. Users in Hong Kong, Macao and Taiwan write 門診幾點開始？ where the documents say 门诊几点开始:
    rag.pipeline also asks such a question in simplified characters, and the input guard matches its patterns
    on the folded text. OpenCC's t2s tables (the pure-Python `opencc-python-reimplemented`, Apache-2.0, its
    dictionaries in the package: nothing downloaded)."""
    return _t2s().convert(text) if CJK_CHAR.search(text) else text


@lru_cache(maxsize=1)
def _character_table() -> dict[int, int]:
    """{code point: code point}: each traditional character (and Hong Kong or Taiwan variant) to its simplified
    one, from OpenCC's character tables only (TSCharacters.txt, its first reading; HKVariantsRev.txt and
    TWVariantsRev.txt before it), followed to a character the table leaves as it is (麼 -> 么 -> 幺), so folding
    twice folds as once."""
    from pathlib import Path

    import opencc

    folder = Path(opencc.__file__).parent / "dictionary"

    def read(name: str) -> dict[str, str]:
        pairs = (line.split("\t") for line in (folder / name).read_text(encoding="utf-8").splitlines() if "\t" in line)
        return {k: v.split(" ")[0] for k, v in pairs if len(k) == 1 and len(v.split(" ")[0]) == 1}

    chars, variants = read("TSCharacters.txt"), read("TWVariantsRev.txt") | read("HKVariantsRev.txt")
    table: dict[int, int] = {}
    for c in set(chars) | set(variants):
        seen = [c]
        while (nxt := chars.get(variants.get(seen[-1], seen[-1]), variants.get(seen[-1], seen[-1]))) not in seen:
            seen.append(nxt)
        if seen[-1] != c:
            table[ord(c)] = ord(seen[-1])
    return table


def simplified_chars(text: str) -> str:
    """`text` with each traditional character in a simplified one, one character for one (`_character_table`):
    where a match's place in the folded text must be its place in the text (rag.synonyms.matcher reads a KB's
    rules so in passages of either script). Coarser than `simplified`, which reads phrases (乾隆 stays 乾隆
    there, is 干隆 here): for comparing two texts folded alike, not for showing."""
    return text.translate(_character_table()) if CJK_CHAR.search(text) else text


@lru_cache(maxsize=3)
def _s2t(config: str):
    from opencc import OpenCC

    return OpenCC(config)


def traditional_forms(text: str) -> list[str]:
    """`text` in traditional characters as OpenCC writes them (its phrase tables: s2t, s2hk for Hong Kong,
    s2tw for Taiwan), each form once, those that differ from `text`; none for text without Chinese. A word has
    several ("里面": 裏面, 裡面; "卫生": 衛生, 衞生): which one a KB's documents use is theirs to say."""
    if not CJK_CHAR.search(text):
        return []
    return [f for f in dict.fromkeys(_s2t(c).convert(text) for c in ("s2t", "s2hk", "s2tw")) if f != text]
