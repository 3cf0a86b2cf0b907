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


def test_the_table_row_a_question_names_is_quoted_with_its_header():
    """A row means little without its header, so prose sentences were quoted instead and the row the
    question asks about never was: "the daily limit for international wires online with Premier
    Checking" got the text under the table. Now the named row comes first, each cell with its column."""
    limits = Hit(chunk_id="w4", doc_id="wires", source="wire_transfers.html", title="", score=0.9, text=(
        "Channel | Everyday Checking | Premier Checking\n"
        "Online and mobile, domestic wires | $25,000 per day | $100,000 per day\n"
        "Online and mobile, international wires | $10,000 per day | $50,000 per day\n"
        "Branch | $250,000 per day | $250,000 per day\n"
        "For a wire above the branch limit, contact your branch at least one business day in advance."))
    q = "What is the daily limit for international wires in online banking with Premier Checking?"
    assert fallback_answer(q, [limits]) == ("Online and mobile, international wires - Everyday Checking: $10,000 "
                                            "per day; Premier Checking: $50,000 per day [1].")
    # no row named: the prose as before
    assert fallback_answer("How much notice do I give for a large wire?", [limits]).startswith("For a wire above")
    # a header with the sentence before it run into its line (a Markdown table indexed as plain text)
    fees = Hit(chunk_id="f1", doc_id="fees", source="fees.md", title="", score=0.9, text=(
        "You can avoid the fee by meeting any one of the conditions. | Account | Monthly fee | How to avoid |\n"
        "|---|---|---|\n| Everyday Checking | $12 | Minimum daily balance of $1,500 |\n"
        "| Premier Checking | $25 | $15,000 or more in combined balances |"))
    assert fallback_answer("What does Everyday Checking cost a month?", [fees]) == \
        "Everyday Checking - Monthly fee: $12; How to avoid: Minimum daily balance of $1,500 [1]."
    zh = Hit(chunk_id="z1", doc_id="zh-fees", source="account_fees.md", title="", score=0.9, text=(
        "卡种 | 年费标准 | 减免条件\n港湾普卡 | 10元/年 | 开卡首年免收\n港湾金卡 | 50元/年 | 日均金融资产达到5万元的免收"))
    assert fallback_answer("港湾普卡的年费是多少？", [zh]) == "港湾普卡——年费标准：10元/年；减免条件：开卡首年免收[1]。"
    # one word of a row's first cell is not the row: a deposit rate is not the loan rate
    rates = Hit(chunk_id="r1", doc_id="rates", source="loans.md", title="", score=0.9, text=(
        "项目 | 标准\n贷款利率 | LPR减10个基点\n提前还款 | 满1年后不收取违约金"))
    assert "贷款利率——" not in (fallback_answer("你们三年期定期存款利率是多少？", [rates]) or "")


def test_a_question_asking_how_long_gets_the_row_with_the_time_limit():
    """"投诉之后多久会有答复？" names no row of the time-limit table (its rows share one or two of its words),
    and its prose sentences share words without saying how long: the extract quoted one of those. A
    question asking for a duration (or an amount, a time of day) now gets the one row stating that kind
    of number that shares the most words with it."""
    from rag.answering.asks import asked_kind

    limits = Hit(chunk_id="c1", doc_id="complaints", source="complaints_procedure.html", title="", score=0.9, text=(
        "处理时限\n环节 | 时限\n登记受理并告知受理编号 | 收到投诉后1个工作日内\n一般投诉处理完毕并答复 | 受理之日起15日内\n"
        "情况复杂的投诉 | 可延长至30日，延长时会告知您原因\n"
        "当场能够解决的问题，网点或客服人员会立即处理。处理结果将以电话、短信或书面形式告知，您可以在手机银行随时查询投诉处理进度。"))
    assert fallback_answer("投诉之后多久会有答复？", [limits]) == "一般投诉处理完毕并答复——时限：受理之日起15日内[1]。"
    # no duration asked, or no single row sharing the most words: the prose as before
    assert fallback_answer("投诉处理结果怎么告知我？", [limits]).startswith("处理结果将以电话")
    assert "——" not in fallback_answer("投诉要多久？", [limits])  # one word shared with every row: none is quoted
    assert [asked_kind(q) for q in ("How long does a wire take?", "What is the fee for a wire?", "几点开门？",
                                    "你们三年期定期存款利率是多少？", "Which branch opens on Sundays?")] == \
        ["duration", "money", "time", None, None]


def test_a_limit_asks_for_money_only_when_it_limits_money():
    """"What is the visitor limit on the wards?" asked for money: a ward's visitors column was refused as
    giving no amount for it."""
    from rag.answering.asks import asked_kind

    assert [asked_kind(q) for q in ("What is the daily limit?", "What is the limit?", "What are the transfer limits?",
                                    "每日限额是多少？")] == ["money"] * 4
    assert [asked_kind(q) for q in ("What is the visitor limit on the wards?", "What are the age limits?",
                                    "What is the file size limit?", "What is the upload limit?")] == [None] * 4


def test_of_sentences_sharing_as_many_words_the_one_stating_what_is_asked_comes_first():
    text = ("Wire transfers are sent from online banking or a branch. International wire transfers arrive in "
            "2 to 5 business days.")
    assert extractive_answer("How long do international wire transfers take?", text, 1, max_sentences=1) == \
        "International wire transfers arrive in 2 to 5 business days [1]."


def test_a_short_table_is_quoted_whole_with_the_line_introducing_it():
    """"转账限额是多少？": the limits are a table introduced by "...取决于您使用的安全认证工具：". The intro alone
    says nothing and rows were never quoted, so the extract quoted another sentence sharing the words.
    Now the intro and every row with its headers are one quote (up to 6 rows); rows alike but for their
    numbers are the table's own (not a model's listing loop), and 人脸识别 holds no negation (别)."""
    from rag.answering.cite import cite

    limits = Hit(chunk_id="t1", doc_id="transfer", source="transfer_and_remittance.html", title="", score=0.9, text=(
        "电子渠道转账限额取决于您使用的安全认证工具：\n认证方式 | 单笔限额 | 单日累计限额\n短信验证码 | 5万元 | 20万元\n"
        "短信验证码+人脸识别 | 20万元 | 50万元\nU盾（USB Key） | 50万元 | 100万元\n"
        "您可以在手机银行“安全中心—转账限额”中自行调低限额；调高限额需在手机银行完成人脸识别。"))
    quote = fallback_answer("转账限额是多少？", [limits])
    assert quote.startswith("电子渠道转账限额取决于您使用的安全认证工具：短信验证码——单笔限额：5万元；单日累计限额：20万元")
    assert "短信验证码+人脸识别——单笔限额：20万元；单日累计限额：50万元" in quote and "U盾（USB Key）——单笔限额：50万元" in quote
    checked = cite(quote, [limits], contest=False)  # as the pipeline checks an extract: nothing is removed
    assert checked.dropped == [] and checked.answer.count("万元") == quote.count("万元") == 6
    assert not quote.endswith("；")  # a clause quoted alone ends as a sentence


def test_key_value_lines_are_items_not_wrapped_lines():
    hours = Hit(chunk_id="h1", doc_id="hours", source="branches_and_hours.md", title="", score=0.9, text=(
        "除下表另有说明外，各网点的营业时间为：\n周一至周五：9:00—17:00\n周六、周日：10:00—16:00（仅部分网点营业，见网点列表）\n"
        "法定节假日：以网点公告为准，春节期间各网点轮流值班营业\n网点对公业务的受理时间截至每个工作日16:30。"))
    # the list its intro introduces is quoted whole, each line an item ("网点几点开门？" had been answered with the
    # weekend line and the corporate cut-off: the weekday hours share no word with it)
    whole = ("除下表另有说明外，各网点的营业时间为：周一至周五：9:00—17:00；周六、周日：10:00—16:00（仅部分网点营业，见网点列表）；"
             "法定节假日：以网点公告为准，春节期间各网点轮流值班营业[1]。")
    assert fallback_answer("网点周末营业吗？", [hours]) == whole
    assert fallback_answer("网点几点开门？", [hours]) == whole
    # a question one line answers better than the intro gets that line
    assert fallback_answer("周六周日网点营业到几点？", [hours]).startswith("周六、周日：10:00—16:00")


