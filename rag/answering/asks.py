"""What kind of number a question asks for: a duration ("多久", "how long"), an amount of money ("多少钱",
"how much", "最多能借多少"), a time of day ("几点", "what time"), a phone number ("which number should I
call", "热线是多少") or a count ("几次", "how many fees"). An extract prefers what holds that kind of number
(rag.answering.verify.number_facts: "受理之日起15日内" is a duration, "10元/年" money), so that "投诉之后多久
会有答复？" is answered with the time limit, not with a sentence that only shares its words; for a phone
number it quotes only sentences that give one."""
from __future__ import annotations

import re

from rag.answering.verify import ADDRESS, number_facts

# a limit is an amount of money ("What is the daily limit?") unless it limits something else: "the visitor
# limit" is a count, "the age limit" an age, "the time limit" a duration
_NOT_MONEY_LIMITS = (r"(?:visit(?:or|ing)|guest|people|person|patient|student|child|bed|class|group|age|time|speed|size"
                     r"|file|upload|word|character|page|weight|height|capacity|occupancy|attempt|login|password)s?\b")

_ASKS = (
    ("duration", re.compile(r"多久|多长时间|多少(?:个工作)?[天日]|多少个?(?:年|月|小时|分钟|周|星期)(?![费级])|几[天日]"
                            r"|几个(?:工作日|小时|月)|how long|how soon"
                            r"|how many (?:business |working )?(?:days|hours|weeks|months|years)"
                            # how long before: "how much notice", "how early", "how far in advance", "提前多早" (not
                            # money: "how much notice to cancel" got the late cancellation fee's row)
                            r"|how much (?:advance |prior )?(?:notice|warning|time(?!\s+deposit))\b"
                            r"|how (?:early|far ahead|far in advance)\b|多早", re.IGNORECASE)),
    # "Do I pay a fee?" asks whether and how much; "How can parents pay fees?" asks the way; "挂号要钱吗" (要钱, 收钱,
    # 花钱: whether it takes money) asks for an amount, or that it is free
    ("money", re.compile(r"多少钱|收费多少|要钱|收钱|花钱|(?:费用?|年费|手续费|利息|限额|额度|押金|保证金|租金|价格|价钱)(?:是|有|要)?多少|能?[借贷转取存汇][款账]?多少"
                         r"|(?:哪些|什么)(?:费用?|收费)|how much|what (?:is|are) the (?:\w+ )?(?:fees?|costs?|charges?|price)"
                         r"|what (?:is|are) the (?:(?!" + _NOT_MONEY_LIMITS + r")\w+ )?limits?"
                         r"|what (?:fees?|charges?)\b|^(?!.*\bhow (?:can|do|does|should|could|would|may|to)\b).*\b(?:charge|pay) (?:a |any )?fees?\b|is there (?:a|any) (?:\w+ )?(?:fee|charge)\b"
                         r"|\bcharge (?:me |you )?for\b",
                         re.IGNORECASE)),
    # a place's hours ("uniform shop hours", "pharmacy hours on sunday"), not a number of them ("24 hours")
    ("time", re.compile(r"几点|什么时候(?:开门|关门|营业)|截止时间|what time|opening hours|until when"
                        r"|\b(?!(?:many|few|several|some|more|less|the|of|for|in|within|business|working)\b)[a-z]+\s+hours\b"
                        r"(?!\s+(?:of|a|per|before|after|notice|ago)\b)"
                        r"|(?:latest|earliest) time|cut-?off time", re.IGNORECASE)),
    ("phone", re.compile(r"(?:which|what) (?:phone |telephone )?number|phone number|number (?:should|do|can) I call"
                         r"|(?:电话|热线|号码)(?:是|是多少|多少)|打(?:哪个|什么)(?:电话|号码)", re.IGNORECASE)),
    # a way to get in touch: a phone number, an e-mail or web address ("How can I reach customer service?")
    ("contact", re.compile(r"how (?:can|do|should) (?:I|we) (?:contact|reach|get in touch with)\b|contact (?:details|information)"
                           r"|(?:怎么|如何|怎样)联系|联系方式", re.IGNORECASE)),
    # after the duration: "how many days" asks for a duration, "how many fees" for a count
    ("number", re.compile(r"(?:几|多少)(?:次|笔|张|个|家|项|种|位)|how many\b", re.IGNORECASE)),
)


# a place's hours answered by its being shut: "The branch is closed on Sundays", "周日休息"
_CLOSED = re.compile(r"\bclosed\b|\bnot open\b|休息|关闭|不开放|停业|不营业|闭馆|不办理", re.IGNORECASE)


