"""Synonym rules as an administrator writes them (rag.synonyms.rules) and as questions meet them
(rag.synonyms.matcher), in English and Chinese."""
from __future__ import annotations

import pytest

from rag.synonyms.matcher import matcher
from rag.synonyms.rules import MAX_BYTES, MAX_TERM_CHARS, Rule, SynonymError, Synonyms, parse


def test_two_way_one_way_and_comments():
    s = parse("# bank words\n挂号费，诊查费、门诊费\n\nATM card, cash card => debit card  # one-way\n")
    assert s.rules == (Rule(("挂号费", "诊查费", "门诊费"), ("挂号费", "诊查费", "门诊费")),
                       Rule(("ATM card", "cash card"), ("debit card",)))
    assert parse(s.text()) == s and Synonyms.from_json(s.to_json()) == s
    assert s.digest and s.digest != parse("挂号费, 诊查费").digest and Synonyms().digest == ""


@pytest.mark.parametrize("text, line, says", [
    ("a, b\nlonely\n", 2, "one term alone"),
    ("x => \n", 1, "both sides"),
    ("a => b => c", 1, "more than one '=>'"),
    ("a, ！！", 1, "no letter"),
    ("ok, fine\n" + "x" * (MAX_TERM_CHARS + 1) + ", y", 2, "characters long"),
])
def test_a_bad_line_is_named_with_what_to_write(text, line, says):
    with pytest.raises(SynonymError) as e:
        parse(text)
    assert f"line {line}:" in str(e.value) and says in str(e.value)


