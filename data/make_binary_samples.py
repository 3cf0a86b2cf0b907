"""Generate the binary sample documents (DOCX and PDF) under data/sample/.

The generated files are committed, so this script is NOT needed at run time; it is
kept so the files can be regenerated or edited. The document text lives in this file
(BINARY_DOCS) and data/make_eval_set.py reads it from here to build the passages of
the BEIR eval set, so the two stay in sync.

Requirements (not project dependencies): python-docx for .docx, reportlab for .pdf.
The Chinese PDF uses reportlab's built-in Adobe CID font STSong-Light, so no font
file is needed (the font is referenced, not embedded; the text layer is Unicode).

    python -m venv /tmp/pdfvenv && /tmp/pdfvenv/bin/pip install reportlab python-docx
    /tmp/pdfvenv/bin/python data/make_binary_samples.py

Output is deterministic (fixed document dates, reportlab invariant mode).
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "sample"

# A block is a paragraph string, ("bullets", [str, ...]) or ("table", [[header...], [row...], ...]).
# A section is (heading, [block, ...], passage_id_suffix).

BINARY_DOCS: list[dict] = [
    {
        "path": "en/privacy_policy.docx",
        "lang": "en",
        "title": "Harbor Bank Privacy Policy",
        "intro": (
            "Effective date: January 15, 2025. This Privacy Policy explains how Harbor Bank collects, "
            "uses, shares and protects personal information about our customers and visitors to "
            "harborbank.example and the Harbor Bank mobile app. Harbor Bank does not sell your "
            "personal information."
        ),
        "sections": [
            ("Information we collect", [
                "We collect information you give us when you open an account, apply for a loan or contact us, "
                "such as your name, address, date of birth, Social Security number, income and employment details.",
                "We also collect information about your transactions and account balances, and technical information "
                "when you use online banking, such as your device type, IP address and approximate location. "
                "We may obtain information from consumer reporting agencies and from identity verification services.",
            ], "collect"),
            ("How we use your information", [
                ("bullets", [
                    "to open and operate your accounts and process your transactions;",
                    "to verify your identity and protect you and the bank against fraud;",
                    "to meet our legal and regulatory obligations, including anti-money-laundering rules;",
                    "to tell you about products and services that may interest you, if you have not opted out.",
                ]),
            ], "use"),
            ("How we share your information", [
                "We share personal information only as described in this policy. We share information with service "
                "providers that work on our behalf (for example card manufacturers and mailing companies), who must "
                "keep it confidential; with Harbor Bank affiliates; with consumer reporting agencies; and with "
                "government authorities when the law requires it.",
                ("table", [
                    ["Reason we share", "Does Harbor Bank share?", "Can you limit it?"],
                    ["Everyday business purposes (processing transactions, legal requirements)", "Yes", "No"],
                    ["Our own marketing", "Yes", "Yes"],
                    ["Joint marketing with other financial companies", "Yes", "Yes"],
                    ["Affiliates' marketing", "Yes", "Yes"],
                    ["Non-affiliated companies to market to you", "No", "We don't share"],
                ]),
            ], "sharing"),
            ("Your choices and how to opt out", [
                "You can limit sharing for marketing purposes by calling 1-800-555-0177, or in online banking under "
                "Settings > Privacy Preferences. Your choice takes effect within 30 days of receiving it and remains "
                "in place until you tell us otherwise. If you have a joint account, a choice made by one account "
                "holder applies to all holders.",
                "To stop marketing emails, use the unsubscribe link at the bottom of any email; we will process the "
                "request within 10 business days. You will still receive service messages about your accounts.",
            ], "optout"),
            ("Your rights to access and correct information", [
                "You may ask for a copy of the personal information we hold about you, ask us to correct information "
                "that is inaccurate, or, where the law allows, ask us to delete it. Send your request to "
                "privacy@harborbank.example or to Privacy Office, Harbor Bank, 200 Quayside Avenue, Port Calder, "
                "PC 20401. We will respond within 45 days. There is no charge for a request.",
            ], "rights"),
            ("How long we keep information", [
                "We keep account records for 7 years after an account is closed, as required for legal, tax and "
                "regulatory purposes. Recordings of phone calls are kept for 2 years. Information from a loan "
                "application that was withdrawn or declined is kept for 25 months.",
            ], "retention"),
            ("How we protect your information", [
                "We use 256-bit encryption for online banking, multi-factor authentication, and physical and "
                "electronic safeguards that comply with federal law. Our employees are trained to protect customer "
                "information and may only access it when they need it to do their job. If we become aware of a "
                "security breach that affects your personal information, we will notify you as required by law.",
            ], "security"),
            ("Cookies, children and changes to this policy", [
                "Our website and app use cookies to keep you signed in securely and to understand how our services "
                "are used. You can manage advertising cookies under Cookie Settings at the bottom of our website.",
                "Our online services are not directed at children under 13, and we do not knowingly collect their "
                "personal information online.",
                "We will post any changes to this policy on our website and, if the changes are significant, notify "
                "you at least 30 days before they take effect.",
            ], "cookies"),
        ],
    },
    {
        "path": "en/mortgage_and_loan_policy.pdf",
        "lang": "en",
        "title": "Harbor Bank Mortgage and Consumer Loan Policy",
        "intro": (
            "This document summarizes Harbor Bank's lending criteria and the terms of our mortgages, home equity "
            "lines of credit, personal loans and auto loans. All loans are subject to credit approval, and rates "
            "and terms may change. Version 2025-1."
        ),
        "sections": [
            ("Home mortgages", [
                "Harbor Bank offers 30-year fixed-rate, 15-year fixed-rate and 5/1 adjustable-rate mortgages (ARMs) "
                "for primary residences, second homes and investment properties. On a 5/1 ARM the rate is fixed for "
                "the first 5 years and then adjusts once a year; each adjustment is capped at 2 percentage points, "
                "and the rate can never rise more than 5 percentage points above the initial rate.",
                ("table", [
                    ["Requirement", "Conventional mortgage", "Jumbo mortgage (loan above $750,000)"],
                    ["Minimum credit score", "620", "680"],
                    ["Minimum down payment (primary residence)", "5%", "10%"],
                    ["Maximum loan-to-value", "95%", "90%"],
                    ["Maximum debt-to-income ratio", "43%", "40%"],
                    ["Cash reserves after closing", "2 months of payments", "6 months of payments"],
                ]),
                "The minimum down payment for a second home is 10%, and for an investment property 20%. If your "
                "down payment is less than 20% of the purchase price, private mortgage insurance (PMI) is required. "
                "You can ask us to cancel PMI once your loan balance reaches 80% of the original value of the home.",
            ], "mortgage"),
            ("Applying for a mortgage", [
                "You can apply online, by phone with Mortgage Services at 1-800-555-0163, or with a mortgage advisor "
                "at a branch. Please have the following documents ready:",
                ("bullets", [
                    "government-issued photo ID for every applicant;",
                    "pay stubs for the last 30 days and W-2 forms for the last 2 years;",
                    "federal tax returns for the last 2 years if you are self-employed;",
                    "bank statements for the last 2 months;",
                    "a signed purchase contract, if you have one.",
                ]),
                "We usually issue a pre-approval letter within 1 business day and a loan decision within 10 business "
                "days of receiving a complete application. A typical purchase closes in 30 to 45 days.",
            ], "mortgage-apply"),
            ("Mortgage fees, rate locks and prepayment", [
                "The origination fee is 0.75% of the loan amount, with a maximum of $4,000. The appraisal is ordered "
                "by us and paid by the borrower, and usually costs between $450 and $650. There is no application fee.",
                "You can lock your interest rate for 60 days at no cost. If closing is delayed, you can extend the "
                "lock by 15 days for a fee of 0.125% of the loan amount.",
                "Harbor Bank mortgages have no prepayment penalty: you can pay extra principal or repay the whole "
                "loan at any time without a fee.",
            ], "mortgage-fees"),
            ("Home equity line of credit (HELOC)", [
                "A HELOC lets you borrow against the equity in your home. You can borrow up to 85% of your home's "
                "value minus your mortgage balance (combined loan-to-value), with a minimum line of $10,000 and a "
                "maximum of $500,000. The draw period is 10 years, during which you may pay interest only, followed "
                "by a 20-year repayment period. The interest rate is variable, based on the prime rate. The annual "
                "fee is $75, waived in the first year.",
            ], "heloc"),
            ("Personal loans", [
                "Unsecured personal loans are available from $2,000 to $50,000, with terms of 12 to 72 months. "
                "Fixed APRs currently range from 7.49% to 19.99%, depending on your credit history, loan amount and "
                "term. Setting up automatic payments from a Harbor Bank checking account reduces your rate by "
                "0.25 percentage points.",
                "Most applicants receive a decision within 1 business day. Once you sign the loan agreement, the "
                "money is deposited into your Harbor Bank account within 2 business days. There is no origination "
                "fee and no prepayment penalty. Personal loans may not be used for tuition, gambling, buying "
                "securities or a down payment on a home.",
            ], "personal"),
            ("Auto loans", [
                "New vehicle loans are available with terms of up to 84 months and used vehicle loans with terms of "
                "up to 72 months. Used vehicles must be no more than 8 model years old and have fewer than 120,000 "
                "miles. We finance up to 110% of the vehicle's value for new cars and up to 100% for used cars, and "
                "you can refinance an auto loan from another lender.",
            ], "auto"),
            ("Late payments and financial hardship", [
                "Mortgage payments are due on the 1st of each month, with a 15-day grace period. A late fee of 4% of "
                "the overdue principal and interest payment is charged if we receive the payment after the 15th. "
                "For personal and auto loans, a late fee of $35 is charged if a payment is more than 10 days late. "
                "Payments that are 30 days or more past due are reported to the credit bureaus.",
                "If you are having trouble making payments because of job loss, illness or another hardship, call "
                "Loan Servicing at 1-800-555-0163 as early as possible. Options may include a temporary forbearance "
                "of up to 6 months, a repayment plan or a loan modification.",
            ], "late"),
        ],
    },
    {
        "path": "zh/personal_loans_and_mortgage.docx",
        "lang": "zh",
        "title": "港湾银行个人贷款业务指南",
        "intro": (
            "本指南介绍港湾银行（中国）个人住房贷款和个人消费贷款的申请条件、额度、期限、还款方式及提前还款规定。"
            "具体贷款利率、额度以审批结果和借款合同为准。咨询电话：400-106-9588。"
        ),
        "sections": [
            ("个人住房贷款", [
                "个人住房贷款用于购买自住的新建商品房或二手住房。申请人须为年满18周岁、具有完全民事行为能力的自然人，"
                "有稳定的收入和良好的信用记录。",
                ("table", [
                    ["项目", "首套住房", "第二套住房"],
                    ["最低首付比例", "20%", "30%"],
                    ["最长贷款期限", "30年", "30年"],
                    ["贷款利率", "LPR（5年期以上）减10个基点", "LPR（5年期以上）加20个基点"],
                ]),
                "贷款期限与借款人年龄之和不得超过70年。例如借款人45岁，最长可贷25年。"
                "月供与借款人月收入之比原则上不超过50%。",
            ], "mortgage"),
            ("申请材料与审批流程", [
                "申请住房贷款需提供以下材料：",
                ("bullets", [
                    "借款人及配偶的身份证、户口簿和婚姻状况证明；",
                    "近6个月的银行流水或收入证明；",
                    "购房合同及首付款收据；",
                    "本行要求的其他材料。",
                ]),
                "资料齐全后，本行一般在7个工作日内完成审批；抵押登记办妥后3个工作日内放款。"
                "申请人可通过手机银行“贷款”频道在线查询审批进度。",
            ], "apply"),
            ("还款方式", [
                "住房贷款可选择等额本息或等额本金两种还款方式。等额本息每月还款金额固定，便于安排家庭开支；"
                "等额本金每月归还的本金相同，利息逐月递减，总利息支出较少，但前期还款压力较大。"
                "还款日为每月放款对应日，本行在还款日从借款人指定的港湾银行借记卡自动扣款，"
                "请在还款日前一天存足款项。",
            ], "repay"),
            ("提前还款", [
                "借款人可以申请部分或全部提前还款，需至少提前5个工作日通过手机银行或客服热线预约。"
                "贷款发放满1年后提前还款，不收取违约金；发放未满1年提前还款的，按提前还款本金的1%收取违约金。"
                "部分提前还款每次不少于1万元，可选择缩短还款期限或减少月供金额。",
            ], "prepay"),
            ("个人消费贷款（港湾易贷）", [
                "“港湾易贷”是面向本行代发工资客户和优质存款客户的信用消费贷款，无需抵押和担保。"
                "贷款额度1万元至30万元，期限最长36个月，年化利率（单利）3.6%起。"
                "全程线上申请，最快当天到账，可随借随还，按日计息。",
                "贷款资金只能用于装修、旅游、教育、购车等个人消费，不得用于购房、投资股票、期货、理财产品等，"
                "本行将对资金用途进行抽查。",
            ], "consumer"),
            ("逾期与征信", [
                "贷款逾期的，本行将在原贷款利率基础上加收50%计收罚息，并按规定将逾期信息报送中国人民银行征信系统。"
                "连续逾期3期或累计逾期6期的，本行有权宣布贷款提前到期并依法处置抵押物。"
                "如遇失业、疾病等临时困难，请尽早拨打400-106-9588联系本行，协商延期或调整还款计划。",
            ], "overdue"),
        ],
    },
    {
        "path": "zh/foreign_exchange.pdf",
        "lang": "zh",
        "title": "港湾银行个人外汇业务须知",
        "intro": (
            "本须知适用于在港湾银行（中国）开立个人账户的境内居民个人，介绍个人购汇、结汇、外币现钞存取、"
            "境外刷卡及相关限额。外汇管理政策如有调整，以国家外汇管理局最新规定为准。"
        ),
        "sections": [
            ("年度便利化额度", [
                "境内个人每人每年可享受等值5万美元的购汇额度和等值5万美元的结汇额度，额度按自然年计算，"
                "每年1月1日重置，当年未用完的额度不能结转到下一年。",
                "个人购汇可用于因私旅游、境外留学、探亲、就医、商务考察等经常项目用途，"
                "不得用于境外购房、证券投资、购买人寿保险等尚未开放的资本项目。"
                "办理时需如实填写《个人购汇申请书》并申报用途。超过年度额度的，需凭真实交易证明材料到网点办理。",
            ], "quota"),
            ("可兑换币种与办理渠道", [
                "本行可办理美元、欧元、英镑、日元、港币、澳大利亚元、加拿大元、瑞士法郎、新加坡元共9个币种的结售汇业务。",
                ("table", [
                    ["办理渠道", "办理时间", "说明"],
                    ["手机银行/网上银行", "每个工作日 9:00-22:00", "实时汇率，报价锁定60秒"],
                    ["营业网点", "网点营业时间内", "需携带本人身份证"],
                ]),
                "手机银行购汇后外汇存入本人外汇储蓄账户，可用于境外汇款或在网点提取现钞。",
            ], "channels"),
            ("外币现钞存取", [
                "外币现钞存入当日，如需取出现钞不收费；外币现钞账户可以直接提取现钞。"
                "由外汇汇款转入的现汇账户提取现钞，需按提取金额的0.5%收取现汇转现钞手续费。",
                "单笔或当日累计提取外币现钞等值1万美元以上（不含）的，需提前1个工作日预约，"
                "并提供用途证明材料。美元、欧元、港币、日元以外的币种现钞库存有限，也建议提前预约。",
            ], "cash"),
            ("境外用卡", [
                "港湾银行银联借记卡可在境外贴有“银联”标识的商户和ATM使用。境外消费免收货币转换费；"
                "境外ATM取现每笔收取12元手续费，另加取现金额的1%，单卡每日境外取现累计不超过等值1万元人民币，"
                "每年累计不超过等值10万元人民币。",
                "港湾银行Visa双币信用卡境外消费收取交易金额1.5%的货币转换费，消费时建议选择以当地货币结算。",
            ], "card"),
            ("注意事项", [
                "个人不得以分拆等方式规避便利化额度管理，也不得出借本人额度。被国家外汇管理局列入"
                "“关注名单”的个人，当年及之后两年内办理结售汇须到网点提交真实性证明材料。"
                "如有疑问，请拨打港湾银行客服热线400-106-9588。",
            ], "notes"),
        ],
    },
]


def iter_blocks_text(blocks):
    """Plain-text rendering of blocks (used by make_eval_set.py for passages)."""
    out = []
    for b in blocks:
        if isinstance(b, str):
            out.append(b)
        elif b[0] == "bullets":
            out.append("\n".join("- " + x for x in b[1]))
        elif b[0] == "table":
            out.append("\n".join(" | ".join(row) for row in b[1]))
    return out


# ------------------------------------------------------------------ DOCX

def make_docx(doc: dict, path: Path) -> None:
    import docx  # python-docx

    d = docx.Document()
    fixed = _dt.datetime(2025, 3, 1, 9, 0, 0)
    cp = d.core_properties
    cp.author = "Harbor Bank"
    cp.title = doc["title"]
    cp.created = fixed
    cp.modified = fixed
    cp.last_modified_by = "Harbor Bank"
    cp.revision = 1
    if doc["lang"] == "zh":
        from docx.oxml.ns import qn
        for style_name in ("Normal", "Heading 1", "Heading 2", "Title"):
            st = d.styles[style_name]
            st.font.name = "SimSun"
            st.element.rPr.rFonts.set(qn("w:eastAsia"), "SimSun")
    d.add_heading(doc["title"], level=1)
    d.add_paragraph(doc["intro"])
    for heading, blocks, _pid in doc["sections"]:
        d.add_heading(heading, level=2)
        for b in blocks:
            if isinstance(b, str):
                d.add_paragraph(b)
            elif b[0] == "bullets":
                for item in b[1]:
                    d.add_paragraph(item, style="List Bullet")
            elif b[0] == "table":
                rows = b[1]
                t = d.add_table(rows=len(rows), cols=len(rows[0]))
                t.style = "Table Grid"
                for i, row in enumerate(rows):
                    for j, cell in enumerate(row):
                        t.cell(i, j).text = cell
                        if i == 0:
                            for r in t.cell(i, j).paragraphs[0].runs:
                                r.bold = True
    d.save(str(path))
    _normalize_zip(path)


def _normalize_zip(path: Path) -> None:
    """Rewrite the .docx zip with fixed entry timestamps so the output is byte-stable."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2025, 3, 1, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


