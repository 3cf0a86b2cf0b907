"""Tokenizer for BM25 and token counting: English words (lower-cased, stemmed, stop words
dropped) and Chinese words (jieba, search mode), in one pass over mixed text."""
from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

from indexer.script import CJK_CHAR, CJK_RUN  # noqa: F401  (re-exported: the tokenizer's view of scripts)
from indexer.script import CJK_RANGES as _CJK

_WORD = rf"[^\W_{_CJK}]+"
TOKEN = re.compile(rf"[{_CJK}]+|{_WORD}(?:['’]{_WORD})?")
WORD_OR_CJK_CHAR = re.compile(rf"[{_CJK}]|{_WORD}")

EN_STOP = frozenset("""a an and are as at be by for from has have in is it its of on or that the this to was were
will with i you he she we they me my your our do does did can could would should what which who whom how when
where why if then than there their them these those so not no but into about over under up out also any all
am been being shall may might must just only very s t""".split())
ZH_STOP = frozenset("的 了 和 是 在 我 有 也 就 都 而 及 与 或 一个 这 那 之 为 对 吗 呢 吧 啊 请问 如何 怎么 什么 哪些 可以 我们 你们 他们 您".split())


@lru_cache(maxsize=1)
def jieba_tokenizer():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def warm_up_in_background() -> threading.Thread:
    """Load jieba's dictionary (~0.6 s) in a daemon thread, e.g. while an embedding model loads."""
    thread = threading.Thread(target=lambda: (jieba_tokenizer(), _stemmer()), name="tokenizer-warm-up", daemon=True)
    thread.start()
    return thread


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: Snowball in C

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem_word(word: str) -> str:
    return _stemmer().stemWord(word)


def tokenize(text: str) -> list[str]:
    """BM25 tokens for mixed English/Chinese text."""
    out: list[str] = []
    for m in TOKEN.finditer(text.lower()):
        tok = m.group(0)
        if CJK_RUN.fullmatch(tok):
            for w in jieba_tokenizer().cut_for_search(tok):
                if w not in ZH_STOP:
                    out.append(w)
        else:
            tok = tok.replace("’", "'")
            if tok in EN_STOP or tok.startswith("'"):
                continue
            out.append(stem_word(tok.split("'")[0]) if tok.isascii() else tok)
    return out


def count_tokens(text: str) -> int:
    """Size measure used by the chunker: words, plus one per CJK character."""
    return len(WORD_OR_CJK_CHAR.findall(text))