def test_a_bulleted_key_value_list_is_quoted_without_its_bullets():
    hours = Hit(chunk_id="h2", doc_id="hours", source="branches.txt", title="", score=0.9, text=(
        "Unless a branch listing below says otherwise, our branches are open:\n- Monday to Friday: 9:00 a.m. to 5:00 p.m."
        "\n- Saturday: 9:00 a.m. to 1:00 p.m.\n- Sunday: closed\nAll times are Eastern Time."))
    assert fallback_answer("When are your branches open?", [hours]) == (
        "Unless a branch listing below says otherwise, our branches are open: Monday to Friday: 9:00 a.m. to 5:00 p.m.; "
        "Saturday: 9:00 a.m. to 1:00 p.m.; Sunday: closed [1].")


def test_a_number_in_the_question_names_the_row_whose_range_holds_it():
    tests = Hit(chunk_id="a1", doc_id="admissions", source="admissions.md", title="Admissions > Entrance assessments",
                score=0.9, text=("Grade applied for | What is assessed | Duration\nKindergarten | Play-based observation | "
                                 "45 minutes\nGrades 1-5 | English and Maths | 1 hour\nGrades 6-8 | English, Maths and a "
                                 "short essay | 2 hours\nGrades 9-12 | English, Maths and Science | 2.5 hours"))
    assert fallback_answer("What does the entrance test cover for a kid going into Grade 7, and how long is it?",
                           [tests]) == ("Grades 6-8 - What is assessed: English, Maths and a short essay; "
                                        "Duration: 2 hours [1].")
    # "grade" is all it names of the entrance assessments' rows: no row is named by the number alone
    assert not (fallback_answer("How many hours of homework should a Grade 4 student expect each night?", [tests])
                or "").startswith("Grades 1-5")


def test_a_bare_number_under_a_header_naming_a_currency_is_a_price():
    prices = Hit(chunk_id="p1", doc_id="canteen", source="canteen.md", title="Lunch and the Canteen > Price list",
                 score=0.9, text=("Item | Price (CAD)\nBreakfast set (secondary only) | 4.50\nHot lunch, primary (K-5) | "
                                  "8.50\nHot lunch, secondary (6-12) | 9.75\nSalad bowl | 7.00"))
    plan = Hit(chunk_id="p0", doc_id="canteen", source="canteen.md", title="Lunch and the Canteen > Ways to pay",
               score=0.95, text="Full-year lunch plan (5 days a week): CAD 1,330 for Grades K-5, CAD 1,520 for Grades 6-12.")
    # the row a grade names among two hot lunches, asked how much: its price is an amount under "Price (CAD)"
    assert fallback_answer("How much is a hot lunch for a Grade 8 student if we don't buy the lunch plan?",
                           [plan, prices]) == "Hot lunch, secondary (6-12) - Price (CAD): 9.75 [2]."
    beds = Hit(chunk_id="b1", doc_id="prices", source="prices.csv", title="prices.csv", score=0.9,
               text="项目名称 | 计价单位 | 价格（元） | 备注\n三人间床位费 | 床日 | 45 | 医保甲类\n单人病房床位费 | 床日 | 260 | 自费")
    assert fallback_answer("住单人病房一天多少钱？", [beds]).startswith("单人病房床位费——计价单位：床日；价格（元）：260")


def test_an_amount_asked_about_gets_its_tier_of_a_fee_table():
    """"到柜台往外行汇8万块钱，手续费是多少？": the counter fee is a table of tiers of amounts; the extract quoted
    the sentence on free mobile transfers. The tier holding the amount is the answer (on a boundary, the tier
    it closes: "至50万元（含）")."""
    fees = Hit(chunk_id="f1", doc_id="transfer-fees", source="transfer_and_remittance.html", title="", score=0.9,
               text=("通过手机银行、网上银行办理境内转账，无论行内还是跨行，均免收手续费。在网点柜台办理行内转账免费，办理跨行汇款按以下标准收费：\n"
                     "汇款金额 | 柜台手续费（每笔）\n1万元（含）以下 | 5元\n1万元至10万元（含） | 10元\n10万元至50万元（含） | 15元\n"
                     "50万元至100万元（含） | 20元\n100万元以上 | 汇款金额的0.002%，最高200元"))
    assert fallback_answer("到柜台往外行汇8万块钱，手续费是多少？", [fees]) == "1万元至10万元（含）——柜台手续费（每笔）：10元[1]。"
    assert fallback_answer("柜台跨行汇款50万元手续费是多少？", [fees]).startswith("10万元至50万元（含）——")
    assert fallback_answer("柜台跨行汇款200万元手续费多少钱？", [fees]).startswith("100万元以上——")
    # no amount asked: the prose, and the table only as relevant as the best sentence
    assert fallback_answer("用手机银行给其他银行转账要收手续费吗？", [fees]) == \
        "通过手机银行、网上银行办理境内转账，无论行内还是跨行，均免收手续费[1]。"


def test_a_question_of_two_questions_gets_an_extract_for_each():
    """"银行卡丢了怎么挂失？临时挂失的有效期是多久？": the passage ranked first for the whole question holds only the
    validity period, and the extract quoted only that. Each question now gets the passage that matches it
    best; a later one is matched together with the first ("有没有办法免掉？" is about 港湾普卡's fee)."""
    validity = Hit(chunk_id="c2", doc_id="loss", source="card_loss_reporting.txt", title="", score=0.9,
                   text="临时挂失有效期为5天，到期后自动解除。如果在此期间找到卡片，可通过手机银行或客服热线解除挂失。")
    how = Hit(chunk_id="c1", doc_id="loss", source="card_loss_reporting.txt", title="", score=0.8, text=(
        "发现卡片丢失后，可通过以下任一方式立即办理临时挂失，临时挂失免费：\n"
        "1. 拨打港湾银行24小时客服热线400-106-9588，按语音提示转人工服务，核实身份后即可挂失；\n"
        "2. 登录港湾银行手机银行，进入“我的—银行卡管理—挂失”，选择需挂失的卡片并完成人脸识别；"))
    answer = fallback_answer("银行卡丢了怎么挂失？临时挂失的有效期是多久？", [validity, how])
    assert answer.startswith("拨打港湾银行24小时客服热线400-106-9588") and answer.endswith("临时挂失有效期为5天，到期后自动解除[1]。")
    assert "完成人脸识别[2]。" in answer  # each quote cites its own passage
    fees = Hit(chunk_id="f1", doc_id="fees", source="account_fees.md", title="", score=0.9,
               text="卡种 | 年费标准 | 减免条件\n港湾普卡 | 10元/年 | 开卡首年免收\n港湾金卡 | 50元/年 | 日均金融资产达到5万元的免收")
    assert fallback_answer("港湾普卡的年费是多少？有没有办法免掉？", [fees]) == "港湾普卡——年费标准：10元/年；减免条件：开卡首年免收[1]。"


def test_a_sentence_is_quoted_with_the_line_opening_that_names_its_subject():
    """make demo: "Is the Quayside branch open on Saturday?" was answered with the page's opening
    sentences: "Extended hours: ... on Saturdays." shares as many of the question's words as they do
    (open, Saturday), and the rest (Quayside, branch) are in the first sentence of its line. It now comes
    first, quoted after that sentence, which says whose hours they are."""
    chunk = ("Harbor Bank has five branches in the Port Calder area. This page lists our branches, their opening "
             "hours and the services each branch offers.\n2. Our branches\n"
             "Quayside Main Branch - 200 Quayside Avenue, Port Calder. Phone 1-800-555-0110. Extended hours: open "
             "until 7:00 p.m. on Thursdays and from 9:00 a.m. to 3:00 p.m. on Saturdays. This is our largest branch.\n"
             "Northgate Branch - 410 Northgate Road. Closed on Saturdays and Sundays.")
    assert extractive_answer("Is the Quayside branch open on Saturday?", chunk, 1) == (
        "Quayside Main Branch - 200 Quayside Avenue, Port Calder [1]. Extended hours: open until 7:00 p.m. on "
        "Thursdays and from 9:00 a.m. to 3:00 p.m. on Saturdays [1].")
    # a sentence holding the question's words itself is preferred to one borrowing them from its line
    assert extractive_answer("Is the Northgate branch closed on Saturdays?", chunk, 1).startswith(
        "Northgate Branch - 410 Northgate Road [1]. Closed on Saturdays and Sundays [1].")
    # 临时挂失的有效期: the line's first sentence holds the words; the one after it is not quoted instead
    loss = "临时挂失有效期为5天，到期后自动解除。如果在此期间找到卡片，可通过手机银行或客服热线解除挂失。"
    assert extractive_answer("临时挂失的有效期是多久？", loss, 1) == "临时挂失有效期为5天，到期后自动解除[1]。"


