"""Citation markers: parsing, lexical verification (English and Chinese), attachment, renumbering."""
import math

import pytest

from rag.answering.cite import (
    StreamCiter,
    cite,
    content_tokens,
    is_refusal,
    parse_citations,
    split_sentences,
    support,
)
from rag.types import Hit

CARDS = Hit("cards", "cards#0", "en/lost_or_stolen_cards.txt",
            "Report a lost or stolen card straight away. Call the 24-hour Card Services line at 1-800-555-0199. "
            "From outside the United States, call +1-302-555-0188. A replacement card arrives within five "
            "business days.", 0.9, title="Lost or stolen cards")
WIRES = Hit("wires", "wires#3", "en/wire_transfers.html",
            "Domestic wire transfers cost $25 each. International wire transfers cost $45 and are sent the "
            "same business day when requested before 4 p.m. Eastern Time.", 0.8)
FEES = Hit("fees", "fees#1", "en/account_fees.md",
           "Everyday Checking has a $12 monthly maintenance fee, waived with a $1,500 minimum daily balance "
           "or $500 in monthly direct deposits.", 0.7)
ZH = Hit("zh-cards", "zh-cards#0", "zh/card_loss_reporting.txt",
         "银行卡丢失后，请立即拨打客服热线95555办理口头挂失。口头挂失的有效期为五天，请在五天内到网点办理正式挂失。", 0.6)
HITS = [CARDS, WIRES, FEES]


@pytest.mark.parametrize("text,expected", [
    ("Call the line [1].", [1]),
    ("Both apply [1][2].", [1, 2]),
    ("Both apply [2, 1] and more [3].", [2, 1, 3]),
    ("Spaced [ 1 ,2 ] and ranged [3-5].", [1, 2, 3, 4, 5]),
    ("中文标记【2】和［3］以及[1，2]、[4、1]。", [2, 3, 1, 4]),
    ("No markers here, not even [a] or [].", []),
])
def test_parse_markers(text, expected):
    assert parse_citations(text) == expected


def test_sentences_keep_trailing_markers_and_decimals():
    text = "Fees are 1.5% of the amount.[1] Wires cost $45 [2]. 口头挂失有效期五天【1】。新卡五天内寄出。"
    parts = [text[a:b].strip() for a, b in split_sentences(text)]
    assert parts == ["Fees are 1.5% of the amount.[1]", "Wires cost $45 [2].", "口头挂失有效期五天【1】。",
                     "新卡五天内寄出。"]


def test_supported_citations_are_kept_and_renumbered():
    answer = "International wires cost $45 [2]. Call 1-800-555-0199 to report a lost card [1]."
    r = cite(answer, HITS)
    # numbered by first appearance: passage 2 -> [1], passage 1 -> [2]
    assert r.answer == "International wires cost $45 [1]. Call 1-800-555-0199 to report a lost card [2]."
    assert [(c.n, c.passage, c.doc_id, c.chunk_id) for c in r.citations] == [
        (1, 2, "wires", "wires#3"), (2, 1, "cards", "cards#0")]
    assert all(c.supported for c in r.citations) and r.dropped == []
    assert "$45" in r.citations[0].quote and "1-800-555-0199" in r.citations[1].quote
    assert r.citations[1].source == "en/lost_or_stolen_cards.txt"


def test_unsupported_citation_is_dropped():
    answer = "International wires cost $45 [1][2]. The branch serves free coffee on Sundays [3]."
    r = cite(answer, HITS)
    assert r.answer == "International wires cost $45 [1]. The branch serves free coffee on Sundays."
    assert [(c.n, c.passage) for c in r.citations] == [(1, 2)]
    dropped = {(c.passage, c.doc_id) for c in r.dropped}
    assert dropped == {(1, "cards"), (3, "fees")}
    assert not any(c.supported for c in r.dropped)
    assert all(c.score < 0.3 for c in r.dropped)


def test_out_of_range_marker_is_dropped():
    r = cite("Domestic wires cost $25 [2][7].", HITS)
    assert r.answer == "Domestic wires cost $25 [1]."
    assert [(c.passage, c.doc_id) for c in r.dropped] == [(7, "")]


def test_missing_citation_gets_the_supporting_passage():
    answer = "Everyday Checking has a $12 monthly fee. It is waived with a $1,500 minimum daily balance."
    r = cite(answer, HITS)
    assert r.answer == ("Everyday Checking has a $12 monthly fee [1]. "
                        "It is waived with a $1,500 minimum daily balance [1].")
    assert [(c.n, c.doc_id, c.supported) for c in r.citations] == [(1, "fees", True)]
    assert "$12" in r.citations[0].quote