# ------------------------------------------------------------------ PDF

def make_pdf(doc: dict, path: Path) -> None:
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, LETTER
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    zh = doc["lang"] == "zh"
    ss = getSampleStyleSheet()
    if zh:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        font = bold = "STSong-Light"
    else:
        font, bold = "Helvetica", "Helvetica-Bold"
    wrap = "CJK" if zh else None
    body = ParagraphStyle("body", parent=ss["BodyText"], fontName=font, fontSize=11, leading=16,
                          spaceAfter=8, wordWrap=wrap)
    h1 = ParagraphStyle("h1", parent=ss["Heading1"], fontName=bold, fontSize=18, leading=24, wordWrap=wrap)
    h2 = ParagraphStyle("h2", parent=ss["Heading2"], fontName=bold, fontSize=14, leading=20,
                        spaceBefore=10, wordWrap=wrap)
    cell = ParagraphStyle("cell", parent=body, fontSize=10, leading=13, spaceAfter=0)

    story = [Paragraph(escape(doc["title"]), h1), Paragraph(escape(doc["intro"]), body)]
    for heading, blocks, _pid in doc["sections"]:
        story.append(Paragraph(escape(heading), h2))
        for b in blocks:
            if isinstance(b, str):
                story.append(Paragraph(escape(b), body))
            elif b[0] == "bullets":
                story.append(ListFlowable([ListItem(Paragraph(escape(x), body)) for x in b[1]],
                                          bulletType="bullet"))
            elif b[0] == "table":
                data = [[Paragraph(escape(c), cell) for c in row] for row in b[1]]
                t = Table(data, repeatRows=1, hAlign="LEFT",
                          colWidths=[2.4 * inch] + [(6.5 - 2.4) / (len(b[1][0]) - 1) * inch] * (len(b[1][0]) - 1))
                t.setStyle(TableStyle([
                    ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f0")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]))
                story.append(t)
                story.append(Spacer(1, 8))

    def footer(canvas, d):
        canvas.saveState()
        canvas.setFont(font, 9)
        txt = f"港湾银行 第 {d.page} 页" if zh else f"Harbor Bank - Page {d.page}"
        canvas.drawRightString(d.pagesize[0] - inch, 0.6 * inch, txt)
        canvas.restoreState()

    pdf = SimpleDocTemplate(str(path), pagesize=A4 if zh else LETTER, title=doc["title"],
                            author="Harbor Bank", leftMargin=inch, rightMargin=inch,
                            topMargin=inch, bottomMargin=inch, invariant=1)
    pdf.build(story, onFirstPage=footer, onLaterPages=footer)


def main() -> None:
    for doc in BINARY_DOCS:
        out = SAMPLE / doc["path"]
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".docx":
            make_docx(doc, out)
        elif out.suffix == ".pdf":
            make_pdf(doc, out)
        print(f"wrote {out.relative_to(HERE.parent)} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
