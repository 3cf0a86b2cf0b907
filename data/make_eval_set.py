"""Build the BEIR-style sample eval sets under data/eval/sample/{en,zh}/ from data/sample/.

Reproducible and standard-library only:

    python data/make_eval_set.py          # (re)write the eval files, then validate them
    python data/make_eval_set.py --check  # validate the files on disk, write nothing

Passages (corpus.jsonl) are cut from the sample documents themselves, one passage per
section (a document's lead paragraph is merged into its first section), so the corpus
always matches data/sample/. The text of the DOCX/PDF samples is read from
data/make_binary_samples.py (BINARY_DOCS), which generated them; python-docx and reportlab
are NOT imported. Queries, gold answers and relevance judgements are hand-written below.

Output per language:
    corpus.jsonl      {"_id", "title", "text"}
    queries.jsonl     {"_id", "text"}       (answerable + "unans-" queries)
    qrels/test.tsv    query-id<TAB>corpus-id<TAB>score   (answerable queries, even positions)
    qrels/dev.tsv     same, odd positions
    answers.jsonl     {"_id", "answer"}     (answerable queries only)
    unanswerable.txt  ids of the queries the corpus cannot answer (no qrels, no answers)
"""
from __future__ import annotations

import csv
import html.parser
import io
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "sample"
OUT = HERE / "eval" / "sample"

sys.dont_write_bytecode = True  # keep data/ free of __pycache__
sys.path.insert(0, str(HERE))
from make_binary_samples import BINARY_DOCS, iter_blocks_text  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Documents: path -> (slug, encoding, section id suffixes in document order)
# For CSV files the "sections" are the values of the first column, mapped to suffixes.
# ---------------------------------------------------------------------------------------------

DOCS: dict[str, dict] = {
    # English
    "en/account_fees.md": {"slug": "fees", "sections": ["monthly", "atm", "savings-limits", "services", "inactive"]},
    "en/overdraft_policy.md": {"slug": "overdraft", "sections": [
        "coverage", "fees", "grace", "debit-optin", "protection", "posting-order", "repay"]},
    "en/foreign_exchange.md": {"slug": "fx", "sections": [
        "currencies", "delivery", "rates", "card-abroad", "sellback", "limits"]},
    "en/online_banking_password_reset.md": {"slug": "password", "sections": [
        "reset", "rules", "locked", "username", "contact-change", "biometric", "safety"]},
    "en/wire_transfers.html": {"slug": "wire", "sections": [
        "how", "info", "fees", "limits", "cutoff", "recall", "fraud"]},
    "en/complaints_procedure.html": {"slug": "complaints", "sections": [
        "contact", "next", "timescales", "advocate", "regulator", "remedy"]},
    "en/lost_or_stolen_cards.txt": {"slug": "cards", "sections": [
        "report", "lock", "replacement", "liability", "dispute", "protect"]},
    "en/branches_and_hours.txt": {"slug": "branches", "encoding": "latin-1", "sections": [
        "hours", "list", "phone-hours", "appointments", "safe-deposit", "accessibility"]},
    "en/fee_schedule.csv": {"slug": "feeschedule", "title": "Harbor Bank Fee Schedule", "sections": {
        "Account maintenance": "account", "ATM and cards": "atm-cards", "Wire transfers": "wire",
        "Overdraft": "overdraft", "Checks and statements": "checks", "Other services": "other"}},
    "en/privacy_policy.docx": {"slug": "privacy"},
    "en/mortgage_and_loan_policy.pdf": {"slug": "loans"},
    # Chinese
    "zh/account_fees.md": {"slug": "fees", "sections": ["annual", "small-balance", "atm", "services", "dormant"]},
    "zh/fee_schedule.csv": {"slug": "feeschedule", "title": "港湾银行个人业务收费价目表", "sections": {
        "账户与借记卡": "account", "ATM": "atm", "转账汇款": "transfer", "外汇": "fx", "贷款": "loan"}},
    "zh/transfer_and_remittance.html": {"slug": "transfer", "sections": [
        "fees", "limits", "arrival", "intl", "wrong", "fraud"]},
    "zh/card_loss_reporting.txt": {"slug": "cardloss", "encoding": "gbk", "sections": [
        "temp", "formal", "reissue", "passbook-pin", "credit", "fraud"]},
    "zh/online_banking_password_reset.txt": {"slug": "password", "sections": [
        "login", "rules", "tradepin", "locked", "phone", "safety"]},
    "zh/branches_and_hours.md": {"slug": "branches", "sections": [
        "hours", "list", "channels", "appointment", "safebox", "accessibility"]},
    "zh/complaints_procedure.html": {"slug": "complaints", "sections": [
        "channels", "timeline", "review", "external", "promise"]},
    "zh/privacy_policy.md": {"slug": "privacy", "sections": [
        "collect", "use", "sharing", "retention", "rights", "security", "minors"]},
    "zh/personal_loans_and_mortgage.docx": {"slug": "loans"},
    "zh/foreign_exchange.pdf": {"slug": "fx"},
}