ATM_FEES = ("Withdrawals, balance inquiries and transfers at Harbor Bank ATMs are always free.\n"
            "Non-Harbor Bank ATM in the United States: $3.00 per withdrawal, plus any fee charged by the ATM owner.\n"
            "ATM outside the United States: $5.00 per withdrawal, plus a 3% foreign transaction fee on the amount "
            "withdrawn.\nBalance inquiry at a non-Harbor Bank ATM: $1.00.\n"
            "Premier Checking customers receive refunds of up to four non-Harbor Bank ATM fees per statement cycle.")


def test_a_line_of_a_name_value_list_is_a_row_in_any_passage():
    """make demo's KB: "How much is an ATM withdrawal outside the U.S.?" was answered with the savings
    withdrawal limits (ranked first: "Each additional withdrawal costs $10"); the ATM fees, a list of
    "name: value" lines, ranked second. A line of such a list that the question names is a table row,
    quoted before any passage's sentences."""
    savings = Hit(chunk_id="s", doc_id="fees", source="account_fees.md", title="", score=0.9, text=(
        "Basic Savings accounts allow six free withdrawals per statement cycle. Each additional withdrawal costs "
        "$10, up to a maximum of $60 per statement cycle."))
    atm = Hit(chunk_id="a", doc_id="fees", source="account_fees.md", title="", score=0.8, text=ATM_FEES)
    assert fallback_answer("How much is an ATM withdrawal outside the U.S.?", [savings, atm]) == (
        "ATM outside the United States: $5.00 per withdrawal, plus a 3% foreign transaction fee on the amount "
        "withdrawn [2].")
    # a list line is not quoted when a sentence of its passage shares more of the question's words: the
    # standard hours' "Saturday" line is not the Quayside branch's Saturday
    hours = ("Unless a branch listing below says otherwise, our branches are open:\nMonday to Friday: 9:00 a.m. to "
             "5:00 p.m.\nSaturday: 9:00 a.m. to 1:00 p.m.\nSunday: closed\nQuayside Main Branch - 200 Quayside "
             "Avenue. Extended hours: open from 9:00 a.m. to 3:00 p.m. on Saturdays.")
    hit = Hit(chunk_id="h", doc_id="b", source="branches.txt", title="", score=0.9, text=hours)
    assert "3:00 p.m. on Saturdays" in fallback_answer("Is the Quayside branch open on Saturday?", [hit])


def test_a_chinese_word_jieba_joins_is_matched_by_its_pieces():
    """make demo's KB: "补卡要多少钱？" was refused although the passages retrieved say 补卡工本费为每张5元: jieba
    cuts the question 补卡要 / 多少 / 钱, and no passage has 补卡要. With no sentence sharing a word, the
    question is matched again with such words in their two-character pieces (补卡, 卡要)."""
    loss = Hit(chunk_id="l", doc_id="loss", source="card_loss_reporting.txt", title="", score=0.9, text=(
        "办理正式挂失满7天后，可以到网点补办新卡，补卡工本费为每张5元。正式挂失长期有效，原卡片将被永久注销。"))
    assert fallback_answer("补卡要多少钱？", [loss]) == "办理正式挂失满7天后，可以到网点补办新卡，补卡工本费为每张5元[1]。"
    assert fallback_answer("开户要带什么证件？", [loss]) is None  # no piece matches either: still no answer


def test_a_row_found_only_by_the_kind_of_number_asked_does_not_outrank_a_higher_passage():
    """The bank eval set's "I went into overdraft yesterday. How long do I have to fix it and avoid the
    fee?": the first passage answers (until 8:00 p.m. the next business day); the fee schedule, ranked
    lower, has a row stating a duration ("after 7 consecutive days overdrawn") that the question does
    not name. Only a row the question names is quoted before a higher-ranked passage's sentences."""
    grace = Hit(chunk_id="g", doc_id="od", source="overdraft_policy.md", title="", score=0.9, text=(
        "If your account becomes overdrawn, you have until 8:00 p.m. Eastern Time on the next business day to "
        "bring your available balance back to $0 or above. If you do, we waive all overdraft fees for the previous day."))
    schedule = Hit(chunk_id="s", doc_id="fs", source="fee_schedule.csv", title="", score=0.8, text=(
        "category | service | fee | notes\nOverdraft | Overdraft fee | $29.00 | Maximum 3 per day\n"
        "Overdraft | Continuous overdraft fee | $25.00 | Once per overdraft period after 7 consecutive days overdrawn\n"
        "Overdraft | Overdraft Protection transfer | $10.00 per day |"))
    q = "I went into overdraft yesterday. How long do I have to fix it and avoid the fee?"
    assert fallback_answer(q, [grace, schedule]).startswith("If your account becomes overdrawn, you have until 8:00 p.m.")
    # a row the question names still comes first from any passage
    assert fallback_answer("How much is an Overdraft Protection transfer?", [grace, schedule]).startswith(
        "Overdraft Protection transfer - category: Overdraft; fee: $10.00 per day")


def _hit(i: int, text: str, source: str = "") -> Hit:
    return Hit(chunk_id=f"c{i}", doc_id=f"d{i}", text=text, score=1.0 - i / 10, source=source or f"s{i}", title="")


def test_a_question_and_a_passage_saying_the_same_thing_in_other_words_match():
    """make demo's KB: "一天最多能转多少钱？" got the branches' booking sentence ("最多可预约未来7天"), the only one
    sharing its words as cut, ranked above the transfer-limits table, which says 单日 for 一天, 限额 for 最多
    and 转账 for 转."""
    booking = _hit(0, "您可以通过手机银行“网点预约”功能预约，最多可预约未来7天内的时段。")
    limits = _hit(1, "电子渠道转账限额取决于您使用的安全认证工具：\n认证方式 | 单笔限额 | 单日累计限额\n"
                     "短信验证码 | 5万元 | 20万元\nU盾 | 50万元 | 100万元\n柜台转账不设上限。")
    ans = fallback_answer("一天最多能转多少钱？", [limits, booking])
    assert ans.startswith("电子渠道转账限额取决于您使用的安全认证工具") and "单日累计限额：20万元" in ans
    # in English: "daily" is "per day", "limit" a "maximum"
    wires = _hit(0, "Wires to other banks cost 25 dollars. The maximum you can send per day by wire is "
                    "50,000 dollars.")
    assert fallback_answer("What is the daily wire limit?", [wires]) == \
        "The maximum you can send per day by wire is 50,000 dollars [1]."


def test_what_a_question_asks_whether_there_is():
    from rag.answering.asks import asked_thing

    assert asked_thing("Is there free Wi-Fi in the branches?") == "free Wi-Fi in the branches"
    assert asked_thing("Do you offer student credit cards with cashback?") == "student credit cards with cashback"
    assert asked_thing("网点有停车位吗？") == "停车位"
    assert asked_thing("医院附近有没有给家属住的便宜宾馆？") == "给家属住的便宜宾馆"
    assert asked_thing("你们银行提供宠物保险吗？") == "宠物保险"
    assert asked_thing("手机银行支持跨行转账吗") == "跨行转账"
    # asking for a way is asking how; no thing is asked about at all
    assert asked_thing("Is there a way to get out of paying?") is None
    assert asked_thing("普卡年费多少？有没有办法免掉？") is None
    assert asked_thing("How much is a wire transfer?") is None


def test_a_quote_must_name_the_thing_asked_about_in_its_own_script():
    from rag.pipeline import _thing_not_named

    assert _thing_not_named("网点有停车位吗？", "所有网点均设有无障碍通道和爱心窗口[1]。")
    assert not _thing_not_named("网点有停车位吗？", "各网点均提供免费停车位[1]。")
    # an English quote for a Chinese question shares no word with it by nature: left to quote_across's bar
    assert not _thing_not_named("网点有停车位吗？", "Free parking is available at every branch [1].")


