from indexer.chunk import chunk_elements, split_sentences
from indexer.config import ChunkSettings
from indexer.tokenize import count_tokens, tokenize
from indexer.types import Element


def test_chinese_sentence_boundaries():
    s = split_sentences("跨行转账收费5元。本行转账免费！限额多少？每日5万元；超出需到柜台。")
    assert s == ["跨行转账收费5元。", "本行转账免费！", "限额多少？", "每日5万元；", "超出需到柜台。"]


def test_a_list_items_number_stays_with_its_sentence():
    assert split_sentences("1. Select Forgot password.\n2. Enter your username. It is on your card.\n"
                           "Call 1-800. It costs 5.") == [
        "1. Select Forgot password.", "2. Enter your username.", "It is on your card.", "Call 1-800.", "It costs 5."]


def test_english_sentences_keep_decimals():
    assert split_sentences("The fee is $2.50 per month. Waived for students! Ok?") == [
        "The fee is $2.50 per month.", "Waived for students!", "Ok?"]


def test_sections_are_not_merged_and_sizes_hold():
    cfg = ChunkSettings(max_tokens=20, overlap_tokens=6)
    body = " ".join(f"Sentence number {i} is here." for i in range(12))
    els = [Element("Fees", "title", "Fees"), Element(body, "text", "Fees"),
           Element("Hours", "title", "Hours"), Element("Open 9 to 5 daily.", "text", "Hours")]
    chunks = chunk_elements("d", els, cfg)
    assert {c.title for c in chunks} == {"Fees", "Hours"}
    assert chunks[-1].text == "Open 9 to 5 daily." and chunks[-1].title == "Hours"
    fees = [c for c in chunks if c.title == "Fees"]
    assert len(fees) > 2 and all(c.n_tokens <= 20 for c in fees)
    # overlap: each chunk starts with the last sentence of the one before
    assert fees[1].text.startswith(fees[0].text.split(". ")[-1].rstrip("."))


def test_table_kept_whole_when_it_fits_and_split_with_header_when_not():
    table = "Service | Fee\n" + "\n".join(f"Item {i} | ${i}" for i in range(5))
    cfg = ChunkSettings(max_tokens=8, table_max_tokens=40)
    chunks = chunk_elements("d", [Element(table, "table", "Fees")], cfg)
    assert len(chunks) == 1 and chunks[0].text == table
    big = "Service | Fee\n" + "\n".join(f"Item {i} | ${i}" for i in range(40))
    parts = chunk_elements("d", [Element(big, "table", "Fees")], ChunkSettings(max_tokens=8, table_max_tokens=40))
    assert len(parts) > 1 and all(p.text.startswith("Service | Fee") for p in parts)


def test_a_table_line_no_chunk_holds_is_cut():
    """A CSV row (or a one-line CSV's header) of thousands of cells was one chunk of 1.5 MB."""
    cfg = ChunkSettings(max_tokens=20, overlap_tokens=0, table_max_tokens=40)
    row = " | ".join(f"cell{i}" for i in range(100))
    table = "Service | Fee\nbus | 120\n" + row + "\nlunch | 80"
    chunks = chunk_elements("d", [Element(table, "table", "Fees")], cfg)
    assert all(c.n_tokens <= 40 for c in chunks) and all(c.text.startswith("Service | Fee\n") for c in chunks)
    assert chunks[0].text == "Service | Fee\nbus | 120" and chunks[-1].text == "Service | Fee\nlunch | 80"
    assert [c.text.split("\n")[1].rstrip(" |") for c in chunks[1:-1]] == [
        " | ".join(f"cell{i}" for i in range(k, min(k + 20, 100))) for k in range(0, 100, 20)]
    header_only = chunk_elements("d", [Element(row, "table", "")], cfg)
    assert len(header_only) == 5 and all(c.n_tokens <= 20 for c in header_only)
    assert " ".join(c.text for c in header_only) == row


def test_stable_ids_and_pages():
    els = [Element("第一章", "title", "第一章", 1), Element("信用卡丢失请立即挂失。" * 3, "text", "第一章", 2)]
    a = chunk_elements("doc", els, ChunkSettings())
    b = chunk_elements("doc", els, ChunkSettings())
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert a[0].page == 2 and a[0].chunk_id.startswith("doc:0:")


def test_overlong_sentence_is_cut():
    cfg = ChunkSettings(max_tokens=10, overlap_tokens=0)
    chunks = chunk_elements("d", [Element("无标点的长句" * 10, "text", "")], cfg)
    assert len(chunks) == 6 and all(c.n_tokens <= 10 for c in chunks)