def test_wrong_number_is_replaced_by_the_right_passage():
    r = cite("Domestic wire transfers cost $25 [1].", HITS)
    assert r.answer == "Domestic wire transfers cost $25 [1]."
    assert r.citations[0].doc_id == "wires" and r.citations[0].passage == 2
    assert [c.doc_id for c in r.dropped] == ["cards"]


def test_no_attachment_below_threshold_or_for_refusals():
    r = cite("The moon orbits the earth every month.", HITS)
    assert r.citations == [] and r.answer == "The moon orbits the earth every month."
    r = cite("This is not in the knowledge base.", HITS)
    assert r.citations == [] and is_refusal(r.answer)
    assert not is_refusal("International wires cost $45.")


def test_a_sentence_saying_the_passages_do_not_answer_cites_nothing():
    r = cite("The passage is about fees, but it does not contain the answer to the question [2].", HITS)
    assert r.citations == [] and is_refusal(r.answer)
    assert [(d.passage, d.reason) for d in r.dropped] == [(2, "says the passages do not answer, which no passage "
                                                              "can back")]
    r = cite("If you cannot find your card, report it at 1-800-555-0199 [1].", HITS)  # not a refusal
    assert [c.doc_id for c in r.citations] == ["cards"]


def test_threshold_is_configurable():
    answer = "International wire fees and Sunday opening hours of the branch [2]."
    tokens = content_tokens(answer)
    share = support(tokens, content_tokens(WIRES.text))
    assert 0.2 < share < 0.6
    assert cite(answer, HITS, min_overlap=share - 0.01).citations[0].doc_id == "wires"
    assert cite(answer, HITS, min_overlap=share + 0.01).citations == []


def test_chinese_sentences():
    hits = [WIRES, ZH]
    answer = "银行卡丢失后请拨打95555办理口头挂失【2】。口头挂失的有效期为五天。国际电汇需要护照[2]。"
    r = cite(answer, hits)
    assert r.answer == "银行卡丢失后请拨打95555办理口头挂失[1]。口头挂失的有效期为五天[1]。国际电汇需要护照。"
    assert [(c.n, c.doc_id) for c in r.citations] == [(1, "zh-cards")]
    assert "95555" in r.citations[0].quote
    assert [c.sentence for c in r.dropped] == ["国际电汇需要护照[2]。"]
    assert is_refusal("知识库中没有相关信息。")


def test_stream_citer_cites_after_the_stream():
    pieces = ["Domestic wire", " transfers cost $25", " [", "2].", " Call 1-800", "-555-0199 [1]."]
    citer = StreamCiter(HITS)
    assert "".join(citer.wrap(iter(pieces))) == "".join(pieces)
    r = citer.finish()
    assert r.answer == "Domestic wire transfers cost $25 [1]. Call 1-800-555-0199 [2]."
    assert [c.doc_id for c in r.citations] == ["wires", "cards"]


def test_quote_is_the_whole_sentence_across_a_layout_line_break():
    from rag.answering.cite import best_quote, content_tokens

    passage = ("境内个人每人每年可享受等值5万美元的购汇额度和等值5万美元的结汇额度，额度按自然年\n"
               "计算，每年1月1日重置。个人购汇可用于因私旅游。")
    assert best_quote(passage, content_tokens("个人每年购汇额度是5万美元")) == (
        "境内个人每人每年可享受等值5万美元的购汇额度和等值5万美元的结汇额度，额度按自然年计算，每年1月1日重置。")
    en = ("Lost cards\nIf your card is lost or stolen, call us at once on the number printed\n"
          "on the back of your statement. Replacement cards arrive in five days.")
    assert best_quote(en, content_tokens("Call the number on your statement.")) == (
        "If your card is lost or stolen, call us at once on the number printed on the back of your statement.")


def test_chinese_answer_over_english_passages_is_checked_by_the_encoder(ens):
    from rag.answering.cite_semantic import CrossLingualSupport, cross_lingual_threshold

    answer = "请拨打24小时银行卡服务热线1-800-555-0199[2]。补发的新卡会在五个工作日内寄到。这家银行的咖啡很好喝。"
    # word overlap sees only the phone number's digits: the second sentence stays uncited
    plain = cite(answer, HITS)
    assert [d.passage for d in plain.dropped] == [2]
    assert plain.answer == "请拨打24小时银行卡服务热线1-800-555-0199[1]。补发的新卡会在五个工作日内寄到。这家银行的咖啡很好喝。"
    cross = CrossLingualSupport(ens, cross_lingual_threshold(None, "e5+minilm"))
    out = cite(answer, HITS, cross=cross)
    assert [d.passage for d in out.dropped] == [2]                    # the wire-fee passage does not support it
    assert [c.doc_id for c in out.citations] == ["cards"]             # the card passage does, both sentences
    assert out.citations[0].quote == "Call the 24-hour Card Services line at 1-800-555-0199."
    assert out.answer == "请拨打24小时银行卡服务热线1-800-555-0199[1]。补发的新卡会在五个工作日内寄到[1]。这家银行的咖啡很好喝。"
    # same-script pairs keep the word test: an English sentence is judged as before
    assert cite("Domestic wires cost $25 each.", HITS, cross=cross).citations[0].doc_id == "wires"