def test_how_many_asks_for_a_count():
    from rag.answering.asks import asked_kind

    assert asked_kind("How many overdraft fees can I be charged in one day?") == "number"
    assert asked_kind("How many days do I have to cover an overdraft?") == "duration"
    assert asked_kind("每天能取几次？") == "number"
    assert asked_kind("个人贷款最多能借多少？") == "money"
    assert asked_kind("房贷最长能贷多少年？") == "duration"  # 能贷多少 asks for money, 多少年 for years
    assert asked_kind("要等多少个月？") == "duration" and asked_kind("年费是多少？") == "money"
    table = _hit(0, "| Item | Fee |\n|---|---|\n| Overdraft fee (per item we pay) | $29 |\n"
                    "| Maximum overdraft fees per day | 3 fees ($87) |\n"
                    "| Continuous overdraft fee (account overdrawn 7 consecutive calendar days) | $25 |\n"
                    "We do not charge an overdraft fee if your account is overdrawn by $50 or less.")
    assert fallback_answer("How many overdraft fees can I be charged in one day?", [table]) == \
        "Maximum overdraft fees per day - Fee: 3 fees ($87) [1]."


def test_a_question_asking_for_a_phone_number_gets_the_lines_giving_one():
    """make demo's "My debit card was stolen while I was abroad. Which number should I call?" got the
    notice's opening sentence (sharing debit, card, stolen) and a line about the new card number."""
    cards = _hit(0, "This notice explains what to do if your debit card is lost, stolen or used without your "
                    "permission.\nReport a lost or stolen card as soon as you notice it is missing.\n"
                    "Call the 24-hour Card Services line at 1-800-555-0199.\n"
                    "From outside the United States, call +1-302-555-0188. We accept collect calls to this number.\n"
                    "Your new card has a new card number.")
    assert fallback_answer("My debit card was stolen while I was abroad. Which number should I call?", [cards]) == (
        "Call the 24-hour Card Services line at 1-800-555-0199 [1]. "
        "From outside the United States, call +1-302-555-0188 [1].")


def test_a_question_asking_how_gets_the_numbered_steps_of_its_section():
    """make demo's "How do I reset my online banking password?" got the article's opening sentence ("This
    help article explains how to reset ..."), ranked first; the steps are in the section titled for it."""
    opening = Hit(chunk_id="o", doc_id="pw", source="reset.md", title="Online Banking: Resetting Your Password",
                  score=0.9, text="This help article explains how to reset a forgotten online banking password.")
    steps = Hit(chunk_id="s", doc_id="pw", source="reset.md", score=0.8,
                title="Online Banking: Resetting Your Password > Resetting a forgotten password",
                text="1. On the sign-in page, select Forgot password?\n2. Enter your username.\n"
                     "3. Enter the passcode and create a new password.\nAfter you reset your password, you are signed out.")
    assert fallback_answer("How do I reset my online banking password?", [opening, steps]) == (
        "1. On the sign-in page, select Forgot password? [2]\n2. Enter your username [2].\n"
        "3. Enter the passcode and create a new password [2].")
    # a list under a section about something else is no answer to it; nor to a question not asking how
    assert fallback_answer("How do I unlock my profile?", [steps]) is None
    assert not fallback_answer("Is there a fee to reset my password?", [opening, steps]).startswith("1.")
    zh = Hit(chunk_id="z", doc_id="zpw", source="重置.txt", title="忘记登录密码", score=0.9, text=(
        "如忘记手机银行登录密码，可按以下步骤重置：\n1. 在登录页点击“忘记密码”；\n2. 输入身份证号码和借记卡卡号；\n"
        "3. 设置新的登录密码并确认。"))
    assert fallback_answer("忘记手机银行登录密码怎么办？", [zh]) == (
        "1. 在登录页点击“忘记密码”[1]。\n2. 输入身份证号码和借记卡卡号[1]。\n3. 设置新的登录密码并确认[1]。")


def test_steps_are_the_answer_when_their_title_names_one_word_of_the_question_and_the_steps_another():
    # "absent" is no "absence" to the stemmer: the title names only "report"; the third step says "absent"
    steps = Hit(chunk_id="a", doc_id="att", source="attendance.txt", score=0.9, title="School day > REPORTING AN ABSENCE",
                text="1. A parent calls the Attendance Line on 555-0147 before 8:30 a.m. on each day of absence.\n"
                     "2. Give the student's full name and the reason for the absence.\n"
                     "3. If the student is absent through illness for 3 or more days, bring a doctor's note.")
    assert fallback_answer("how do i report my son absent", [steps]).startswith("1. A parent calls the Attendance Line")
    # one word of the title and none of the steps' own is no answer: a list under a section about something else
    assert not (fallback_answer("how do i report a lost card", [steps]) or "").startswith("1.")
    zh = Hit(chunk_id="q", doc_id="qj", source="请假.txt", score=0.9, title="学生请假",
             text="1. 学生生病的，家长在7:30前致电班主任说明原因；\n2. 病假3天以上须补交医院证明；\n3. 返校当天到年级组销假。")
    assert fallback_answer("孩子生病了怎么请假", [zh]).startswith("1. 学生生病的，家长在7:30前致电班主任")


def test_a_list_items_number_is_not_quoted_without_its_list():
    how = _hit(0, "发现卡片丢失后，可通过以下任一方式办理临时挂失：\n1. 拨打客服热线400-106-9588，核实身份后即可挂失；\n"
                  "2. 登录手机银行，进入“银行卡管理—挂失”，完成人脸识别。")
    assert fallback_answer("可以打电话挂失吗？", [how]).startswith("拨打客服热线400-106-9588")


def test_a_list_item_quoted_alone_opens_with_a_capital():
    steps = _hit(0, "If we cannot resolve your complaint, our team will:\n1. acknowledge your complaint in writing "
                    "within 2 business days;\n2. investigate, and contact you if we need more information.")
    assert fallback_answer("When will you acknowledge my complaint?", [steps]) == (
        "Acknowledge your complaint in writing within 2 business days [1].")


def test_one_shared_word_and_its_pieces_do_not_name_a_row():
    """make demo's "外币现钞取款要手续费吗？" got the fee schedule's "境外汇款手续费" row: jieba's 手续费 comes with its
    pieces 手续 and 续费, which counted as three of the row's words. The foreign-cash passage answers."""
    cash = _hit(0, "外币现钞存入当日，如需取出现钞不收费。由外汇汇款转入的现汇账户提取现钞，需按提取金额的0.5%收取现汇转现钞手续费。")
    schedule = _hit(1, "类别 | 服务项目 | 收费标准 | 备注\n转账汇款 | 境外汇款手续费 | 汇款金额的0.1% | 最低50元，最高260元\n"
                       "转账汇款 | 境外汇款电讯费 | 150元/笔 |\n账户管理 | 小额账户管理费 | 3元/季 | 日均余额低于300元收取")
    assert fallback_answer("外币现钞取款要手续费吗？", [cash, schedule]).startswith("外币现钞存入当日")
    assert fallback_answer("境外汇款手续费是多少？", [cash, schedule]).startswith("境外汇款手续费——")


def test_a_sentence_about_the_document_is_quoted_only_when_nothing_else_matches():
    """make demo's "What are the Quayside branch opening hours on weekdays?" got "This page lists our branches,
    their opening hours and the services each branch offers", which shares three of its words."""
    page = _hit(0, "This page lists our branches, their opening hours and the services each branch offers.\n"
                   "Quayside Main Branch - 200 Quayside Avenue. Extended hours: open until 7:00 p.m. on Thursdays.")
    assert fallback_answer("What are the Quayside branch opening hours on weekdays?", [page]) == (
        "Quayside Main Branch - 200 Quayside Avenue [1]. Extended hours: open until 7:00 p.m. on Thursdays [1].")
    assert fallback_answer("What does this page list?", [page]).startswith("This page lists our branches")
    assert fallback_answer("本指南介绍什么？", [_hit(1, "本指南介绍个人贷款的申请条件。贷款额度1万元至30万元。")]).startswith("本指南介绍")


def test_a_percentage_answers_how_much_and_is_there_a_fee_asks_for_an_amount():
    from rag.answering.asks import asked_kind, asked_values

    assert asked_kind("Do you charge a fee for using my debit card abroad?") == "money"
    assert asked_kind("Is there a monthly fee for Basic Savings?") == "money"
    assert asked_kind("Do I pay a fee for using my debit card abroad?") == "money"
    assert asked_kind("Do you charge for incoming wires?") == "money"
    assert asked_values("How much is the foreign transaction fee?", "A fee of 3% applies.") == {("percent", 3.0)}
    assert asked_values("How much is the foreign transaction fee?", "It applies abroad.") == frozenset()
    # a contact's e-mail or web address is a value too, itself: two answers giving different ones differ
    asked = "How can I reach customer service?"
    assert asked_values(asked, "Write to help@harborbank.example.") == {("address", "help@harborbank.example")}
    assert asked_values(asked, "See consumerfinance.gov or call 1-800-555-0142.") >= {("address", "consumerfinance.gov")}
    assert asked_values("How much is the fee?", "Write to help@harborbank.example.") == frozenset()


