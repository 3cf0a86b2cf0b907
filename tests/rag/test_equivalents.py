"""The built-in equivalences (rag/answering/equivalents.txt): rules in a KB's synonym format, read by its parser,
that read a document's words as the word a question uses (a bank's 跨行 for 其他银行) in every KB."""
from __future__ import annotations

import random
import re

from rag.answering.equivalents import BUILT_IN_FILE, as_words, built_in, kb_synonyms
from rag.synonyms.rules import parse

# the patterns the code held before the rules moved to the packaged file: the file must read every text as they did
_CODE_PATTERNS = (("跨行", re.compile(r"其他银行|(?<!其)他行(?![业为政走动])")),
                  ("住房贷款", re.compile(r"(?<!住)房贷(?!款)")))


def _as_the_code_read(text: str) -> str:
    for word, phrase in _CODE_PATTERNS:
        text = phrase.sub(word, text)
    return text


def test_the_packaged_rules_read_every_text_as_the_code_did():
    """跨行 <- 其他银行 / 他行 and 住房贷款 <- 房贷 were regexes in equivalents.py (a bank's words in a generic
    module, out of an operator's sight); they are rules of the packaged list now, each exception ("其他行业",
    "住房贷款") a term meaning itself. Texts made of the rules' characters, and the documents' own lines, are
    read exactly as before."""
    rnd = random.Random(11)
    alphabet = "其他行银业为政走动房贷住款跨 x"
    texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 14))) for _ in range(20000)]
    texts += ["其他行为规范；其他行业客户", "他行ATM取款；其他银行", "住房贷款利率", "房贷利率", "他行房贷款", "住他行房贷"]
    assert [as_words(t) for t in texts] == [_as_the_code_read(t) for t in texts]
    assert as_words("他行ATM取款；其他银行") == "跨行ATM取款；跨行" and as_words("房贷利率") == "住房贷款利率"
    assert as_words("其他行业客户") == "其他行业客户" and as_words("住房贷款") == "住房贷款"


def test_the_built_in_rules_come_before_the_kbs_own():
    with kb_synonyms(parse("跨行, 异地银行")):
        assert as_words("其他银行ATM取款") == "跨行ATM取款"  # read as 跨行, then as the KB rule's canonical term
    with kb_synonyms(parse("异地银行, 跨行")):
        assert as_words("其他银行ATM取款") == "异地银行ATM取款"


def test_the_file_is_a_synonym_list_read_once():
    rules = parse(BUILT_IN_FILE.read_text(encoding="utf-8"))
    assert rules.rules and built_in() is built_in()
    assert parse(rules.text()) == rules  # a term meaning only itself is written back with its arrow
    assert "其他行 => 其他行" in rules.text()