def test_cross_lingual_threshold_follows_the_encoder_and_the_setting():
    from rag.answering.cite_semantic import DEFAULT_THRESHOLD, cross_lingual_threshold

    assert cross_lingual_threshold(None, "e5+minilm") == cross_lingual_threshold(None, "e5") == DEFAULT_THRESHOLD
    assert cross_lingual_threshold(None, "minilm") is None      # an English-only encoder cannot judge Chinese
    assert cross_lingual_threshold(0.9, "minilm") == 0.9 and cross_lingual_threshold(1.0, "e5") is None


def test_chinese_question_quotes_the_closest_english_sentences_never_a_question(ens):
    from rag.answering.by_meaning import quote_across
    from rag.answering.cite_semantic import CrossLingualSupport

    cross = CrossLingualSupport(ens)
    text = ("Lost your card? Call the 24-hour Card Services line at 1-800-555-0199. "
            "A replacement card arrives within five business days.")
    quoted = quote_across("银行卡丢了应该打什么电话？", text, 1, cross)
    assert quoted and "Lost your card?" not in quoted and quoted.endswith("[1].")
    assert all(part.strip() + "." in text for part in quoted.split("[1].") if part.strip())
    assert quote_across("北京烤鸭怎么做？", text, 1, cross) is None  # nothing close enough: refused upstream


def test_sentence_vectors_are_shared_by_answers_and_bounded(ens):
    import numpy as np

    from rag.answering.cite_semantic import CrossLingualSupport, SentenceVectors

    encoded: list[str] = []

    class Counting:  # the real encoder, counting what it is asked to encode
        def encode_passages(self, texts):
            encoded.extend(texts)
            return ens.encode_passages(texts)

        def encode_queries(self, texts):
            return ens.encode_queries(texts)

    counting = Counting()
    shared = SentenceVectors(counting, max_items=3)
    texts = ["The card fee is five dollars.", "Branches open at nine.", "手续费为每笔5元。"]
    vecs = shared(texts)
    assert np.allclose(vecs, ens.encode_passages(texts), atol=1e-5)  # what encoding gives
    # a second answer over the same passage sentences encodes none of them again
    first = CrossLingualSupport(counting, vectors=shared)
    second = CrossLingualSupport(counting, vectors=shared)
    assert first.closest("How much is the card fee?", texts)[0][2] == texts[0]
    assert second.closest("What is the fee?", texts[::-1])[0][2] == texts[0]
    assert encoded == texts
    shared(["A fourth sentence about wires."])  # past max_items: the least recently used goes
    assert list(shared._vectors) == [texts[1], texts[0], "A fourth sentence about wires."]  # texts[2]: used longest ago
    # vectors of another encoder are never borrowed
    assert CrossLingualSupport(ens, vectors=shared)._vectors is not shared


def test_a_time_range_is_one_answer_sentence_and_keeps_its_periods():
    from rag.answering.cite import split_sentences
    from rag.answering.quoting import cite_sentence

    text = "Open Sunday 12:00 p.m. to 4:00 p.m. [1] It is our only branch open on Sundays [1]."
    assert [text[a:b].strip() for a, b in split_sentences(text)] == [
        "Open Sunday 12:00 p.m. to 4:00 p.m. [1]", "It is our only branch open on Sundays [1]."]
    assert cite_sentence("Open Sunday 12:00 p.m. to 4:00 p.m.", 1) == "Open Sunday 12:00 p.m. to 4:00 p.m. [1]"
    assert cite_sentence("Call 1-800-555-0199.", 2) == "Call 1-800-555-0199 [2]."


def _fees_table() -> Hit:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "data/sample/en/account_fees.md").read_text(encoding="utf-8")
    section = text[text.index("## Monthly maintenance fees"):text.index("## ATM fees")].strip()
    return Hit("fees", "fees#1", "en/account_fees.md", section, 0.9, title="Monthly maintenance fees")