def test_a_quote_lacking_the_kind_of_number_asked_takes_the_best_sentence_giving_one():
    """make demo's "Do you charge a fee for using my debit card abroad?" quoted the two sentences sharing most
    of its words, neither stating the 3% fee."""
    abroad = _hit(0, "Harbor Bank debit and credit cards work worldwide wherever Visa is accepted. A foreign transaction "
                     "fee of 3% of the US dollar amount applies to purchases made in a foreign currency. Premier "
                     "Checking debit cards and the Harbor Voyager credit card have no foreign transaction fees.")
    ans = fallback_answer("Do you charge a fee for using my debit card abroad?", [abroad])
    assert "fee of 3%" in ans and "no foreign transaction fees" in ans


def test_a_later_chunk_of_the_same_document_that_answers_wholly_is_quoted():
    """The branch page's first chunk is ranked first for "Which Harbor Bank branch is open on Sundays?"; its
    best sentence shares only the title's words (Harbor Bank, branch). The second chunk's sentence holds
    every other word of the question: it is quoted. A chunk of another document is not."""
    title = "HARBOR BANK - BRANCH LOCATIONS AND OPENING HOURS"
    first = ("Harbor Bank has five branches in the Port Calder area and more than 1,200 ATMs in its network.\n"
             "Unless a branch listing below says otherwise, our branches are open:\nSunday: closed")
    second = ("Marina Plaza Branch - 5 Cafe Row, Port Calder. Because it is in a shopping center, this branch keeps "
              "different hours: Sunday 12:00 p.m. to 4:00 p.m. It is our only branch open on Sundays.")
    hits = [Hit(chunk_id="b0", doc_id="branches", text=first, score=2.5, source="b.txt", title=title),
            Hit(chunk_id="b1", doc_id="branches", text=second, score=2.4, source="b.txt", title=title)]
    q = "Which Harbor Bank branch is open on Sundays?"
    answer = fallback_answer(q, hits)
    assert answer.endswith("It is our only branch open on Sundays [2].") and "[1]" not in answer
    other = [hits[0], Hit(chunk_id="x1", doc_id="other", text=second, score=2.4, source="x.txt", title=title)]
    assert fallback_answer(q, other).startswith("Harbor Bank has five branches")  # rank decides across documents
    # a later chunk that matches more words but leaves a word of the question out does not displace the first
    loans = [Hit(chunk_id="l0", doc_id="loans", title="Loan policy", source="l.pdf", score=2.0,
                 text="Unsecured personal loans are available from $2,000 to $50,000."),
             Hit(chunk_id="l1", doc_id="loans", title="Loan policy", source="l.pdf", score=1.9,
                 text="The origination fee is 0.75% of the loan amount, with a maximum of $4,000.")]
    assert fallback_answer("What is the maximum amount for a personal loan?", loans).startswith("Unsecured personal")


def test_a_sentence_about_a_titled_document_is_quoted_last():
    text = ("Effective date: January 15, 2025. This Privacy Policy explains how Harbor Bank collects, uses, shares "
            "and protects personal information. Harbor Bank does not sell your personal information.")
    assert extractive_answer("Do you sell my personal information?", text, 1) == \
        "Harbor Bank does not sell your personal information [1]."


def test_a_later_section_of_the_same_guide_that_names_what_is_asked_is_quoted():
    """一天最多能转多少钱？: the transfer guide's arrival times rank first (跨行转账5万元以下 ...); its section 转账限额
    holds 单日 (一天) and 限额 (最多). The asking words (多少钱) need not be in the quote; the heading counts."""
    doc = "转账汇款服务指南"
    arrival = Hit(chunk_id="t1", doc_id="transfer", source="t.html", score=0.96, title=f"{doc} > 到账时间",
                  text="跨行转账5万元（含）以下：通过网上支付跨行清算系统办理，7×24小时实时到账。")
    limits = Hit(chunk_id="t2", doc_id="transfer", source="t.html", score=0.94, title=f"{doc} > 转账限额",
                 text="使用短信验证码的，单笔限额5万元，单日累计限额20万元。柜台转账不设上限。")
    assert fallback_answer("一天最多能转多少钱？", [arrival, limits]).startswith("使用短信验证码的，单笔限额5万元，单日累计限额20万元[2]。")
    # a question the first section answers keeps it
    assert fallback_answer("跨行转账多久到账？", [arrival, limits]).endswith("实时到账[1]。")


def test_a_second_sentence_about_another_subject_is_not_quoted_with_the_first():
    """"Is the Old Town branch open on Saturdays?" matched the Old Town line and Marina Plaza's "Because it is in
    a shopping center, this branch keeps different hours: Monday to Saturday ...": quoted together they gave
    Old Town Marina Plaza's hours."""
    chunk = ("Old Town Branch - 14 Rue de la Cremerie, Port Calder. Phone 1-800-555-0111. Standard hours.\n"
             "Marina Plaza Branch - 5 Cafe Row, Port Calder. Phone 1-800-555-0113. Because it is in a shopping "
             "center, this branch keeps different hours: Monday to Saturday 10:00 a.m. to 6:00 p.m.")
    assert extractive_answer("Is the Old Town branch open on Saturdays?", chunk, 1) == \
        "Old Town Branch - 14 Rue de la Cremerie, Port Calder [1]."
    # the same sentence answers a question about the branch its line names, with that line's opening
    assert extractive_answer("Is the Marina Plaza branch open on Saturdays?", chunk, 1).startswith(
        "Marina Plaza Branch - 5 Cafe Row, Port Calder [1].")


def test_rows_a_question_names_equally_are_quoted_together():
    """"What is the fee for an outgoing international wire sent online?" names two rows of the fee table
    equally (sent in US dollars, in foreign currency): both are quoted, where the fee table had given nothing
    and the limits table's "Online and mobile, international wires" row (a lower passage) was the answer."""
    fees = Hit(chunk_id="w1", doc_id="wires", source="wire_transfers.html", title="Wire Transfers > Fees", score=0.9,
               text=("Wire type | Online or mobile | At a branch or by phone\nOutgoing domestic wire | $25 | $30\n"
                     "Outgoing international wire (sent in US dollars) | $45 | $50\n"
                     "Outgoing international wire (sent in foreign currency) | $35 | $40\n"
                     "Incoming domestic or international wire | $15 | $15\n"
                     "Premier Checking customers pay no fee for incoming wires."))
    limits = Hit(chunk_id="w2", doc_id="wires", source="wire_transfers.html", title="Wire Transfers > Daily limits",
                 score=0.8, text=("Channel | Everyday Checking | Premier Checking\n"
                                  "Online and mobile, domestic wires | $25,000 per day | $100,000 per day\n"
                                  "Online and mobile, international wires | $10,000 per day | $50,000 per day"))
    assert fallback_answer("What is the fee for an outgoing international wire sent online?", [fees, limits]) == (
        "Outgoing international wire (sent in US dollars) - Online or mobile: $45; At a branch or by phone: $50. "
        "Outgoing international wire (sent in foreign currency) - Online or mobile: $35; At a branch or by phone: "
        "$40 [1].")
    # the same rows for "How much does an outgoing international wire cost?", where a sentence of the fee
    # passage ("Premier Checking customers pay no fee for incoming wires and receive two free outgoing domestic
    # wires") holds more of its words than they do: still the rows, not the lower passage's limits row
    fees.text += " They receive two free outgoing domestic wires. Intermediary banks may deduct fees from international wires."
    assert fallback_answer("How much does an outgoing international wire cost?", [fees, limits]).startswith(
        "Outgoing international wire (sent in US dollars) - Online or mobile: $45")
    # a sentence of any passage holding more of the question's words than the rows is quoted instead
    boxes = Hit(chunk_id="f1", doc_id="fees", source="fee_schedule.csv", title="", score=0.9, text=(
        "Service | Category | Fee\nSafe deposit box (small) | Other services | $60.00 per year\n"
        "Safe deposit box (medium) | Other services | $110.00 per year\n"
        "Safe deposit box (large) | Other services | $200.00 per year\nCoin counting | Other services | Free"))
    branches = Hit(chunk_id="b5", doc_id="branches", source="branches.txt", title="", score=0.8,
                   text="Safe deposit boxes are available at the Quayside Main and Old Town branches.")
    assert fallback_answer("How much is a safe deposit box?", [boxes, branches]).startswith(
        "Safe deposit box (small) - Category: Other services; Fee: $60.00 per year. Safe deposit box (medium)")
    assert fallback_answer("Which branches have safe deposit boxes and how much do they cost?", [boxes, branches]) \
        == "Safe deposit boxes are available at the Quayside Main and Old Town branches [2]."


