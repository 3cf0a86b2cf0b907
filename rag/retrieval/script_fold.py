"""Traditional Chinese questions: users in Hong Kong, Macao and Taiwan write 門診幾點開始？ where the documents say
门诊几点开始 (or the other way round). BM25's words do not match across the two scripts and the dense scores fall
below the refusal threshold (7 of 10 traditional questions over a simplified hospital and school KB were
refused), so a question with traditional characters is also asked in simplified characters, and the variant
whose passages the KB backs better is answered (rag.pipeline). The mapping is OpenCC's t2s tables (the
pure-Python `opencc-python-reimplemented`, Apache-2.0, its dictionaries in the package: nothing downloaded)."""
from __future__ import annotations

from functools import lru_cache

from indexer.script import CJK_CHAR


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


@lru_cache(maxsize=1024)
def simplified(text: str) -> str:
    """`text` with traditional Chinese characters (and OpenCC's phrase forms) in simplified ones; text without
    Chinese as it is."""
    return _t2s().convert(text) if CJK_CHAR.search(text) else text