def test_a_listing_loop_of_numbers_from_other_table_rows_is_removed():
    """The demo's answer on the llama.cpp AMX build: after the right waiver the model lists minimum
    balances from other rows of the table ($300 and $25 are Basic Savings', $500 is a direct deposit);
    each number stands in the cited passage, so each sentence passes the facts check alone. Alike but
    for their numbers, four times: the first stays, the rest are removed and reported."""
    answer = ("The monthly fee for an Everyday Checking account is $12 [1]. You can avoid this fee by meeting the "
              "minimum daily balance of $1,500 or more [1]. You can also avoid this fee by meeting the minimum "
              "balance of $300 or more [1]. You can also avoid this fee by meeting the minimum balance of $25 or "
              "more [1]. You can also avoid this fee by meeting the minimum balance of $500 or more [1].")
    out = cite(answer, [_fees_table()])
    assert "$12" in out.answer and "$1,500" in out.answer
    assert not any(v in out.answer for v in ("$300", "$25 ", "$500"))
    removed = [d for d in out.dropped if d.outcome == "removed"]
    assert len({d.sentence for d in removed}) == 3 and all("listing loop" in d.reason for d in removed)
    assert [c.n for c in out.citations] == [1]


def test_alike_sentences_that_are_not_a_loop_stay():
    two = "The fee is $25 for domestic wires [1]. The fee is $45 for international wires [1]."
    assert cite(two, [WIRES]).answer == two
    rows = ("Domestic wire transfers cost $25 each [1]. International wire transfers cost $45 [1]. "
            "Everyday Checking has a $12 monthly fee [2].")
    out = cite(rows, [WIRES, FEES])
    assert "$25" in out.answer and "$45" in out.answer and "$12" in out.answer


# the fee table as the parser writes it into a chunk ("a | b | c" lines, the header first)
FEE_ROWS = Hit("fees", "fees#2", "en/account_fees.md",
               "Each personal account has a monthly maintenance fee. You can avoid the fee by meeting any one of "
               "the waiver conditions listed for your account.\n"
               "Account | Monthly fee | How to avoid the fee (any one)\n"
               "Everyday Checking | $12 | Minimum daily balance of $1,500; or $500 or more in direct deposits "
               "per statement cycle; or primary account holder under 25\n"
               "Student Checking | $0 | No fee for account holders aged 17 to 24 with a valid student ID\n"
               "Basic Savings | $5 | Minimum daily balance of $300; or an automatic transfer of $25 or more each "
               "month from a Harbor Bank checking account", 0.9)
EVERYDAY = "How much is the monthly fee for an Everyday Checking account, and how can I avoid it?"


def test_a_sentence_backed_by_another_table_row_than_the_question_names_is_removed():
    """The demo's answer: Student Checking's "valid student ID" and Basic Savings' $300 stand in the
    cited chunk, so word overlap and the facts check pass them; the question asks about Everyday
    Checking, whose row says neither."""
    answer = ("The monthly fee for an Everyday Checking account is $12 [1]. This fee is not available to students "
              "with a valid student ID [1]. You can avoid this fee by meeting the minimum daily balance of $1,500 "
              "or more [1]. You can also avoid this fee by meeting the minimum balance of $300 or more [1].")
    out = cite(answer, [FEE_ROWS], question=EVERYDAY)
    assert out.answer == ("The monthly fee for an Everyday Checking account is $12 [1]. You can avoid this fee by "
                          "meeting the minimum daily balance of $1,500 or more [1].")
    reasons = {d.sentence.split()[1]: d.reason for d in out.dropped if d.outcome == "removed"}
    assert "row for Student Checking" in reasons["fee"] and "amount 300 is in the row for Basic Savings" in reasons["can"]
    assert "$300" in cite(answer, [FEE_ROWS]).answer  # without the question, nothing tells the rows apart
    # an amount of another row, where the row asked about states the same number as no amount ("under 25",
    # an age): "$25" is the other row's (the demo's generated "The monthly fee for Everyday Checking is $25")
    premier = Hit("fees", "fees#2", "en/account_fees.md", FEE_ROWS.text.replace(
        "Student Checking | $0", "Premier Checking | $25 | Combined balances of $15,000\nStudent Checking | $0"), 0.9)
    wrong = cite("The monthly fee for Everyday Checking is $25 [1].", [premier], question=EVERYDAY)
    assert not wrong.answer and "amount 25 is in the row for Premier Checking" in wrong.dropped[0].reason
    # a sentence that names the other row is about that row, and stays
    other = "Student Checking has no fee for account holders with a valid student ID [1]."
    assert cite(other, [FEE_ROWS], question=EVERYDAY).answer == other


# the wire limits table as the parser writes it (sample wire_transfers.html) and the passage after it
LIMITS = Hit("wires", "wires#4", "en/wire_transfers.html",
             "Channel | Everyday Checking | Premier Checking\n"
             "Online and mobile, domestic wires | $25,000 per day | $100,000 per day\n"
             "Online and mobile, international wires | $10,000 per day | $50,000 per day\n"
             "Branch | $250,000 per day | $250,000 per day", 0.9)