def test_a_list_under_a_heading_is_quoted_whole_and_a_numbered_heading_stays_a_line():
    """"What are your branch opening hours?" quoted the Quayside branch's extended hours: the standard hours
    are a "key: value" list under the heading "1. Standard opening hours", introduced by a sentence that
    shares only "branch" and "open" with the question; with its heading the list is the answer."""
    chunk = ("1. Standard opening hours\nUnless a branch listing below says otherwise, our branches are open:\n"
             "Monday to Friday: 9:00 a.m. to 5:00 p.m.\nSaturday: 9:00 a.m. to 1:00 p.m.\nSunday: closed\n"
             "2. Our branches\nQuayside Main Branch - 200 Quayside Avenue. Extended hours: open until 7:00 p.m. on "
             "Thursdays.")
    assert extractive_answer("What are your branch opening hours?", chunk, 1).startswith(
        "Unless a branch listing below says otherwise, our branches are open: Monday to Friday: 9:00 a.m. to 5:00 "
        "p.m.; Saturday: 9:00 a.m. to 1:00 p.m.; Sunday: closed [1].")
    # a numbered heading is no wrapped line: "Lock it" was quoted glued to the paragraph under it
    card = ("2. Not sure if the card is lost? Lock it\nIf you think you have just misplaced your card, you can lock "
            "it temporarily instead of cancelling it. Open the mobile app and go to Cards > Lock card.")
    assert extractive_answer("How do I lock my card if I misplaced it?", card, 1).startswith(
        "If you think you have just misplaced your card, you can lock it temporarily")


def test_a_phone_question_is_answered_by_the_first_passage_that_gives_a_number():
    """"挂失电话是多少？" ranked the temporary loss report's validity first, which gives no number; the ways to
    report, ranked second, give the hotline."""
    validity = Hit(chunk_id="l1", doc_id="loss", source="loss.txt", title="一、临时挂失", score=1.3,
                   text="临时挂失有效期为5天，到期后自动解除。如果在此期间找到卡片，可通过手机银行或客服热线解除挂失。")
    ways = Hit(chunk_id="l2", doc_id="loss", source="loss.txt", title="一、临时挂失", score=1.2,
               text="1. 拨打港湾银行24小时客服热线400-106-9588，按语音提示转人工服务，核实身份后即可挂失；")
    assert fallback_answer("挂失电话是多少？", [validity, ways]) == \
        "拨打港湾银行24小时客服热线400-106-9588，按语音提示转人工服务，核实身份后即可挂失[2]。"
    # a sentence about the document is not quoted as the line's opening ("本指南介绍 ...")
    guide = Hit(chunk_id="g1", doc_id="guide", source="loans.docx", title="个人贷款业务指南", score=1.0,
                text="本指南介绍个人住房贷款和个人消费贷款的申请条件、额度和期限。具体贷款利率、额度以审批结果和借款合同为准。")
    assert fallback_answer("房贷利率是多少？", [guide]) == "具体贷款利率、额度以审批结果和借款合同为准[1]。"


def test_a_lower_passages_row_does_not_displace_a_sentence_that_says_more_of_a_question_asking_no_number():
    """"What information do I need to send an international wire?" names the limits table's "Online and mobile,
    international wires" row (a lower passage); the first passage's sentence says what such a wire needs."""
    needs = Hit(chunk_id="w1", doc_id="wires", source="wire_transfers.html", title="Wire Transfers > Information",
                score=1.0, text=("For an international wire you also need the bank's SWIFT/BIC code, the IBAN and the "
                                 "purpose of the payment."))
    limits = Hit(chunk_id="w4", doc_id="wires", source="wire_transfers.html", title="Wire Transfers > Daily limits",
                 score=0.8, text=("Channel | Everyday Checking | Premier Checking\n"
                                  "Online and mobile, domestic wires | $25,000 per day | $100,000 per day\n"
                                  "Online and mobile, international wires | $10,000 per day | $50,000 per day"))
    assert fallback_answer("What information do I need to send an international wire?", [needs, limits]) == \
        "For an international wire you also need the bank's SWIFT/BIC code, the IBAN and the purpose of the payment [1]."
    # a question asking for an amount keeps the row it names
    assert fallback_answer("What is the daily limit for international wires in online banking?", [needs, limits]) \
        .startswith("Online and mobile, international wires - Everyday Checking: $10,000 per day")
    # on a tie the higher-ranked passage's sentence is quoted: "境外刷卡有手续费吗？" had quoted the fee schedule's
    # 境外汇款手续费 row (境外, 手续费), where the card abroad section speaks of card payments abroad
    card = Hit(chunk_id="fx5", doc_id="fx", source="fx.pdf", title="外汇业务须知 > 境外用卡", score=1.3,
               text="境外ATM取现每笔收取12元手续费。港湾银行信用卡境外消费收取交易金额1.5%的货币转换费。")
    fees = Hit(chunk_id="fs", doc_id="fees", source="fee_schedule.csv", title="", score=1.1,
               text="项目 | 收费标准\n境外汇款手续费 | 汇款金额的0.1%\n挂失手续费 | 10元/次")
    assert fallback_answer("境外刷卡有手续费吗？", [card, fees]).startswith("境外ATM取现每笔收取12元手续费[1]。")


FEES = ("Service | Fee\nCashier's check | $10 (free for Premier Checking)\nStop payment request | $30 per request\n"
        "Returned deposited item (a check you deposited bounces) | $12\nPaper statement | $2 per statement\n"
        "Coin counting | Free for Harbor Bank customers")
INACTIVE = ("An account is considered inactive after 12 months without any customer-initiated activity. Inactive "
            "checking accounts are charged a $5 monthly inactivity fee.")
MORTGAGE = ("个人住房贷款用于购买自住的新建商品房或二手住房。\n项目 | 首套住房 | 第二套住房\n最低首付比例 | 20% | 30%\n"
            "最长贷款期限 | 30年 | 30年\n贷款利率 | LPR减10个基点 | LPR加20个基点")
RECEIPTS = "申请住房贷款需提供以下材料：借款人的身份证、购房合同及首付款收据。"


def test_a_top_passage_saying_it_in_other_words_is_quoted_by_meaning(ens):
    from rag.answering.by_meaning import meaning_quote
    from rag.answering.cite_semantic import CrossLingualSupport

    cross = CrossLingualSupport(ens)
    fees, inactive = _hit(1, FEES), _hit(2, INACTIVE)
    q = "What's the fee if I bounce a check?"  # no row named by its words; the lower passage shares "fee"
    assert fallback_answer(q, [fees, inactive], cross).startswith("Inactive checking accounts")  # by words
    assert fallback_answer(q, [fees, inactive], cross, min_meaning=0.84) == \
        "Returned deposited item (a check you deposited bounces) - Fee: $12 [1]."
    assert fallback_answer(q, [fees, inactive], cross, min_meaning=0.99).startswith("Inactive")  # not close enough
    zh = "二套房首付多少？"
    assert fallback_answer(zh, [_hit(1, MORTGAGE), _hit(2, RECEIPTS)], cross, min_meaning=0.88) == \
        "最低首付比例——首套住房：20%；第二套住房：30%[1]。"
    # a lower passage is never quoted by meaning: the rank decides, and words decide below the top
    assert fallback_answer(q, [inactive, fees], cross, min_meaning=0.84).startswith("Inactive checking")
    # rows as close as each other are no answer: none is quoted
    boxes = _hit(1, "Service | Fee\nSafe deposit box (small) | $60 per year\nSafe deposit box (medium) | $110 per year")
    assert meaning_quote("How much do you charge for storing valuables?", boxes.text, 1, cross, 0.5) is None


def test_an_asking_word_is_not_a_shared_word():
    cards = ("Instant issue: many branches can print a replacement debit card while you wait. Emergency card "
             "abroad: we can send an emergency replacement card to your location within 3 business days.\n"
             "Harbor Bank's Zero Liability policy means you pay nothing for unauthorized purchases made with your "
             "card, as long as you report the loss within 2 business days.")
    ans = extractive_answer("How long will it take to get a replacement card?", cards, 1)
    assert "Zero Liability" not in ans and "within 3 business days" in ans