def test_tokenizer_mixed_language():
    toks = tokenize("How do I report a lost card? 信用卡丢失了怎么挂失")
    assert "card" in toks and "report" in toks and "挂失" in toks and "the" not in toks
    assert "transfer" in tokenize("Transfers")  # stemmed
    assert count_tokens("每日限额5万元 ATM") == 8


def test_chinese_sentences_join_without_a_space_others_with_one():
    cfg = ChunkSettings(max_tokens=200, overlap_tokens=0)
    text = "借记卡丢失请挂失。临时挂失有效5天！Call us at once. 한국어 문장입니다. 다음 문장"
    [chunk] = chunk_elements("d", [Element(text, "text", "")], cfg)
    assert chunk.text == "借记卡丢失请挂失。临时挂失有效5天！ Call us at once. 한국어 문장입니다. 다음 문장"


def test_a_period_inside_a_sentence_does_not_end_it():
    from indexer.chunk import split_sentences

    assert split_sentences("If your account becomes overdrawn, you have until 8:00 p.m. Eastern Time on the next "
                           "business day. If you do, we waive the fee.") == [
        "If your account becomes overdrawn, you have until 8:00 p.m. Eastern Time on the next business day.",
        "If you do, we waive the fee."]
    assert split_sentences("- Monday to Friday: 9:00 a.m. to 5:00 p.m.") == ["- Monday to Friday: 9:00 a.m. to 5:00 p.m."]
    assert split_sentences("Bring an ID, e.g. a passport. See form No. 5 for details.") == [
        "Bring an ID, e.g. a passport.", "See form No. 5 for details."]
    # a capital after a period still starts a sentence, also after a time
    assert split_sentences("We close at 5 p.m. Saturday hours differ. It costs $5. 2020 was different.") == [
        "We close at 5 p.m.", "Saturday hours differ.", "It costs $5.", "2020 was different."]
    assert split_sentences("临时挂失有效期为5天。到期后自动解除。") == ["临时挂失有效期为5天。", "到期后自动解除。"]


def test_a_list_after_a_sentence_keeps_its_lines():
    # before, the sentence and the items after it ran together: "letter. - ID card\n- Insurance card",
    # "请携带以下材料。 一、身份证。二、户口簿。", and quoting could not tell one item from the next
    cfg = ChunkSettings(max_tokens=200, overlap_tokens=0)
    cases = [
        ("Bring your referral letter.\n- ID card\n- Insurance card", None),
        ("To apply:\n1. Fill in the form. Sign it.\n2. Pay the fee.\n3. Collect your card.", None),
        ("Register at the front desk.\n- Bring your ID card.\n  - A copy is not accepted.\n- Pay the deposit.", None),
        ("请携带以下材料。\n一、身份证。\n二、户口簿。\n三、医保卡。", None),
        ("退款按以下步骤办理。\n（一）填写申请表。\n（二）提交材料。\n1. 窗口受理。\n2. 三个工作日内退回。", None),
        # a line break before a sentence that opens no list item is a wrapped line: joined as before
        ("Payment is due within 30 days.\nLate payments cost $5. Call us.\n- Online banking.",
         "Payment is due within 30 days. Late payments cost $5. Call us.\n- Online banking."),
        ("住院押金为三千元。\n出院时多退少补。\n- 可用微信支付。", "住院押金为三千元。出院时多退少补。\n- 可用微信支付。"),
    ]
    for text, expected in cases:
        [chunk] = chunk_elements("d", [Element(text, "text", "Admission")], cfg)
        assert chunk.text == (expected or text)


def test_a_chunk_opening_on_a_list_item_starts_with_it():
    # the overlap carried into the next chunk starts at the item, with no line break before it
    cfg = ChunkSettings(max_tokens=24, overlap_tokens=10)
    text = "Bring these documents to the front desk.\n" + "\n".join(
        f"- Document number {n} with its copy." for n in range(1, 7))
    chunks = chunk_elements("d", [Element(text, "text", "Admission")], cfg)
    assert len(chunks) > 2
    for chunk in chunks:
        assert not chunk.text.startswith(("\n", " "))
        lines = chunk.text.split("\n")
        assert chunk.text.count("- Document number") == sum(line.startswith("- Document number") for line in lines)
        assert all(line.startswith("- Document number") for line in lines[1:]), chunk.text