CUTOFF = Hit("wires", "wires#5", "en/wire_transfers.html",
             "International wires: cut-off 2:00 p.m. Eastern Time. Funds usually arrive within 1 to 5 business days.",
             0.8)


def test_a_row_named_in_part_and_two_passages_cited_together():
    """The demo's answer took the domestic row's $25,000 for international wires and cited the cut-off
    passage beside it. The question names the row in part ("international wires in online banking": one
    word only that row's first cell has, and most of its words), and two passages taken together do not
    back a number that stands in another row than the one asked about."""
    q = "What is the daily limit for international wires in online banking with Premier Checking?"
    wrong = "The daily limit for international wires in online banking with Premier Checking is $25,000 per day [1][2]."
    out = cite(wrong, [LIMITS, CUTOFF], question=q)
    assert "$25,000" not in out.answer
    assert any("row for Online and mobile, domestic wires" in d.reason and d.outcome == "removed" for d in out.dropped)
    right = "The daily limit for international wires online with Premier Checking is $50,000 per day [1]."
    assert cite(right, [LIMITS, CUTOFF], question=q).answer == right
    # a question naming no row's own word (online and mobile are in two rows) judges no row
    assert "$25,000" in cite(wrong, [LIMITS, CUTOFF], question="What are the online and mobile limits?").answer


def test_table_rows_in_chinese():
    fees = Hit("zh-fees", "zh-fees#1", "zh/account_fees.md",
               "卡种 | 年费标准 | 减免条件\n港湾普卡 | 10元/年 | 开卡首年免收\n"
               "港湾金卡 | 50元/年 | 上一年度日均金融资产达到5万元的免收\n港湾白金卡 | 免费 | 面向日均金融资产50万元以上客户", 0.9)
    question = "港湾普卡的年费是多少？"
    assert cite("港湾普卡的年费为10元/年[1]。", [fees], question=question).answer == "港湾普卡的年费为10元/年[1]。"
    out = cite("港湾普卡的年费为50元/年[1]。", [fees], question=question)
    assert "50元" not in out.answer
    assert any("港湾金卡" in d.reason and d.outcome == "removed" for d in out.dropped)


def test_no_fee_for_a_thing_its_table_row_charges_for_is_removed():
    """make demo's KB, "Do you charge a fee for paper statements?": SmolLM2 answered "No, I do not charge a fee
    for paper statements [1]." against the row "Paper statement | $2 per statement (e-statements are free)",
    and a passage on inactivity fees, sharing "charge" and "fee", took the citation over. Now the row
    contradicts the denial, and a passage matching the sentence less well than the one contradicting it
    cannot back it instead."""
    services = Hit("fees", "fees#3", "account_fees.md",
                   "Service | Fee\nPaper statement | $2 per statement (e-statements are free)\n"
                   "Copy of a past statement | $5 per statement\nCoin counting | Free for Harbor Bank customers", 0.9)
    inactive = Hit("fees", "fees#4", "account_fees.md",
                   "Inactive checking and savings accounts are charged a $5 monthly inactivity fee. There is no fee "
                   "to close an account after 90 days.", 0.8)
    q = "Do you charge a fee for paper statements?"
    out = cite("No, I do not charge a fee for paper statements [1]. Copies of past statements cost $5 [1].",
               [services, inactive], question=q)
    assert out.answer == "Copies of past statements cost $5 [1]."
    assert [(d.reason, d.outcome) for d in out.dropped] == [
        ("says Paper statement costs nothing where passage [1] gives $2 for it", "removed")]
    # kept: the row's own waiver, a thing without a row, a qualified claim, and a row that is free
    for sentence in ("E-statements are free [1].", "Coin counting is free for Harbor Bank customers [1].",
                     "There is no fee for the first 2 paper statements [1]."):
        assert cite(sentence, [services], question=q).answer == sentence
    fees = Hit("zh-fees", "zh-fees#1", "zh/account_fees.md", "卡种 | 年费标准 | 减免条件\n港湾普卡 | 10元/年 | 开卡首年免收", 0.9)
    assert cite("港湾普卡开卡首年免收年费[1]。", [fees]).answer == "港湾普卡开卡首年免收年费[1]。"
    assert "不收年费" not in cite("港湾普卡不收年费[1]。", [fees]).answer
    assert "免年费" not in cite("港湾普卡免年费[1]。", [fees]).answer  # jieba cuts 普卡免: the name is found in the text


# the sample fee schedule (fee_schedule.csv) as the CSV parser writes a chunk of it: the first column groups
SCHEDULE = Hit("schedule", "schedule#1", "en/fee_schedule.csv",
               "category | service | fee | notes\n"
               "Overdraft | Overdraft fee | $29.00 | Maximum 3 per day\n"
               "Overdraft | Overdraft Protection transfer | $10.00 per day |\n"
               "Checks and statements | Stop payment | $30.00 |\n"
               "Checks and statements | Cashier's check | $10.00 | Free for Premier Checking\n"
               "Checks and statements | Paper statement | $2.00 per statement |", 0.9)