def test_a_question_asking_how_to_get_in_touch_gets_the_section_its_heading_names():
    from rag.answering.asks import asked_kind, number_kinds

    assert asked_kind("How do I contact you?") == asked_kind("怎么联系客服？") == "contact"
    assert "contact" in number_kinds("Email: complaints@harborbank.example.")
    assert "contact" in number_kinds("客服热线：400-106-9588") and not number_kinds("Speak to the branch manager.")

    def hit(i, title, text):
        return Hit(chunk_id=f"c{i}", doc_id="complaints", text=text, score=1.0 - i / 10, source="s", title=title)

    intro = hit(1, "How to Make a Complaint", "We want to hear from you when we get something wrong. This page "
                "explains how to contact us, what happens next and how long it takes.")
    regulator = hit(2, "How to Make a Complaint > Contacting a regulator", "You can also submit a complaint to "
                    "the Consumer Financial Protection Bureau at consumerfinance.gov or by calling (855) 411-2372.")
    contact = hit(3, "How to Make a Complaint > How to contact us", "Phone: call Customer Care at 1-800-555-0142, "
                  "24 hours a day.\nIn person: speak to the manager at any branch.\nEmail: complaints@harborbank.example.")
    assert fallback_answer("How do I contact you?", [intro, regulator, contact]) == (
        "Phone: call Customer Care at 1-800-555-0142, 24 hours a day [3]. Email: complaints@harborbank.example [3].")
    # a passage naming more of the question wins over the heading: "the regulator"
    assert "(855) 411-2372" in fallback_answer("How do I contact a regulator?", [intro, regulator, contact])
    # the rank decides between passages giving one: a lower one holding more of the question's words
    # ("debit card", a phone number) does not displace the first
    cards = hit(1, "Lost or stolen cards", "Call the 24-hour Card Services line at 1-800-555-0199. From outside "
                "the United States, call +1-302-555-0188.")
    overdraft = hit(2, "Overdraft > Debit card purchases", "We do not pay one-time debit card purchases that would "
                    "overdraw your account. You can opt in at any time by calling 1-800-555-0142.")
    assert fallback_answer("My debit card got stolen while I'm traveling. Which number should I call?",
                           [cards, overdraft]).startswith("Call the 24-hour Card Services line")


def test_an_irregular_verbs_forms_match_and_what_happens_asks():
    # "forget" is no stem of "forgotten"/"Forgot"; "happen" names nothing a quote should hold
    def hit(i, title, text):
        return Hit(chunk_id=f"c{i}", doc_id="pw", text=text, score=1.0 - i / 10, source="s", title=title)

    doc = "Online Banking: Resetting Your Password"
    same = hit(1, doc, "The same password is used for the website and the mobile app.")
    reset = hit(2, f"{doc} > Resetting a forgotten password", "1. On the sign-in page, select Forgot password?\n"
                "2. Enter the passcode and create a new password.")
    assert "Forgot password" in fallback_answer("What happens if I forget my password?", [same, reset])


def test_a_question_the_document_asks_itself_is_answered_by_what_follows_it():
    """An FAQ page's "How do I book an appointment?" line had been quoted back as the answer; the sentences
    after it, up to the next question, are matched with its words and quoted. A sentence ending in a button's
    label, a heading and a pointer to another section by its title ask nothing and are quoted as before."""
    faq = _hit(0, "How do I book an appointment?\nCall the front desk on 555-0100, or book online.\n"
                  "How long until I get my medical records?\nSend the request form by email to records@lakeside.example. "
                  "Copies are sent within 21 days.")
    assert fallback_answer("How do I book an appointment?", [faq]) == "Call the front desk on 555-0100, or book online [1]."
    assert fallback_answer("How long until I get my medical records?", [faq]) == (
        "Send the request form by email to records@lakeside.example [1]. Copies are sent within 21 days [1].")
    zh = _hit(0, "如何预约挂号？\n拨打预约电话 555-0100，或在公众号预约。\n病历多久能复印好？\n复印件在 21 天内寄出。")
    assert fallback_answer("怎么预约挂号？", [zh]) == "拨打预约电话 555-0100，或在公众号预约[1]。"
    button = _hit(0, "On the sign-in page, select Forgot password? Enter the passcode and create a new password.")
    assert "Forgot password" in fallback_answer("What happens if I forget my password?", [button])


def test_a_chinese_phone_number_written_with_spaces_answers_a_phone_question():
    """"预约电话是多少？" was refused: "0571-8826 3300" was read as the numbers 571, 8826 and 3300, no phone."""
    clinic = Hit(chunk_id="a1", doc_id="appt", source="体检中心.txt", title="体检预约", score=1.0,
                 text="体检中心位于门诊楼三楼，工作日上午7:30开始接待。拨打预约专线0571-8826 3300预约，或在医院公众号预约。"
                      "预约成功后请于体检前一天晚上8点后禁食。")
    assert fallback_answer("预约电话是多少？", [clinic]) == "拨打预约专线0571-8826 3300预约，或在医院公众号预约[1]。"
    bank = Hit(chunk_id="b1", doc_id="card", source="信用卡.txt", title="信用卡", score=1.0,
               text="信用卡年费为200元，首年免年费。如需办理分期或挂失，请拨打客服热线95588，工作人员将在2个工作日内回复。")
    assert fallback_answer("客服热线是多少？", [bank]).startswith("如需办理分期或挂失，请拨打客服热线95588")


def test_the_lines_under_a_heading_the_question_names_answer_it():
    # "探视时间" over three chunks of one document: the top one and the third hold 探视 and 时间 in passing; the
    # second holds the heading "一、探视时间" and the hours under it, which answer the question
    def hit(i, title, text):
        return Hit(chunk_id=f"c{i}", doc_id="visits", text=text, score=1.0 - i / 10, source="探视规定.md", title=title)

    hits = [hit(0, "二、探视人数", "每位患者每次探视不超过2人，每次探视时间不宜超过30分钟。"),
            hit(1, "住院患者探视与陪护管理规定", "为保证住院患者得到充分休息，制定本规定。\n一、探视时间\n"
                "普通病房：每天 15:00—20:00（周六、周日相同）。重症医学科（ICU）：每天 15:30—16:00，每次仅限1名直系亲属进入。"),
            hit(2, "五、特殊情况", "病危、病重患者的家属，经主管医生同意后，探视可不受上述时间限制。")]
    answer = fallback_answer("探视时间", hits)
    assert answer.startswith("普通病房：每天 15:00—20:00") and "[2]" in answer and "[1]" not in answer


def test_of_sentences_sharing_as_many_words_the_one_under_a_heading_holding_them_wins():
    text = ("By bus\nMillbrook Transit routes 12 and 35 stop on Riverside Drive. Buses run every 15 minutes on weekdays "
            "and every 30 minutes at weekends.\nFree hospital shuttle\nA free shuttle runs between Central Station and "
            "the main entrance every 20 minutes, Monday to Friday. There is no shuttle on weekends.")
    answer = extractive_answer("does the shuttle run on weekends", text, 1)
    assert answer == ("A free shuttle runs between Central Station and the main entrance every 20 minutes, Monday to "
                      "Friday [1]. There is no shuttle on weekends [1].")


def test_under_one_heading_the_line_holding_the_questions_word_itself_wins():
    # every line under "Mail delivery" borrows "mail" from it: the one saying "mail" itself answers
    text = ("Mail delivery\nFree standard mail delivery (3 to 5 business days) is available for regular, long-term "
            "medicines. Next-day courier delivery costs $12. Mail delivery is not available for medicines that must "
            "be kept in the fridge.")
    answer = extractive_answer("Could you mail my insulin to my house?", text, 1)
    assert "kept in the fridge" in answer and "courier" not in answer


