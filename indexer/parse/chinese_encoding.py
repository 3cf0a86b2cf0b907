"""Chinese text in GBK / GB18030 or Big5 that charset-normalizer misreads (indexer.parse.encoding).

On a short file charset-normalizer has too little to go on: "退款手續費為五元。" in Big5 (18 bytes) came
out as Korean ("컃닥ㅲ쿱턔…", cp949), "退款手续费为五元€。" in GB18030 as Thai or Latin letters, and was
indexed as that mojibake. Here both Chinese readings are tried and judged by how common their
characters are: a right reading is made of everyday characters, a wrong one of rare ones (GBK bytes
read as Big5 give "豖遴忒哿煤峈拻啋"). Everyday means GB2312 level 1 (the 3,755 most used simplified
characters, lead bytes B0-D7) or Big5's frequently used block (5,401 traditional characters, A440-C67E).

Korean (EUC-KR) and Japanese (EUC-JP) share byte ranges with GB2312, so a reading with kana in it, or
with a space between many of its characters (Korean puts one between words, Chinese does not), is
left to charset-normalizer.
"""
from __future__ import annotations

import re

_CANDIDATES = ("gb18030", "cp950")  # cp950: Microsoft's Big5, what Windows in Taiwan and Hong Kong writes
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_SPACED_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff] (?=[\u3400-\u4dbf\u4e00-\u9fff])")
_SAMPLE_CHARS = 20_000  # judged on the start of the text: enough evidence, bounded time on a 50 MB file
MIN_HAN = 2
MIN_COMMON = 0.8  # of the Chinese characters; a genuine text has a few rare ones (names, terms)


def decode_chinese(data: bytes) -> str | None:
    """`data` decoded as Chinese text when a Chinese reading of it is clearly right, else None."""
    best, best_share = None, 0.0
    for encoding in _CANDIDATES:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        share = common_share(text[:_SAMPLE_CHARS])
        if share > best_share:
            best, best_share = text, share
    return best if best_share >= MIN_COMMON else None


def common_share(text: str) -> float:
    """Share of `text`'s Chinese characters that are everyday ones; 0 when it does not read as Chinese."""
    han = _HAN.findall(text)
    wide = sum(1 for ch in text if ord(ch) > 127)
    if len(han) < MIN_HAN or len(han) < wide / 2 or _KANA.search(text):
        return 0.0
    if len(_SPACED_HAN.findall(text)) > len(han) / 10:
        return 0.0
    return sum(map(_everyday, han)) / len(han)


def _everyday(ch: str) -> bool:
    for encoding, low, high in (("gb2312", 0xB0A1, 0xD7FE), ("big5", 0xA440, 0xC67E)):
        try:
            code = int.from_bytes(ch.encode(encoding), "big")
        except UnicodeEncodeError:
            continue
        if low <= code <= high:
            return True
    return False