OVERDRAFT = Hit("overdraft", "overdraft#2", "en/overdraft_policy.md",
                "We charge an overdraft fee of $29 for each item we pay into overdraft, up to 3 a day.", 0.8)


def test_a_grouping_first_column_does_not_name_the_rows():
    """fee_schedule.csv's first column repeats ("Checks and statements" over several rows): the service
    names the row, so "stop payment" names one and another row's amount is caught."""
    q = "What is the fee for a stop payment?"
    out = cite("The fee for a stop payment is $29 [1].", [SCHEDULE], question=q)
    assert out.answer == "" and "row for Overdraft fee" in out.dropped[0].reason
    right = "A stop payment costs $30.00 [1]."
    assert cite(right, [SCHEDULE], question=q).answer == right
    from rag.answering.table_rows import row_quote

    assert row_quote(SCHEDULE.text, q) == "Stop payment - category: Checks and statements; fee: $30.00."


def test_an_amount_for_the_row_asked_about_taken_from_another_passage_is_removed():
    """make demo's KB: "What is the fee for a stop payment?" got "The fee for a stop payment is $29" citing
    the overdraft policy (its $29 is the overdraft fee) while the fee table shown beside it gives $30 for
    a stop payment request. Cited alone, or with the table, the overdraft passage does not back it."""
    q = "What is the fee for a stop payment?"
    for answer in ("The fee for a stop payment is $29 [2].", "The fee for a stop payment is $29 [1][2]."):
        out = cite(answer, [SCHEDULE, OVERDRAFT], question=q)
        assert "$29" not in out.answer, answer
        assert any("the question asks about Stop payment, for which passage [1] gives $30.00, not $29" == d.reason
                   for d in out.dropped), answer
    # a sentence naming the other passage's own thing is about it
    kept = "The overdraft fee is $29 per item [2]."
    assert cite(kept, [SCHEDULE, OVERDRAFT], question=q).answer == kept.replace("[2]", "[1]")


def _settle(citer: StreamCiter, pieces: list[str]) -> list[str]:
    """Feed the pieces one by one; what settled() returned after each (None left out)."""
    out = []
    for _ in citer.wrap(iter(pieces)):
        settled = citer.settled()
        if settled is not None:
            out.append(settled)
    return out


def test_settled_holds_a_sentence_until_the_next_begins_and_never_shows_a_dropped_one():
    # the second sentence states a price the passage contradicts ($99 for $45): it never settles
    answer = ("Domestic wire transfers cost $25 [2]. International wire transfers cost $99 [2]. "
              "Call 1-800-555-0199 to report a lost card [1].")
    pieces = [w + " " for w in answer.split(" ")]
    citer = StreamCiter(HITS)
    seen = _settle(citer, pieces)
    assert seen[0] == "Domestic wire transfers cost $25 [1]."  # renumbered as in the final answer
    assert all("$99" not in s for s in seen)
    final = citer.finish().answer
    assert "$99" not in final and all(final.startswith(s) for s in seen)
    # a sentence whose markers arrive after its full stop is not settled before them
    citer = StreamCiter([ZH])
    seen = _settle(citer, ["银行卡丢失后请拨打95555办理口头挂失。", "[1]", "口头挂失的有效期为五天", "[1]。"])
    assert seen == ["银行卡丢失后请拨打95555办理口头挂失。[1]"]  # with its marker, as it will stay
    assert citer.finish().answer.startswith(seen[0])


def test_settled_holds_a_possible_listing_loop_until_it_is_one():
    first = "Everyday Checking has a $12 monthly maintenance fee [1]. "
    loop = [f"You can avoid the fee with a minimum daily balance of ${n} or more [1]. " for n in ("1,500", "25", "300")]
    citer = StreamCiter([FEES])
    seen = _settle(citer, [first, loop[0], loop[1], "Thank you. "])
    # the second alike sentence ($25) waits: a third would make all but the first a listing loop
    assert seen[-1] == first.strip() + " " + loop[0].strip()
    citer = StreamCiter([FEES])
    seen = _settle(citer, [first, *loop, "Thank you. "])
    final = citer.finish().answer
    assert all("$25" not in s and "$300" not in s for s in seen) and "$25" not in final