def test_the_list_is_bounded():
    with pytest.raises(SynonymError, match="at most"):
        parse("a, b\n" * (MAX_BYTES // 5 + 1))


def test_terms_are_found_as_whole_words_in_any_case_and_plural():
    m = matcher(parse("ATM card => debit card\ngeneral ward, general adult ward\ncard, plastic"))
    assert m.expansions("I lost my atm  CARDS") == ["debit card"]
    assert m.expansions("cardiology clinic") == []              # not inside another word
    assert m.expansions("visiting hours general wards") == ["general adult ward"]
    assert m.as_canonical("General adult wards 3A to 6C") == "general ward 3A to 6C"
    assert m.expansions("plastic") == ["card"]


def test_chinese_terms_are_found_inside_sentences():
    m = matcher(parse("挂号费, 诊查费\n他行 => 跨行"))
    assert m.expansions("急诊挂号费多少钱？") == ["诊查费"]
    assert m.rewrites("挂号费多少") == ["诊查费多少"]
    assert m.as_canonical("普通门诊诊查费10元") == "普通门诊挂号费10元"  # both sides read as one word
    assert m.expansions("在他行取款") == ["跨行"] and m.expansions("跨行取款") == []  # one-way


def test_no_rules_change_nothing():
    m = matcher(Synonyms())
    assert m.expansions("挂号费") == [] and m.rewrites("x") == [] and m.as_canonical("ATM card") == "ATM card"


@pytest.mark.parametrize("rules, text, means", [
    ("debit card => ATM card", "my debitcard is lost", ["ATM card"]),     # written as one word
    ("debit card => ATM card", "my debit\ncard is lost", ["ATM card"]),
    ("挂号 费, 诊查费", "急诊挂号费多少钱", ["诊查费"]),                   # a Chinese term written with a space
])
def test_a_term_found_without_its_spaces_is_read_not_failed(rules, text, means):
    """The pattern lets white space between a term's words be left out; the match was then looked up with
    its spaces as written and raised KeyError: every search and answer of a question so written failed."""
    m = matcher(parse(rules))
    assert m.expansions(text) == means
    assert m.rewrites(text) and m.as_canonical(text) != text


def test_matching_5000_rules_reads_a_long_text_in_one_pass():
    """An alternation of 5,000 English terms was tried at every position: ~1 ms a character, 17 s for an
    18,000-character text (passages are matched too, several times an answer). The trie reads it in one
    pass: its time is measured by bench/bench_synonyms.py; here, that a long text under many rules is read
    right."""
    import random
    import string

    rnd = random.Random(7)
    words = ["".join(rnd.choice(string.ascii_lowercase) for _ in range(rnd.randint(4, 12))) for _ in range(10000)]
    s = parse("\n".join(f"{words[2 * i]} {words[2 * i + 1][:5]}, {words[2 * i + 1]}" for i in range(5000)))
    m = matcher(s)
    text = " ".join(rnd.choice(words) for _ in range(2000)) + " " + "a" * 5000 + " 挂号费" * 1000
    found = m.expansions(text)
    assert m.as_canonical(text).endswith(" 挂号费" * 1000)
    assert len(found) > 100  # the rules are found, not skipped
    assert m.expansions(f"what is the {words[1]}?") == [f"{words[0]} {words[1][:5]}"]


@pytest.mark.parametrize("rules", [
    "A&E => ER\nER => emergency department",                 # a chain
    "ER => emergency department\nA&E => ER",
    "A&E => emergency department\nemergency department => A&E",  # a cycle
    "急症 => 急诊科\n急诊科 => 急诊",
    "挂号费 => 诊查费\n诊查费 => 挂号费",
])
def test_a_question_and_a_passage_read_chained_or_cyclic_terms_as_the_same_word(rules):
    """Quotes are matched with each term written as its canonical term on both sides. The canonical term was
    the first rule's meaning only: with 'A&E => ER' and 'ER => emergency department' a question's "A&E" read
    as "ER" and a passage's "ER" as "emergency department"; with a cycle both sides swapped. They never met."""
    m = matcher(parse(rules))
    terms = {t for rule in parse(rules).rules for t in (*rule.terms, *rule.means)}
    assert len({m.as_canonical(t).casefold() for t in terms}) == 1, {t: m.as_canonical(t) for t in terms}


def test_full_width_letters_and_digits_are_the_same_term():
    """A Chinese input method writes ＡＴＭ and ２４ full width; the answer cache groups such questions with
    the half-width ones, and the synonyms now find their terms in them too (both ways: in a rule as well)."""
    m = matcher(parse("ATM card => debit card\n２４小时, 全天"))
    assert m.expansions("我的ＡＴＭ　ｃａｒｄ丢了") == ["debit card"]
    assert m.rewrites("ＡＴＭ卡") == [] and m.rewrites("ＡＴＭ card") == ["debit card"]
    assert m.expansions("24小时营业吗") == ["全天"] and m.expansions("２４小时营业吗") == ["全天"]
    assert m.as_canonical("全天营业") == "２４小时营业"


def test_a_file_saved_by_notepad_reads_as_its_rules(tmp_path):
    """Windows Notepad saves UTF-8 with a byte order mark and CRLF line ends: the first rule's first term
    kept the mark ('\\ufeff挂号费') and was never found in a question."""
    saved = tmp_path / "synonyms.txt"
    saved.write_bytes("挂号费, 诊查费\r\nATM card => debit card\r\n".encode("utf-8-sig"))
    s = parse(saved.read_text(encoding="utf-8"))
    assert s == parse("挂号费, 诊查费\nATM card => debit card\n")
    assert matcher(s).expansions("挂号费多少") == ["诊查费"]


def test_reading_5000_rules_digest_and_matcher_again_is_cheap():
    """Quote matching keys its caches by the rules' digest and looks up their matcher for every passage it
    compares: the digest was the SHA-256 of all the rules' JSON and the lookup hashed every term, each time
    (~35 ms for 5,000 rules: most of an answer's time under such a list)."""
    s = parse("\n".join(f"term{i} word, other{i} phrase" for i in range(5000)))
    m = matcher(s)
    misses = matcher.cache_info().misses
    for _ in range(200):
        assert s.digest and matcher(s) is m
    assert "digest" in vars(s) and matcher.cache_info().misses == misses  # worked out once, then looked up
    assert parse(s.text()).digest == s.digest and hash(parse(s.text())) == hash(s)  # equal rules, equal keys


def test_a_term_with_a_hash_sign_is_a_term_not_a_comment():
    """'#' started a comment anywhere: 'C#, C sharp' was refused (one term alone) and 'F# => F sharp' made
    'F' mean 'F sharp'. A comment starts at the line's start or after white space."""
    s = parse("#include this comment\nC#, C sharp  # the language\nF# => F sharp\t# another\n5号楼, ＃5楼\n")
    assert [r.line() for r in s.rules] == ["C#, C sharp", "F# => F sharp", "5号楼, ＃5楼"]
    assert matcher(s).expansions("is F# taught here?") == ["F sharp"]


@pytest.mark.parametrize("question", ["挂号费多少", "掛號費多少"])
def test_a_rule_in_traditional_characters_meets_a_question_in_either_script(question):
    """A rule written in traditional characters (a Hong Kong or Taiwan administrator) met no question in
    simplified ones, nor a traditional question the pipeline folds to simplified, nor a simplified passage.
    (A rule in simplified characters meets a traditional question once the pipeline folds it.)"""
    m = matcher(parse("掛號費, 診查費"))
    assert "诊查费" in m.expansions(question), m.expansions(question)  # the simplified documents' word
    assert m.as_canonical(question) == m.as_canonical("诊查费多少") == m.as_canonical("診查費多少")
    assert "诊查费多少" in m.rewrites(question)
    assert matcher(parse("挂号费, 诊查费")).expansions("挂号费多少") == ["诊查费"]  # simplified rules as they were


def test_the_canonical_term_of_a_traditional_rule_is_written_in_simplified_characters():
    """Quote matching reads the question and the passages with each term as its canonical term: written in
    traditional characters it made a simplified question a traditional one ("挂号费多少" as "掛號費多少"),
    which the rest of quoting reads as another script, and the hospital KB refused it."""
    m = matcher(parse("掛號費, 診查費\nATM card => debit card"))
    assert m.as_canonical("挂号费多少") == m.as_canonical("掛號費多少") == "挂号费多少"
    assert m.as_canonical("my ATM card") == "my debit card"


def test_a_list_no_longer_in_use_leaves_no_compiled_regex_behind():
    """re.compile keeps the last 512 patterns it compiled: each list an administrator saved kept its regex
    (megabytes for thousands of rules) in every service process long after the matcher's own cache let go."""
    import gc
    import weakref

    from rag.synonyms.matcher import matcher as make

    m = make(parse("\n".join(f"term{i} word, other{i} phrase" for i in range(3000)) + "\n挂号费, 诊查费"))
    assert m.expansions("急诊挂号费") == ["诊查费"]
    compiled = weakref.ref(m._regex)
    del m
    make.cache_clear()
    gc.collect()
    assert compiled() is None


def test_a_two_way_rule_is_led_by_the_term_the_documents_hold(manager, sample_copy):
    from rag.synonyms.kb import documents_first

    store = manager.open("t")
    try:  # the bank sample says "debit card" and "挂失", never "quux card", "A&E" or "报失"
        got = documents_first(parse("quux card, debit card\nA&E, quux\n报失, 挂失\nwire, quux2 => zorblax"), store)
    finally:
        store.close()
    assert [r.terms for r in got.rules] == [("debit card", "quux card"), ("A&E", "quux"), ("挂失", "报失"),
                                            ("wire", "quux2")]
    assert got.rules[0].means == ("debit card", "quux card") and got.rules[3].means == ("zorblax",)
    assert matcher(got).as_canonical("lost my quux card") == "lost my debit card"


@pytest.mark.parametrize("rules, text, means", [
    ("privacy policy => data protection notice", "Where are your privacy policies?", ["data protection notice"]),
    ("privacy policies => data protection notice", "Where is your privacy policy?", ["data protection notice"]),
    ("baby, infant", "Can babies stay overnight?", ["infant"]),
    ("day pass, visitor pass", "two day passes", ["visitor pass"]),  # a vowel before the "y": "days" as before
])
def test_a_term_ending_in_y_is_found_in_its_plural_in_ies_and_the_reverse(rules, text, means):
    """A plural was found by an added "s" or "es" only: "policy" was not found in "policies", nor a term
    written in the plural ("privacy policies") in a question asking of one."""
    m = matcher(parse(rules))
    assert m.expansions(text) == means
    assert m.as_canonical(text) != text
    assert m.expansions("the police station") == [] and m.expansions("privacy polices") == []


@pytest.mark.parametrize("rules, text, canonical", [
    ("挂号费, 诊查费", "普通門診 | 診查費 | 10元", "普通門診 | 挂号费 | 10元"),    # a simplified rule, a Hong Kong page
    ("掛號費, 診查費", "普通门诊 | 诊查费 | 10元", "普通门诊 | 挂号费 | 10元"),    # and the reverse
    ("陪床 => 陪护", "陪床證遺失補辦，什麼時候", "陪护證遺失補辦，什麼時候"),
    ("他行 => 跨行", "在其他銀行或他行ATM取款", "在其他銀行或跨行ATM取款"),
])
def test_a_rule_is_found_in_a_text_of_either_script_where_it_stands(rules, text, canonical):
    """A rule in simplified characters was not found in a passage in traditional ones (診查費): the text is now
    read with each traditional character as its simplified one, character for character (OpenCC's character
    table, not its phrases), so a match's place is its place in the text as written."""
    m = matcher(parse(rules))
    assert m.as_canonical(text) == canonical
    assert m.expansions(text) and all(r != text and r.endswith(text[-3:]) for r in m.rewrites(text))


def test_folding_scripts_keeps_every_character_in_place():
    from indexer.script import simplified_chars

    text = "門診幾點開始？衞生間在裏面，什麼時候乾洗。ATM card 24小時"
    folded = simplified_chars(text)
    assert len(folded) == len(text) and folded.startswith("门诊几点开始？卫生间在里面")
    assert simplified_chars(folded) == folded and simplified_chars("debit card") == "debit card"
