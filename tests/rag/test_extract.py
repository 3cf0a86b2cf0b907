"""Extractive answers: the passage's best-matching sentences, cited, in English and Chinese."""
from rag.answering.extract import extractive_answer, fallback_answer
from rag.types import Hit

FX = ("境内个人每人每年可享受等值5万美元的购汇额度和等值5万美元的结汇额度，额度按自然年\n"
      "计算，每年1月1日重置，当年未用完的额度不能结转到下一年。个人购汇可用于因私旅游、境外留学、"
      "探亲、就医、商务考察等经常项目用途，不得用于\n境外购房、证券投资、购买人寿保险等尚未开放的资本项目。")


def test_a_long_chinese_sentence_is_quoted_whole_and_first():
    # the quota sentence is ~70 characters, wrapped by the PDF layout: it is the answer
    ans = extractive_answer("个人每年的购汇额度是多少？", FX, 1)
    assert ans.startswith("境内个人每人每年可享受等值5万美元的购汇额度") and "额度按自然年计算" in ans
    assert "[1]。" in ans and "。 " not in ans


def test_fallback_takes_the_highest_ranked_passage_that_matches():
    def hit(i, text):
        return Hit(chunk_id=f"c{i}", doc_id=f"d{i}", text=text, score=1.0 - i / 10, source=f"s{i}", title="")

    hits = [hit(0, "Branches open at nine on weekdays."), hit(1, "Wire transfers cost 25 dollars each."),
            hit(2, "International wire transfers cost 45 dollars.")]
    assert fallback_answer("How much does a wire transfer cost?", hits) == "Wire transfers cost 25 dollars each [2]."
    assert fallback_answer("Can I adopt a cat?", hits) is None


def test_table_rows_are_not_joined_into_prose_or_quoted():
    from rag.text import prose_sentences

    text = ("汇款金额 | 柜台手续费（每笔）\n1万元（含）以下 | 5元\n1万元至10万元（含） | 10元\n"
            "通过手机银行办理境内转账，均免收手续费。")
    assert prose_sentences(text) == ["汇款金额 | 柜台手续费（每笔）", "1万元（含）以下 | 5元", "1万元至10万元（含） | 10元",
                                     "通过手机银行办理境内转账，均免收手续费。"]
    assert extractive_answer("到柜台汇款手续费是多少？", text, 1) == "通过手机银行办理境内转账，均免收手续费[1]。"


def test_a_sentence_that_refers_back_comes_with_the_one_naming_its_subject():
    from pathlib import Path

    from indexer.parse.encoding import read_text

    branches = read_text(Path(__file__).resolve().parents[2] / "data" / "sample" / "en" / "branches_and_hours.txt")
    listing = " ".join(branches[branches.index("Marina Plaza Branch"):branches.index("Northgate Branch")].split())
    chunk = "Harborview Branch - 88 Beacon Street, Eastmoor. Standard hours.\n" + listing
    answer = extractive_answer("Which branch is open on Sundays?", chunk, 1)
    assert answer.startswith("Marina Plaza Branch - Marina Plaza Shopping Center") and \
        answer.endswith("It is our only branch open on Sundays [1].")
    # "If you do," refers back to the condition before it
    grace = ("If your account becomes overdrawn, you have until 8:00 p.m. on the next business day to bring your "
             "balance back to $0. If you do, we waive all overdraft fees for the previous day.")
    assert extractive_answer("Are overdraft fees waived?", grace, 1).startswith("If your account becomes overdrawn")
    # Chinese: 该卡 refers back to the card the paragraph names
    card = "港湾金卡是本行发行的借记卡。该卡免收年费，境外取现每月前三笔免手续费。"
    assert extractive_answer("境外取现要手续费吗？", card, 1) == "港湾金卡是本行发行的借记卡[1]。该卡免收年费，境外取现每月前三笔免手续费[1]。"
    # a sentence that names its subject is quoted alone
    assert extractive_answer("临时挂失的有效期是多久？", "电话挂失。临时挂失有效期为5天，到期后自动解除。", 1) == \
        "临时挂失有效期为5天，到期后自动解除[1]。"