def test_a_first_cell_qualified_in_brackets_is_named_by_what_stands_outside_them():
    table = ("Item | Fee\nOverdraft fee (per item we pay) | $29\nMaximum overdraft fees per day | 3 fees ($87)\n"
             "Continuous overdraft fee (account overdrawn 7 consecutive calendar days) | $25\n\n"
             "We do not charge an overdraft fee if your account is overdrawn by $50 or less.")
    hits = [Hit(chunk_id="o1", doc_id="od", text=table, score=1.0, source="overdraft.md", title="Overdraft fees")]
    assert fallback_answer("What is the overdraft fee?", hits) == "Overdraft fee (per item we pay) - Fee: $29 [1]."
    zh = ("项目 | 收费标准\n挂失手续费（正式挂失） | 10元/次\n补卡工本费 | 5元/张\n"
          "临时挂失手续费（电话或手机银行） | 免费")
    hits = [Hit(chunk_id="z1", doc_id="zd", text=zh, score=1.0, source="收费.md", title="收费标准")]
    assert fallback_answer("挂失手续费多少钱？", hits) == "挂失手续费（正式挂失）——收费标准：10元/次[1]。"


def test_a_later_section_of_the_same_document_giving_the_amount_asked_for_is_quoted():
    def hit(i, title, text):
        return Hit(chunk_id=f"c{i}", doc_id="loss", text=text, score=1.0 - i / 10, source="挂失.md", title=title)

    hits = [hit(0, "一、临时挂失（口头挂失）", "临时挂失有效期为5天，到期后自动解除。如果在此期间找到卡片，可通过手机银行解除挂失。"),
            hit(1, "二、正式挂失", "临时挂失仅为应急措施。如确认卡片已经丢失，请在5天内由本人携带有效身份证件到网点办理正式挂失，手续费为每次10元。")]
    assert "手续费为每次10元[2]" in fallback_answer("挂失多少钱", hits)


def test_a_banks_inter_bank_word_matches_the_phrase_a_document_writes_for_it():
    # 跨行 is what a customer says; the fee list writes 其他银行 (and 他行): the domestic line answers, not the
    # overseas one that gives a fee in the words of the question
    atm = ("## ATM取款手续费\n\n- 在港湾银行ATM取款、查询余额、转账：全部免费。\n"
           "- 在境内其他银行ATM取款：每笔2元，每个自然月前3笔免费；跨行查询余额免费。\n"
           "- 在境外ATM取款：每笔12元，另加取款金额1%的手续费。\n- 金卡、白金卡客户境内跨行取款不限笔数免费。")
    ans = extractive_answer("跨行取款收费吗", atm, 1)
    assert ans.startswith("在境内其他银行ATM取款：每笔2元") and "12元" not in ans
    assert extractive_answer("他行取款收费吗", atm, 1).startswith("在境内其他银行ATM取款：每笔2元")
    # 其他行为 / 其他行业 hold no 他行
    from rag.answering.equivalents import as_words

    assert as_words("其他行为规范；其他行业客户") == "其他行为规范；其他行业客户"
    assert as_words("他行ATM取款；其他银行") == "跨行ATM取款；跨行"


def test_a_list_holding_the_best_sentence_is_quoted_once():
    # asked for an amount the best sentence does not give: the list giving one holds that sentence as an item,
    # and was quoted with the sentence again after it
    ways = ("You can send a wire in three ways:\n- Online banking: go to Transfer & Pay > Wire Transfers and confirm "
            "with the passcode.\n- At a branch: bring a photo ID.\n- By phone: Premier Checking customers can request "
            "wires of up to $50,000.")
    ans = extractive_answer("How much is a wire sent by online banking?", ways, 1)
    assert ans.count("go to Transfer & Pay") == 1 and "$50,000" in ans, ans
    zh = "办理转账有三种方式：\n- 手机银行：在“转账”页面填写收款人信息并确认。\n- 柜台：携带本人身份证件。\n- 电话银行：单笔最多5万元。"
    ans = extractive_answer("手机银行转账最多能转多少钱？", zh, 1)
    assert ans.count("填写收款人信息") <= 1 and "5万元" in ans, ans


def test_a_later_chunk_holding_the_list_under_the_heading_the_question_names_is_quoted():
    # the list under "3. Replacement cards" was cut in two: the first-ranked chunk holds its last items without
    # the heading; the chunk below holds the heading and the standard delivery time the question asks for
    def hit(i, text):
        return Hit(chunk_id=f"c{i}", doc_id="cards", text=text, score=1.0 - i / 10, source="cards.txt",
                   title="HARBOR BANK - LOST OR STOLEN CARDS")

    from pathlib import Path

    from indexer.parse.encoding import read_text

    page = read_text(Path(__file__).resolve().parents[2] / "data" / "sample" / "en" / "lost_or_stolen_cards.txt")
    page = page.replace("\n- ", "\n").replace("\n\n", "\n")  # its list items as the parser gives them
    tail = page[page.index("Expedited delivery is not available"):page.index("5. Disputing")]
    head = page[page.index("2. Not sure"):page.index("Bring a government-issued")]
    answer = fallback_answer("How long will it take to get a replacement card?", [hit(0, tail), hit(1, head)])
    assert answer.startswith("Replacement cards: Standard delivery: free.") and "5 to 7 business days" in answer
    assert answer.endswith("[2].") and "[1]" not in answer

    def zh(i, text):
        return Hit(chunk_id=f"z{i}", doc_id="guashi", text=text, score=1.0 - i / 10, source="guashi.txt",
                   title="银行卡挂失与补卡须知")

    tail = ("加急补卡不寄往邮政信箱。\n网点即时补卡：部分网点可当场补发新卡。请携带身份证。\n境外紧急补卡：新卡3个工作日内寄到您所在地。免收费用。\n"
            "新卡卡号与原卡不同。")
    head = ("如未找到卡片，请办理挂失。\n三、补发新卡\n普通补卡：免费，新卡7至10个工作日寄到。\n"
            "加急补卡：收费20元，新卡3个工作日内寄到。\n网点即时补卡：部分网点可当场补发新卡，请携带身份证。")
    answer = fallback_answer("补发新卡多久能收到？", [zh(0, tail), zh(1, head)])
    assert answer.startswith("三、补发新卡：普通补卡：免费，新卡7至10个工作日寄到") and answer.endswith("[2]。")


def test_a_short_form_names_the_row_its_full_words_name():
    # 房贷 is 住房贷款: "房贷利率" names the mortgage table's "贷款利率" row, below a guide's opening that only
    # says rates are set at approval
    from rag.answering.equivalents import as_words

    def hit(i, text, title):
        return Hit(chunk_id=f"c{i}", doc_id="loans", text=text, score=1.0 - i / 10, source="loans.docx", title=title)

    hits = [hit(0, "本指南介绍个人住房贷款和个人消费贷款的申请条件、额度和期限。具体贷款利率、额度以审批结果和借款合同为准。",
                "个人贷款业务指南"),
            hit(1, "个人住房贷款用于购买自住住房。\n项目 | 首套住房 | 第二套住房\n最低首付比例 | 20% | 30%\n"
                   "最长贷款期限 | 30年 | 30年\n贷款利率 | LPR减10个基点 | LPR加20个基点\n月供不超过月收入的50%。",
                "个人贷款业务指南 > 个人住房贷款")]
    assert fallback_answer("房贷利率是多少？", hits) == "贷款利率——首套住房：LPR减10个基点；第二套住房：LPR加20个基点[2]。"
    assert fallback_answer("住房贷款利率是多少？", hits) == "贷款利率——首套住房：LPR减10个基点；第二套住房：LPR加20个基点[2]。"
    # the full words are not read again ("住房贷款" stays as it is), and the English is untouched
    assert as_words("住房贷款利率") == "住房贷款利率" and as_words("home loan rate") == "home loan rate"


def test_a_long_sentence_listing_what_is_asked_is_quoted():
    """The Debian FAQ's "Which other codenames have been used in the past?": its answer is one sentence of 84
    words listing them, over the 60 a quote could hold, so the extract quoted the next passage's "They are just
    "codenames"" instead."""
    listed = _hit(0, "Aside bullseye and bookworm, other codenames that have been already used are: buzz for release "
                     "1.1, rex for release 1.2, bo for releases 1.3.x, hamm for release 2.0, slink for release 2.1, "
                     "potato for release 2.2, woody for release 3.0, sarge for release 3.1, etch for release 4.0, "
                     "lenny for release 5.0, squeeze for release 6.0, wheezy for release 7, jessie for release 8, "
                     "stretch for release 9, buster for release 10.")
    other = _hit(1, "They are just \"codenames\". When a Debian distribution is in the development stage, it has no "
                    "version number but a codename.")
    answer = fallback_answer("Which other codenames have been used in the past?", [listed, other])
    assert answer.startswith("Aside bullseye and bookworm, other codenames") and answer.endswith("buster for release 10 [1].")