def test_settled_checks_a_long_answer_a_bounded_number_of_times():
    """Each check cites the whole text again: a long answer (a remote model's) is checked after each of its
    first sentences, then after a quarter more each time, so its checks grow with the log of its length."""
    from rag.answering.cite import SETTLE_GROWTH

    pair = ("Report a lost or stolen card straight away [1]. ", "A replacement card arrives within five business days [1]. ")
    sentences = [pair[i % 2] for i in range(200)]  # no numbers: never a listing loop
    text = "".join(sentences)
    citer = StreamCiter(HITS)
    seen = _settle(citer, [text[i:i + 3] for i in range(0, len(text), 3)])  # 3-character pieces
    final = citer.finish().answer
    assert all(final.startswith(s) for s in seen) and len(seen[-1]) > len(final) // 2
    bound = 2 * SETTLE_GROWTH + math.ceil(math.log(200 / (2 * SETTLE_GROWTH), 1 + 1 / SETTLE_GROWTH)) + 2  # 25, not 199
    assert 2 * SETTLE_GROWTH <= len(seen) <= bound
    # a short answer is still shown sentence by sentence
    short = _settle(StreamCiter(HITS), [s for s in sentences[:6]] + ["End."])
    assert [x.count("[") for x in short] == [1, 2, 3, 4, 5, 6]


def test_settled_shows_nothing_until_a_sentence_is_cited():
    """An answer with no supported sentence is replaced at its end (extract or refusal): its uncited
    sentences are not shown first, to be taken back (an OpenAI-API client cannot take text back)."""
    pieces = [w + " " for w in ("We are always happy to help our customers. Call 1-800-555-0199 to report a "
                                "lost card [1]. Thanks for banking with us. Goodbye.").split(" ")]
    seen = _settle(StreamCiter(HITS), pieces)
    assert seen and all("[1]" in s for s in seen)
    assert seen[0] == "We are always happy to help our customers. Call 1-800-555-0199 to report a lost card [1]."
    unsupported = [w + " " for w in "We are always happy to help. Our staff are friendly. Ask us anything.".split(" ")]
    citer = StreamCiter(HITS)
    assert _settle(citer, unsupported) == [] and not citer.finish().citations


def test_the_models_lead_in_is_left_out():
    """make demo: "The answer is: No, there is no penalty ... [1]." The lead-in says nothing; the same
    words later in an answer are left as they are."""
    mortgage = Hit("m", "m#0", "mortgage.pdf", "Harbor Bank mortgages have no prepayment penalty: you can repay "
                   "the whole loan at any time without a fee.", 0.9)
    q = "Is there a penalty for paying off a Harbor Bank mortgage early?"
    assert cite("The answer is: No, there is no penalty for paying off a Harbor Bank mortgage early [1].", [mortgage],
                question=q).answer == "No, there is no penalty for paying off a Harbor Bank mortgage early [1]."
    assert cite("The answer to this question is:\n\nThere is no prepayment penalty [1].", [mortgage]).answer == \
        "There is no prepayment penalty [1]."
    assert cite("There is no prepayment penalty [1]. The answer is: none.", [mortgage]).answer.endswith("The answer is: none.")
    citer = StreamCiter([mortgage])
    shown = _settle(citer, ["The answer is: ", "There is no ", "prepayment penalty [1]. ", "You can repay ", "early."])
    assert shown and all(not s.startswith("The answer") for s in shown)
    assert citer.finish().answer.startswith("There is no prepayment penalty [1].")


def test_another_line_of_a_name_value_list_than_the_question_names_is_caught():
    """The amount of another "name: value" line of the list (the balance inquiry's $1.00) for the line the
    question names (an ATM withdrawal outside the United States)."""
    from tests.rag.test_extract import ATM_FEES

    atm = Hit("fees", "fees#3", "account_fees.md", ATM_FEES, 0.9)
    q = "How much is an ATM withdrawal outside the U.S.?"
    out = cite("The answer is: $1.00 [1].", [atm], question=q)
    assert out.answer == "" and "row for Balance inquiry at a non-Harbor Bank ATM" in out.dropped[0].reason
    right = "An ATM withdrawal outside the United States costs $5.00 [1]."
    assert cite(right, [atm], question=q).answer == right


def test_a_sentence_about_the_passages_themselves_is_removed():
    """make demo's KB: "Do you offer personal loans, and what is the maximum amount?" got "The passage you
    provided is about personal loans, specifically about Harbor Bank loans [1]." (what the passage is,
    not what it says); and "Is there a fee for paper statements?" got "... it does not contain the
    information about a fee for paper statements [1]", a refusal with a citation."""
    r = cite("The passage you provided is about lost cards [1]. Call 1-800-555-0199 to report a lost card [1].", HITS)
    assert r.answer == "Call 1-800-555-0199 to report a lost card [1]." and r.opening_removed
    assert [(d.reason, d.outcome) for d in r.dropped] == [("speaks of the passages, not of what was asked", "removed")]
    assert cite("这段文字是关于挂失的[2]。", [WIRES, ZH]).answer == ""
    r = cite("The passage mentions a service, but it does not contain the information about a fee for it [1].", HITS)
    assert r.citations == [] and is_refusal(r.answer)
    kept = "The passage says to call 1-800-555-0199 to report a lost card [1]."  # what it says: an answer
    assert cite(kept, HITS).answer == kept


