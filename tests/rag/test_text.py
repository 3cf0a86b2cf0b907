from indexer.script import is_cjk, language
from rag.text import good_sentence, is_table_row, line_sentences, prose_sentences


def test_prose_sentences_english_chinese_and_wrapped_lines():
    assert prose_sentences("Call us now. It is free!\nWe answer 24/7?") == ["Call us now.", "It is free!",
                                                                            "We answer 24/7?"]
    assert prose_sentences("临时挂失有效期为5天。到期后自动解除；请及时办理正式挂失！") == [
        "临时挂失有效期为5天。", "到期后自动解除；", "请及时办理正式挂失！"]
    # a PDF line wrap is joined back; a list item is not, and its marker is stripped
    assert prose_sentences("All personal loans and credit lines are subject to credit\napproval and verification."
                           "\n- Second item here") == [
        "All personal loans and credit lines are subject to credit approval and verification.", "Second item here"]
    # Chinese wrapped lines join without a space
    assert prose_sentences("境内个人每人每年可享受等值5万美元的购汇额度，额度按自然年\n计算。") == [
        "境内个人每人每年可享受等值5万美元的购汇额度，额度按自然年计算。"]
    # a short line is a heading, not a wrapped line: it stays apart from the paragraph under it
    assert prose_sentences("港湾银行银行卡挂失与补卡须知\n借记卡丢失时，请第一时间办理挂失。") == [
        "港湾银行银行卡挂失与补卡须知", "借记卡丢失时，请第一时间办理挂失。"]
    assert prose_sentences("Reporting a lost card\nCall us at once.") == ["Reporting a lost card", "Call us at once."]


def test_line_sentences_keep_lines_apart():
    assert line_sentences("First part without end\ncontinues here. Then more.") == [
        "First part without end", "continues here.", "Then more."]


def test_is_cjk_and_good_sentence():
    assert is_cjk("转账限额是多少") and is_cjk("Debian 的 FAQ 文档是什么")
    assert not is_cjk("What is the Debian FAQ?") and not is_cjk("apt 与 dpkg are the package tools here")
    assert good_sentence("Transfers between our accounts are free of charge.")
    assert not good_sentence("Fees:")                          # too short
    assert not good_sentence("| fee | 5 | 10 | 20 |")          # a table row
    assert good_sentence("跨行转账每笔收取手续费五元，本行转账免费。")


def test_language_is_chinese_with_any_cjk_character():
    # a Chinese question with English terms is Chinese; is_cjk (a third of the letters) is not
    assert language("如何重置 VPN password?") == "zh" and not is_cjk("如何重置 VPN password?")
    assert language("How do I reset my VPN password?") == "en"


def test_table_rows_and_shell_pipes():
    assert is_table_row("Fee | 10 USD") and is_table_row("| fee | 5 | 10 |") and is_table_row("年费 | 100 元")
    assert is_table_row("dpkg -l | grep foo")          # a bare command line is not prose either
    # a sentence holding a shell pipe is prose: it can be quoted and cited
    assert not is_table_row("To list them, run dpkg -l | grep foo.")
    assert not is_table_row("可以运行 dpkg -l | grep foo 查看。")
    assert good_sentence("To see what is installed, run dpkg -l | grep foo in a terminal.")
    # a header row whose cells are questions (the privacy policy's sharing table) is a row, whole
    header = "Reason we share | Does Harbor Bank share? | Can you limit it?"
    assert is_table_row(header) and not is_table_row("Run dpkg -l | grep foo | less.")
    assert prose_sentences(f"We share data as this table says.\n{header}\nOur own marketing | Yes | Yes") == \
        ["We share data as this table says.", header, "Our own marketing | Yes | Yes"]


def test_a_heading_is_a_short_line_that_ends_no_sentence():
    from rag.text import is_heading

    assert is_heading("3. Replacement cards") and is_heading("Safe deposit boxes") and is_heading("标准营业时间")
    assert not is_heading("Bring a government-issued photo ID.")   # a sentence
    assert not is_heading("Sunday: closed")                         # an item of a "key: value" list
    assert not is_heading("Phone 1-800-555-0111")                   # ends in a number: a fact, not a topic
    assert not is_heading("4. Your liability for unauthorized transactions and fees")  # too long


def test_a_chapter_title_is_a_heading_whatever_its_length():
    from rag.text import is_heading

    assert is_heading("第 8 章 Debian 软件包管理工具") and is_heading("第三节 个人住房贷款的申请条件与办理流程")
    assert is_heading("Chapter 8 The Debian package management tools")
    assert not is_heading("第8章规定了个人住房贷款的申请条件。")  # a sentence about a chapter
    assert not is_heading("Chapter 8 explains how to install packages.")


def test_a_chinese_timetable_is_chinese_text():
    """"早读是几点？" over a timetable ("早读 | 7:20—7:50 ...") had no answer: mostly digits and punctuation, the
    table counted as Latin text (a quarter of all characters), so its rows were never matched by words."""
    from indexer.script import cross_script

    table = "时段 | 时间\n到校 | 7:10前\n早读 | 7:20—7:50\n第一节课 | 8:00—8:40\n午休 | 12:00—13:30\n放学 | 17:00"
    assert is_cjk(table) and not cross_script("早读是几点？", table)
    assert cross_script("早读是几点？", "Morning reading | 7:20-7:50") and not cross_script("7:20", "早读")


def test_a_calendars_lines_are_not_joined_as_wrapped():
    """A slide's bullets "…国庆节、中秋节放假，共8天" / "2025年11月10日至11月12日期中考试" were quoted as one run: a long
    Chinese line with no end punctuation was taken as wrapped. A line opening with a Chinese date starts its own."""
    from rag.text import join_wrapped_lines

    lines = ["2025年10月1日至10月8日国庆节、中秋节放假，共8天", "2025年11月10日至11月12日期中考试",
             "1月19日至1月21日期末考试"]
    assert join_wrapped_lines("\n".join(lines)) == lines
    wrapped = "这是一个很长的被换行的中文句子，它在这里被排版软件切断了然后\n继续到下一行才结束。"
    assert join_wrapped_lines(wrapped) == [wrapped.replace("\n", "")]