# ---------------------------------------------------------------------------------------------
# Queries: (id, question, [relevant passage ids], gold answer, [evidence strings])
# Each evidence string must occur in at least one relevant passage (checked on build).
# ---------------------------------------------------------------------------------------------

QUERIES: dict[str, list[tuple]] = {
    "en": [
        ("en-q01", "How much does it cost each month to keep an Everyday Checking account, and is there a way to get out of paying?",
         ["en-fees-monthly", "en-feeschedule-account"],
         "$12 a month. It is waived with a $1,500 minimum daily balance, $500 or more in direct deposits per statement cycle, or if the primary account holder is under 25.",
         ["$1,500", "under 25"]),
        ("en-q02", "I took cash out of another bank's machine here in the US. What will Harbor charge me for that?",
         ["en-fees-atm", "en-feeschedule-atm-cards"],
         "$3.00 per withdrawal, plus any fee charged by the ATM owner (Premier Checking refunds up to four such fees per cycle).",
         ["$3.00"]),
        ("en-q03", "How many times a month can I move money out of my savings before I get charged?",
         ["en-fees-savings-limits"],
         "Six withdrawals or transfers per statement cycle are free; each extra one costs $10, up to $60 per cycle. Branch and Harbor Bank ATM withdrawals don't count.",
         ["six free withdrawals", "$60"]),
        ("en-q04", "If I close my new account after two months, is there a charge?",
         ["en-fees-inactive", "en-feeschedule-account"],
         "Yes. Closing an account within 90 days of opening costs $25.",
         ["90 days"]),
        ("en-q05", "What's the latest time I can put in an international wire and still have it go out today?",
         ["en-wire-cutoff"],
         "2:00 p.m. Eastern Time on a business day.",
         ["2:00 p.m. Eastern Time"]),
        ("en-q06", "What's the most I can wire within the US per day through the app with an Everyday Checking account?",
         ["en-wire-limits"],
         "$25,000 per day for online and mobile domestic wires.",
         ["$25,000 per day"]),
        ("en-q07", "Someone wants to send money to my Harbor account. Which routing number and SWIFT code do they need?",
         ["en-wire-info"],
         "ABA routing number 011500555 and SWIFT code HRBRUS33, plus your full account number.",
         ["011500555", "HRBRUS33"]),
        ("en-q08", "Can I get my money back after a wire has already gone out?",
         ["en-wire-recall"],
         "Only by asking for a recall, which costs $20, and the receiving bank doesn't have to return the money. A wire can be cancelled free only until its status changes to \"Sent\".",
         ["recall costs $20"]),
        ("en-q09", "My debit card got stolen while I'm traveling in Europe. Which number should I call?",
         ["en-cards-report"],
         "Call +1-302-555-0188; collect calls are accepted. You can also cancel the card in the mobile app.",
         ["+1-302-555-0188"]),
        ("en-q10", "How quickly can I get a replacement card, and what does rush delivery cost?",
         ["en-cards-replacement", "en-feeschedule-atm-cards"],
         "Standard delivery is free and takes 5 to 7 business days; expedited delivery costs $25 (waived for Premier Checking) and takes 2 business days.",
         ["5 to 7 business days", "$25"]),
        ("en-q11", "Somebody used my lost debit card and I only told the bank a week later. How much could I be on the hook for?",
         ["en-cards-liability"],
         "Up to $500, because it was reported more than 2 business days after you discovered the loss (within 2 business days you would pay nothing).",
         ["$500"]),
        ("en-q12", "I found my wallet after reporting the card lost. Can I start using the card again?",
         ["en-cards-lock"],
         "No. A card reported lost or stolen cannot be reactivated; cut it up and use the replacement. Only a temporarily locked card can be unlocked.",
         ["cannot be reactivated"]),
        ("en-q13", "Is the Old Town branch open on Saturdays, and until what time?",
         ["en-branches-list", "en-branches-hours"],
         "Yes. Old Town keeps standard hours, so on Saturday it is open 9:00 a.m. to 1:00 p.m.",
         ["Old Town Branch", "Saturday: 9:00 a.m. to 1:00 p.m."]),
        ("en-q14", "Is there any branch I can go to on a Sunday?",
         ["en-branches-list"],
         "Yes, the Marina Plaza Branch, open Sunday 12:00 p.m. to 4:00 p.m. It is the only branch open on Sundays.",
         ["only branch open on Sundays"]),
        ("en-q15", "How much is the yearly rent for a medium safe deposit box?",
         ["en-branches-safe-deposit", "en-feeschedule-other"],
         "$110 per year; Premier Checking customers get 50% off.",
         ["$110"]),
        ("en-q16", "What's the smallest down payment you'll accept for a conventional mortgage on the home I'm going to live in?",
         ["en-loans-mortgage"],
         "5% for a primary residence. With less than 20% down, private mortgage insurance (PMI) is required.",
         ["5%", "private mortgage insurance"]),
        ("en-q17", "Will I get penalized for paying off my mortgage ahead of schedule?",
         ["en-loans-mortgage-fees"],
         "No. Harbor Bank mortgages have no prepayment penalty.",
         ["no prepayment penalty"]),
        ("en-q18", "How much can I borrow with an unsecured personal loan, and over how long?",
         ["en-loans-personal"],
         "From $2,000 to $50,000, with terms of 12 to 72 months.",
         ["$2,000 to $50,000", "12 to 72 months"]),
        ("en-q19", "How long is the grace period on my mortgage payment, and what's the late charge after that?",
         ["en-loans-late"],
         "15 days. After the 15th, a late fee of 4% of the overdue principal and interest payment applies.",
         ["15-day grace period", "4%"]),
        ("en-q20", "How do I stop you from using my information for marketing or sharing it with partner companies?",
         ["en-privacy-optout"],
         "Call 1-800-555-0177 or go to Settings > Privacy Preferences in online banking. Your choice takes effect within 30 days.",
         ["1-800-555-0177"]),
        ("en-q21", "How many years do you hold on to my records after I close my account?",
         ["en-privacy-retention"],
         "7 years after the account is closed.",
         ["7 years"]),
        ("en-q22", "What happens fee-wise when a check bounces because I don't have enough money in checking?",
         ["en-overdraft-fees", "en-feeschedule-overdraft"],
         "If Harbor Bank pays it, you are charged a $29 overdraft fee (at most 3 per day). If the item is returned unpaid, there is no NSF fee ($0).",
         ["$29", "$0"]),
        ("en-q23", "I went into overdraft yesterday. How long do I have to fix it and avoid the fee?",
         ["en-overdraft-grace"],
         "Until 8:00 p.m. Eastern Time on the next business day (Next-Day Grace); bring the available balance back to $0 or above and the fees are waived.",
         ["8:00 p.m. Eastern Time"]),
        ("en-q24", "Why did the ATM decline my withdrawal instead of letting me go negative?",
         ["en-overdraft-debit-optin"],
         "ATM withdrawals and one-time debit card purchases are only paid into overdraft if you opt in to the Debit Card Overdraft Service; otherwise they are declined at no charge.",
         ["Debit Card Overdraft Service"]),
        ("en-q25", "What fee will I pay for using my debit card in a shop abroad?",
         ["en-fx-card-abroad", "en-feeschedule-atm-cards"],
         "A 3% foreign transaction fee; Premier Checking debit cards and the Harbor Voyager credit card have none.",
         ["3%", "Harbor Voyager"]),
        ("en-q26", "Can I walk into a branch and get Japanese yen the same day?",
         ["en-fx-currencies"],
         "No. Yen must be ordered ahead (minimum 10,000 JPY); orders placed before 2:00 p.m. ET are ready within 2 business days.",
         ["Japanese yen"]),
        ("en-q27", "I typed my online banking password wrong too many times and got locked out. How long before I can try again?",
         ["en-password-locked"],
         "30 minutes after 5 failed attempts; it unlocks automatically. After 10 failed attempts in 24 hours you must call 1-800-555-0142 to unlock it.",
         ["30 minutes"]),
        ("en-q28", "I just updated my mobile number. Why can't I send a wire from online banking?",
         ["en-password-contact-change"],
         "After a phone number or email change there is a 3-day security hold during which you can't add payees or send wires online.",
         ["3-day security hold"]),
        ("en-q29", "How long will it take you to give me a final answer on my complaint?",
         ["en-complaints-timescales"],
         "Within 15 business days for most complaints, or up to 35 business days for complex ones (with an update by day 15).",
         ["15 business days", "35 business days"]),
        ("en-q30", "I'm unhappy with your final response to my complaint. Who else can look at it?",
         ["en-complaints-advocate", "en-complaints-regulator"],
         "Ask the Harbor Bank Customer Advocate Office within 60 days of the final response (it replies within 30 days); you can also complain to the Consumer Financial Protection Bureau.",
         ["60 days", "Consumer Financial Protection Bureau"]),
    ],
    "zh": [
        ("zh-q01", "普卡一年收多少年费？有没有办法免掉？",
         ["zh-fees-annual", "zh-feeschedule-account"],
         "港湾普卡年费10元/年；开卡首年免收，上一年度日均存款余额达到1万元的免收当年年费。",
         ["10元/年", "1万元"]),
        ("zh-q02", "我卡里没剩多少钱，会不会被扣管理费？",
         ["zh-fees-small-balance", "zh-feeschedule-account"],
         "不会。港湾银行不收取小额账户管理费。",
         ["不收取小额账户管理费"]),
        ("zh-q03", "用别的银行的ATM取钱要手续费吗？",
         ["zh-fees-atm", "zh-feeschedule-atm"],
         "境内跨行ATM取款每笔2元，每个自然月前3笔免费；金卡、白金卡不限笔数免费。",
         ["每笔2元"]),
        ("zh-q04", "在ATM上一天最多能取多少现金？",
         ["zh-fees-atm"],
         "单日最多2万元，单笔最多3000元；5万元以上大额取现需要预约。",
         ["2万元", "3000元"]),
        ("zh-q05", "到柜台往外行汇8万块钱，手续费是多少？",
         ["zh-transfer-fees", "zh-feeschedule-transfer"],
         "每笔10元（1万元至10万元档）。用手机银行或网银转账则免费。",
         ["10元"]),
        ("zh-q06", "手机银行只用短信验证码的话，一天能转多少钱？",
         ["zh-transfer-limits"],
         "单笔5万元，单日累计20万元。",
         ["20万元"]),
        ("zh-q07", "晚上给外行转10万元，什么时候能到？",
         ["zh-transfer-arrival"],
         "5万元以上的跨行转账走大额支付系统，非工作时间提交的顺延到下一个工作日处理（工作日8:30至17:15提交的一般2小时内到账）。",
         ["大额支付系统", "8:30至17:15"]),
        ("zh-q08", "钱转错给别人了，还能要回来吗？",
         ["zh-transfer-wrong"],
         "立即拨打400-106-9588。选择了“次日到账”且资金未划出的可直接撤销；已到账的只能由银行协助联系，收款人同意后退回，拒不退还的可以起诉要求返还不当得利。",
         ["次日到账", "不当得利"]),
        ("zh-q09", "往国外汇款要收哪些费用？",
         ["zh-transfer-intl", "zh-feeschedule-transfer"],
         "手续费为汇款金额的0.1%（最低50元、最高260元），另收电讯费每笔150元；境外银行和中转行可能另外扣费。",
         ["0.1%", "150元"]),
        ("zh-q10", "半夜发现银行卡丢了，怎么挂失？",
         ["zh-cardloss-temp"],
         "拨打24小时客服热线400-106-9588，或在手机银行“我的—银行卡管理—挂失”办理临时挂失，免费且立即生效。",
         ["400-106-9588"]),
        ("zh-q11", "电话挂失之后，多长时间内要去网点办手续？",
         ["zh-cardloss-temp", "zh-cardloss-formal"],
         "临时挂失有效期5天，需在5天内本人携带身份证到网点办理正式挂失。",
         ["5天"]),
        ("zh-q12", "正式挂失要交多少钱？多久能拿到新卡？",
         ["zh-cardloss-formal", "zh-cardloss-reissue"],
         "正式挂失手续费每次10元；挂失满7天后可补卡，工本费每张5元。也可申请“挂失即补卡”当天拿到新卡。",
         ["10元", "满7天"]),
        ("zh-q13", "信用卡被人盗刷了，银行给不给赔？",
         ["zh-cardloss-credit"],
         "有失卡保障：挂失前72小时内被盗刷的损失，经核实最高赔付5万元，需在挂失后30天内提交报案回执等材料。",
         ["72小时", "5万元"]),
        ("zh-q14", "取款密码想不起来了，需要把卡挂失吗？",
         ["zh-cardloss-passbook-pin", "zh-password-tradepin"],
         "不需要挂失。可以在手机银行通过人脸识别加短信验证码在线重置交易密码，或本人带身份证和银行卡到网点重置，免费。",
         ["人脸识别"]),
        ("zh-q15", "手机银行登录密码输错几次会被锁？要锁多久？",
         ["zh-password-locked"],
         "连续输错5次，登录功能锁定24小时，到期自动解锁；也可以通过“忘记密码”重置密码立即解锁。",
         ["5次", "24小时"]),
        ("zh-q16", "设置手机银行登录密码有什么要求？",
         ["zh-password-rules"],
         "8至20位，必须同时包含字母和数字，区分大小写；不能与交易密码相同，不能用连续或重复字符，不能包含生日或手机号。",
         ["8至20位"]),
        ("zh-q17", "我刚换了手机号，为什么转账额度变低了？",
         ["zh-password-phone"],
         "修改预留手机号后48小时内，手机银行单日转账限额临时下调为5000元。",
         ["48小时", "5000元"]),
        ("zh-q18", "静安支行周六营业吗？",
         ["zh-branches-list"],
         "营业，周六10:00—16:00。",
         ["上海静安支行"]),
        ("zh-q19", "哪里可以租保管箱？小号的一年多少钱？",
         ["zh-branches-safebox"],
         "上海分行营业部和杭州分行营业部；小号年租金300元，另交押金1000元（退租退还）。",
         ["300元"]),
        ("zh-q20", "买第一套房首付最少要多少？",
         ["zh-loans-mortgage"],
         "首套住房最低首付比例20%（第二套为30%）。",
         ["20%"]),
        ("zh-q21", "房贷提前还款要交违约金吗？",
         ["zh-loans-prepay", "zh-feeschedule-loan"],
         "贷款发放满1年后提前还款不收违约金；未满1年的按提前还款本金的1%收取。需至少提前5个工作日预约。",
         ["1%"]),
        ("zh-q22", "港湾易贷最多能借多少，能借多久？",
         ["zh-loans-consumer"],
         "1万元至30万元，期限最长36个月，年化利率3.6%起。",
         ["30万元", "36个月"]),
        ("zh-q23", "我一年能换多少美元？",
         ["zh-fx-quota", "zh-transfer-intl"],
         "每人每年购汇便利化额度为等值5万美元，按自然年计算，当年未用完不能结转。",
         ["5万美元"]),
        ("zh-q24", "在国外用银联借记卡在ATM取现，手续费怎么算？",
         ["zh-fx-card", "zh-fees-atm", "zh-feeschedule-atm"],
         "每笔12元，另加取现金额的1%。",
         ["12元"]),
        ("zh-q25", "投诉之后多久能给我答复？",
         ["zh-complaints-timeline"],
         "收到投诉后1个工作日内受理，一般15日内答复；情况复杂的可延长至30日。",
         ["15日内"]),
        ("zh-q26", "对银行的投诉处理结果不满意，还能找谁？",
         ["zh-complaints-review", "zh-complaints-external"],
         "可在收到处理意见30日内向消费者权益保护部申请复核（10个工作日内答复）；也可拨打12378或12363，申请银行业纠纷调解，或仲裁、诉讼。",
         ["复核", "12378"]),
        ("zh-q27", "你们会把我的个人资料保存多长时间？",
         ["zh-privacy-retention"],
         "客户身份资料和交易记录在业务关系结束后至少保存5年；客服电话录音保存3年。",
         ["至少保存5年"]),
        ("zh-q28", "怎样不再收到你们的营销短信？",
         ["zh-privacy-rights"],
         "在手机银行“隐私设置”中关闭，或回复短信“TD”退订，3个工作日内生效。",
         ["TD"]),
    ],
}