def test_a_period_after_a_citation_marker_ends_the_sentence():
    # an extract's quotes joined: "... tool [1]. apt-get, the ..." had read as one sentence (a period before
    # a lower-case word continues one: "9:00 a.m. to 5 p.m.") and the second quote lost its marker
    from rag.answering.cite import split_sentences

    text = "An alternative is apt-get [1]. apt-get installs packages [1]. Open 9 a.m. to 5 p.m. daily."
    assert [text[a:b].strip() for a, b in split_sentences(text)] == [
        "An alternative is apt-get [1].", "apt-get installs packages [1].", "Open 9 a.m. to 5 p.m. daily."]


def test_the_quote_is_the_passage_sentence_holding_the_answers_numbers():
    """"住院要先交多少押金？": the quote was the passage's first sentence (it shares the most words with the
    answer), not the third, which states the 3000元 the answer gives."""
    from rag.answering.cite import best_quote, content_tokens

    admission = Hit("adm", "adm#0", "住院须知.txt", score=1.0, text=(
        "1. 持医生开具的《住院证》及本人身份证、医保卡到门诊一楼住院处办理入院登记；\n"
        "2. 登记后到病区护士站报到，护士会安排床位并介绍病区环境；\n"
        "3. 入院时需预交押金3000元，可用现金、银行卡或微信支付，出院时多退少补。"))
    answer = "持住院证到住院处办理入院登记时，要先交3000元[1]。"
    assert best_quote(admission.text, content_tokens(answer)).startswith("1. 持医生开具的")  # words alone
    r = cite(answer, [admission])
    assert r.answer == answer
    assert [c.quote for c in r.citations] == ["3. 入院时需预交押金3000元，可用现金、银行卡或微信支付，出院时多退少补。"]
    ward = Hit("ward", "ward#0", "ward.txt", score=1.0, text=(
        "One companion may stay overnight on the ward with each patient. Please check in at the nurses' "
        "station when you arrive. A folding bed costs $10 a night and is collected by 7 a.m."))
    answer = "One companion may stay overnight on the ward with each patient, on a folding bed for $10 a night [1]."
    assert best_quote(ward.text, content_tokens(answer)).startswith("One companion")  # words alone
    r = cite(answer, [ward])
    assert [c.quote for c in r.citations] == ["A folding bed costs $10 a night and is collected by 7 a.m."]
    # without a number the most shared words still choose
    r = cite("One companion may stay overnight with each patient [1].", [ward])
    assert [c.quote for c in r.citations] == ["One companion may stay overnight on the ward with each patient."]


def test_a_long_quote_is_shortened_between_words_not_inside_p_m():
    from rag.answering.cite import shorten_quote

    hours = "Our branches are open from Monday to Friday, 9:00 a.m. to 5:00 p.m., and on Saturdays until noon."
    assert shorten_quote(hours, 200) == hours
    assert shorten_quote(hours, 68) == "Our branches are open from Monday to Friday, 9:00 a.m. to 5:00…"
    assert shorten_quote(hours, 72) == "Our branches are open from Monday to Friday, 9:00 a.m. to 5:00 p.m.…"
    assert shorten_quote("入院时需预交押金3000元，可用现金、银行卡或微信支付。", 10) == "入院时需预交押金3…"


@pytest.mark.parametrize("answer, text, expected", [
    ("内科——诊查费：¥10。外科——诊查费：¥12[1]。", "科室 | 诊查费\n内科 | ¥10\n外科 | ¥12",
     "内科——诊查费：¥10[1]。外科——诊查费：¥12[1]。"),
    ("挂失请拨打客服热线95555。口头挂失的有效期为五天[1]。", ZH.text, "挂失请拨打客服热线95555[1]。口头挂失的有效期为五天[1]。"),
    ("Medicine - Visit fee: $40. Surgery - Visit fee: $60 [1].", "Department | Visit fee\nMedicine | $40\nSurgery | $60",
     "Medicine - Visit fee: $40 [1]. Surgery - Visit fee: $60 [1]."),
], ids=["zh-amount", "zh-number", "en-amount"])
def test_an_attached_marker_takes_a_space_after_latin_text_only(answer, text, expected):
    """A marker attached to an uncited sentence ending in a digit or Latin letter had a space before it in
    Chinese too ("¥10 [1]。"), unlike the quote's own last marker ("¥12[1]。")."""
    assert cite(answer, [Hit("d", "d#0", "fees.csv", text, 0.9)]).answer == expected
