from rag.text import good_sentence, is_cjk, line_sentences, prose_sentences


def test_prose_sentences_english_chinese_and_wrapped_lines():
    assert prose_sentences("Call us now. It is free!\nWe answer 24/7?") == ["Call us now.", "It is free!",
                                                                            "We answer 24/7?"]
    assert prose_sentences("临时挂失有效期为5天。到期后自动解除；请及时办理正式挂失！") == [
        "临时挂失有效期为5天。", "到期后自动解除；", "请及时办理正式挂失！"]
    # a PDF line wrap is joined back; a list item is not, and its marker is stripped
    assert prose_sentences("All loans are subject to credit\napproval and verification.\n- Second item here") == [
        "All loans are subject to credit approval and verification.", "Second item here"]
    # Chinese wrapped lines join without a space
    assert prose_sentences("挂失后请尽快\n到柜台办理。") == ["挂失后请尽快到柜台办理。"]


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