def says_closed(text: str) -> bool:
    """Does `text` say something is shut (closed, not open, 休息, 不开放, ...)?"""
    return bool(_CLOSED.search(text))


def asked_kind(question: str) -> str | None:
    """'duration', 'money', 'time', 'phone', 'contact' (a phone number, e-mail or web address) or 'number'
    (a count) when the question asks for that kind of number, else None."""
    return next((kind for kind, pattern in _ASKS if pattern.search(question)), None)


# a fee or a rate given as a share of an amount answers "how much" ("a foreign transaction fee of 3%"); a
# phone number, "how can I reach you?"
_ANSWERS = {"percent": "money", "phone": "contact"}
# the facts check's web and e-mail addresses, and a bare domain a page names as a contact ("consumerfinance.gov")
_ADDRESS = re.compile(ADDRESS.pattern + r"|\b[\w-]+\.(?:com|org|net|example|gov|cn)(?:/\S*)?", re.IGNORECASE)


def number_kinds(text: str) -> frozenset[str]:
    """The kinds of number `text` states (verify's kinds: money, percent, time, date, duration, ...), a
    percentage also counting as an amount, a phone number, e-mail or web address as a contact."""
    kinds = {f.kind for f in number_facts(text)}
    return frozenset(kinds | {_ANSWERS[k] for k in kinds if k in _ANSWERS} | ({"contact"} if _ADDRESS.search(text) else set()))


def asked_values(question: str, text: str) -> frozenset[tuple[str, object]]:
    """The values of the kind the question asks for that `text` states, as (kind, value): numbers, and for a
    contact its e-mail and web addresses as ("address", the address lower-cased). Empty: it asks for none."""
    kind = asked_kind(question)
    if not kind:
        return frozenset()
    values: set[tuple[str, object]] = {(f.kind, f.value) for f in number_facts(text)
                                       if kind in (f.kind, _ANSWERS.get(f.kind))}
    if kind == "contact":
        values.update(("address", m.group(0).rstrip(".,;").lower()) for m in _ADDRESS.finditer(text))
    return frozenset(values)


# a question whether something exists or is offered, and the thing ("Is there free Wi-Fi in the branches?",
# "Does Harbor Bank offer pet insurance?", "网点有停车位吗？", "有没有给家属住的宾馆",
# "你们银行提供宠物保险吗？")
_EXISTS = re.compile(r"\b(?:is|are) there\s+(?:an?\s+|any\s+|some\s+)?(?P<en>[^?,;]+)"
                     r"|\bdo(?:es)? (?:you|the \w+|your \w+|(?!I\b)(?-i:[A-Z])[\w&'-]*(?: (?-i:[A-Z])[\w&'-]*){0,3}) (?:have|offer|sell|provide)\s+(?!to\b)"
                     r"(?:an?\s+|any\s+)?(?P<en2>[^?,;]+)"
                     r"|有没有(?P<zh>[^？?，,。；;]+)|有(?P<zh2>[^？?，,。；;有]{1,12})吗"
                     r"|(?:提供|开通|出售|卖|支持|接受)(?P<zh3>[^？?，,。；;]{1,12})吗", re.IGNORECASE)
# "is there a way to get out of paying?", "有没有办法免掉？" ask how, not whether a thing is there
_A_WAY = re.compile(r"\s*(?:ways?|options?|chance|possibility)\b|\s*(?:办法|方法|可能|途径|必要)", re.IGNORECASE)


# whose phone number a question asks for: "the direct phone number for the Cancer Center", "德育处的电话是多少"
_PHONE_OF = re.compile(r"\b(?:phone |telephone )?number (?:for|of) (?:the |your |a )?(?P<en>[^?,.;]+)"
                       r"|(?P<zh>[\u4e00-\u9fff]{2,10}?)的?(?:联系)?(?:电话|热线)(?:号码)?(?:是|是多少|多少)", re.IGNORECASE)


def phone_subject(question: str) -> str | None:
    """Whose phone number the question asks for ("the Cancer Center", "德育处"), or None."""
    m = _PHONE_OF.search(question)
    return next((g.strip() for g in m.groups() if g), None) if m else None


def asked_thing(question: str) -> str | None:
    """The thing a question asks whether there is ("free Wi-Fi in the branches", "停车位"), or None: it asks
    no such thing, or asks for a way ("is there a way to ...", "有没有办法 ...")."""
    m = _EXISTS.search(question)
    if m is None:
        return None
    thing = next(g for g in m.groups() if g)
    return None if _A_WAY.match(thing) else thing