UNANSWERABLE: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("unans-en-01", "Can I buy Bitcoin or other cryptocurrencies through my Harbor Bank account?"),
        ("unans-en-02", "Which stocks should I invest in this year to get the best returns?"),
        ("unans-en-03", "What interest rate do you pay on a 12-month certificate of deposit?"),
        ("unans-en-04", "What documents do I need to open a business checking account for my company?"),
        ("unans-en-05", "Does Harbor Bank sell life insurance policies?"),
    ],
    "zh": [
        ("unans-zh-01", "能用港湾银行的账户买比特币吗？"),
        ("unans-zh-02", "最近买哪只股票比较赚钱？"),
        ("unans-zh-03", "你们三年期定期存款利率是多少？"),
        ("unans-zh-04", "公司开对公账户需要准备什么材料？"),
        ("unans-zh-05", "信用卡积分可以兑换哪些礼品？"),
    ],
}


# ---------------------------------------------------------------------------------------------
# Section extraction per format
# ---------------------------------------------------------------------------------------------

def _clean(text: str) -> str:
    text = text.replace("**", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def sections_markdown(text: str) -> tuple[str, str, list[tuple[str, str]]]:
    title, intro, secs, cur = "", [], [], None
    for line in text.splitlines():
        if line.startswith("# ") and not title:
            title = line[2:].strip()
        elif line.startswith("## "):
            cur = (line[3:].strip(), [])
            secs.append(cur)
        elif cur is None:
            intro.append(line)
        else:
            cur[1].append(line)
    return title, _clean("\n".join(intro)), [(h, _clean("\n".join(b))) for h, b in secs]


def sections_text(text: str, lang: str) -> tuple[str, str, list[tuple[str, str]]]:
    heading = re.compile(r"^[一二三四五六七八九十]+、\S" if lang == "zh" else r"^\d+\.\s+[A-Z][^.;:]*$")
    lines = text.splitlines()
    title = lines[0].strip()
    if title.isupper():
        title = title.title().replace(" Or ", " or ").replace(" And ", " and ")
    body = lines[2:] if len(lines) > 1 and set(lines[1].strip()) == {"="} else lines[1:]
    intro, secs, cur = [], [], None
    for line in body:
        if heading.match(line.strip()) and len(line.strip()) < 60:
            h = re.sub(r"^(\d+\.\s+|[一二三四五六七八九十]+、)", "", line.strip())
            cur = (h, [])
            secs.append(cur)
        elif cur is None:
            intro.append(line)
        else:
            cur[1].append(line)
    return title, _clean("\n".join(intro)), [(h, _clean("\n".join(b))) for h, b in secs]


class _HTMLSections(html.parser.HTMLParser):
    BLOCK = {"p", "li", "tr", "h1", "h2", "h3", "ul", "ol", "table", "thead", "tbody"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title, self.intro, self.secs = "", [], []
        self.mode, self.buf, self.row, self.in_cell = None, [], [], False
        self.skip = 0

    def _target(self):
        return self.secs[-1][1] if self.secs else self.intro

    def handle_starttag(self, tag, attrs):
        if tag in ("head", "script", "style"):
            self.skip += 1
        elif tag in ("h1", "h2", "p", "li"):
            self.mode, self.buf = tag, []
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.in_cell, self.buf = True, []

    def handle_endtag(self, tag):
        if tag in ("head", "script", "style"):
            self.skip -= 1
        elif tag in ("td", "th"):
            self.row.append(" ".join("".join(self.buf).split()))
            self.in_cell = False
        elif tag == "tr":
            self._target().append(" | ".join(self.row))
        elif tag == self.mode:
            text = " ".join("".join(self.buf).split())
            if tag == "h1":
                self.title = text
            elif tag == "h2":
                self.secs.append((text, []))
            elif tag == "li":
                self._target().append("- " + text)
            else:
                self._target().append(text)
            self.mode = None

    def handle_data(self, data):
        if not self.skip and (self.mode or self.in_cell):
            self.buf.append(data)


def sections_html(text: str) -> tuple[str, str, list[tuple[str, str]]]:
    p = _HTMLSections()
    p.feed(text)
    return p.title, "\n".join(p.intro), [(h, "\n".join(b)) for h, b in p.secs]


def sections_csv(text: str, lang: str) -> list[tuple[str, str]]:
    rows = list(csv.reader(io.StringIO(text)))
    groups: dict[str, list[str]] = {}
    for cat, service, fee, notes in rows[1:]:
        sep = "：" if lang == "zh" else ": "
        line = f"{service}{sep}{fee}"
        if notes:
            line += f"（{notes}）" if lang == "zh" else f" ({notes})"
        groups.setdefault(cat, []).append(line)
    return [(cat, "\n".join(lines)) for cat, lines in groups.items()]


def build_corpus(lang: str) -> list[dict]:
    binary = {d["path"]: d for d in BINARY_DOCS}
    corpus = []
    for rel, meta in DOCS.items():
        if not rel.startswith(lang + "/"):
            continue
        path = SAMPLE / rel
        ext = path.suffix
        prefix = f"{lang}-{meta['slug']}-"
        if ext in (".docx", ".pdf"):
            d = binary[rel]
            title, intro = d["title"], d["intro"]
            secs = [(h, "\n".join(iter_blocks_text(blocks))) for h, blocks, _ in d["sections"]]
            ids = [prefix + pid for _, _, pid in d["sections"]]
        else:
            text = path.read_bytes().decode(meta.get("encoding", "utf-8"))
            if ext == ".csv":
                title, intro = meta["title"], ""
                secs = sections_csv(text, lang)
                ids = [prefix + meta["sections"][cat] for cat, _ in secs]
            else:
                if ext == ".md":
                    title, intro, secs = sections_markdown(text)
                elif ext == ".html":
                    title, intro, secs = sections_html(text)
                else:
                    title, intro, secs = sections_text(text, lang)
                ids = [prefix + s for s in meta["sections"]]
        if len(ids) != len(secs):
            raise SystemExit(f"{rel}: {len(secs)} sections found {[h for h, _ in secs]}, "
                             f"but {len(ids)} ids configured")
        for i, (pid, (heading, body)) in enumerate(zip(ids, secs)):
            text = f"{intro}\n\n{body}" if i == 0 and intro else body
            corpus.append({"_id": pid, "title": f"{title} > {heading}", "text": _clean(text)})
    return corpus


# ---------------------------------------------------------------------------------------------
# Write + validate
# ---------------------------------------------------------------------------------------------

def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def write(lang: str) -> None:
    out = OUT / lang
    corpus = build_corpus(lang)
    by_id = {c["_id"]: c for c in corpus}
    if len(by_id) != len(corpus):
        raise SystemExit(f"{lang}: duplicate passage ids")
    for qid, _q, rel, _a, evidence in QUERIES[lang]:
        for pid in rel:
            if pid not in by_id:
                raise SystemExit(f"{qid}: unknown passage {pid}")
        for ev in evidence:
            if not any(ev in by_id[p]["text"] for p in rel):
                raise SystemExit(f"{qid}: evidence {ev!r} not found in {rel}")
    _jsonl(out / "corpus.jsonl", corpus)
    _jsonl(out / "queries.jsonl", [{"_id": q[0], "text": q[1]} for q in QUERIES[lang]]
           + [{"_id": u, "text": t} for u, t in UNANSWERABLE[lang]])
    _jsonl(out / "answers.jsonl", [{"_id": q[0], "answer": q[3]} for q in QUERIES[lang]])
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    for split, parity in (("test", 0), ("dev", 1)):
        lines = ["query-id\tcorpus-id\tscore"]
        for i, (qid, _q, rel, _a, _e) in enumerate(QUERIES[lang]):
            if i % 2 == parity:
                lines += [f"{qid}\t{pid}\t1" for pid in rel]
        (out / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "unanswerable.txt").write_text("".join(u + "\n" for u, _ in UNANSWERABLE[lang]), encoding="utf-8")
    print(f"{lang}: {len(corpus)} passages, {len(QUERIES[lang])} answerable + "
          f"{len(UNANSWERABLE[lang])} unanswerable queries -> {out.relative_to(HERE.parent)}")


def check(lang: str) -> None:
    out = OUT / lang

    def load(name):
        rows = []
        for n, line in enumerate((out / name).read_text(encoding="utf-8").splitlines(), 1):
            obj = json.loads(line)  # raises on a bad line
            if not isinstance(obj.get("_id"), str) or not obj["_id"]:
                raise SystemExit(f"{name}:{n}: missing _id")
            rows.append(obj)
        ids = [r["_id"] for r in rows]
        if len(set(ids)) != len(ids):
            raise SystemExit(f"{name}: duplicate ids")
        return {r["_id"]: r for r in rows}

    corpus, queries, answers = load("corpus.jsonl"), load("queries.jsonl"), load("answers.jsonl")
    assert all(set(c) == {"_id", "title", "text"} and c["text"] for c in corpus.values())
    assert all(set(q) == {"_id", "text"} and q["text"] for q in queries.values())
    unans = (out / "unanswerable.txt").read_text(encoding="utf-8").split()
    judged: dict[str, str] = {}
    for split in ("test", "dev"):
        lines = (out / "qrels" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
        assert lines[0] == "query-id\tcorpus-id\tscore", lines[0]
        for line in lines[1:]:
            qid, pid, score = line.split("\t")
            assert qid in queries, f"qrels {split}: unknown query {qid}"
            assert pid in corpus, f"qrels {split}: unknown corpus id {pid}"
            assert score == "1"
            assert judged.setdefault(qid, split) == split, f"{qid} in both splits"
    assert all(u in queries and u.startswith("unans-") and u not in judged for u in unans)
    assert set(judged) | set(unans) == set(queries), "every query is judged or unanswerable"
    assert set(answers) == set(judged), "one answer per answerable query"
    n_test = sum(1 for s in judged.values() if s == "test")
    print(f"{lang}: OK ({len(corpus)} passages, {len(queries)} queries, "
          f"{n_test} test / {len(judged) - n_test} dev, {len(unans)} unanswerable)")


def main(argv: list[str]) -> None:
    for lang in ("en", "zh"):
        if "--check" not in argv:
            write(lang)
        check(lang)


if __name__ == "__main__":
    main(sys.argv[1:])
