"""Personal data masked in text bound for a log line (api.observability masks every line the service writes;
a log call that cuts a question short masks it first, so that no cut number escapes): Chinese resident ID
numbers (18 characters whose check digit is right), bank card numbers (13-19 digits passing the Luhn check), mainland mobile and
landline numbers, e-mail addresses. Numbers keep their last 4 digits (enough to tell two apart when
supporting a user, not enough to identify anyone); an e-mail address keeps its domain.

Digits next to other digits are never a match (a 20-digit order number is not a phone number), so a
sequence is masked whole or not at all. Card numbers must start with 3-6 (UnionPay 62, Visa 4,
Mastercard 5, Amex/JCB 3): a millisecond timestamp (13 digits starting with 1) stays readable. A 16-19
digit number starting 62 is masked without the Luhn check: not every UnionPay card number passes it.
Full-width digits and separators (a Chinese input method's １３８－１２３４－５６７８) are read as ASCII ones,
and a resident ID number may be written in groups (110105 19491231 002X)."""
from __future__ import annotations

import re

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_ID = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{5}[ -]?[0-9]{8}[ -]?[0-9]{3}[0-9Xx](?![0-9A-Za-z])")
_CARD = re.compile(r"(?<![0-9])[3-6][0-9]{3}(?:[ -]?[0-9]){9,15}(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(?:\(0[0-9]{2,3}\)|0[0-9]{2,3}[ -]?)[2-9][0-9]{6,7}(?![0-9])")
# one character for one, so that what is masked in the folded text is masked at the same place in the text
_FOLD = str.maketrans("０１２３４５６７８９Ｘｘ＋－（）\u3000", "0123456789Xx+-() ")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def id_number_valid(s: str) -> bool:
    """The GB 11643 check digit of an 18-character resident ID number is right."""
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == s[17].upper()


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _keep_last4(text: str) -> str:
    """Every digit but the last 4 as '*' (separators and a leading '+' kept: the shape stays readable)."""
    digits = sum(c.isdigit() or c in "Xx" for c in text)
    out, seen = [], 0
    for c in text:
        if c.isdigit() or c in "Xx":
            seen += 1
            out.append(c if seen > digits - 4 else "*")
        else:
            out.append(c)
    return "".join(out)


def _id(m: re.Match) -> str:
    return _keep_last4(m.group(0)) if id_number_valid(re.sub(r"[ -]", "", m.group(0))) else m.group(0)


def _card(m: re.Match) -> str:
    digits = re.sub(r"[ -]", "", m.group(0))
    unionpay = digits.startswith("62") and 16 <= len(digits) <= 19
    return _keep_last4(m.group(0)) if 13 <= len(digits) <= 19 and (unionpay or luhn_valid(digits)) else m.group(0)


def _mask_numbers(text: str) -> str:
    text = _ID.sub(_id, text)
    text = _CARD.sub(_card, text)
    text = _MOBILE.sub(lambda m: _keep_last4(m.group(0)), text)
    return _LANDLINE.sub(lambda m: _keep_last4(m.group(0)), text)


def mask_personal(text: str) -> str:
    """`text` with the personal data named in the module docstring masked; anything else as it was."""
    if not text or not any(c.isdigit() or c == "@" for c in text):
        return text
    folded = text.translate(_FOLD)
    masked = _mask_numbers(folded)
    if folded != text:  # full-width characters stay as written where nothing is masked
        masked = "".join("*" if m == "*" != f else c for c, f, m in zip(text, folded, masked))
    return _EMAIL.sub(lambda m: "***@" + m.group(1), masked)
