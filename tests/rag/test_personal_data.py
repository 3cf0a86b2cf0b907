"""Personal data masked for log lines (rag.guard.personal_data): Chinese resident ID numbers with a right
check digit, bank card numbers passing Luhn, mainland mobile and landline numbers, e-mail addresses;
numbers keep their last 4 digits. English and Chinese text; what is not personal data stays as it was."""
from __future__ import annotations

import pytest

from rag.guard.personal_data import id_number_valid, luhn_valid, mask_personal

ID = "11010519491231002X"      # check digit X is right for these 17 digits
CARD = "6222021234567890128"   # UnionPay, 19 digits, Luhn-valid
VISA = "4111111111111111"


def test_the_checks_themselves():
    assert id_number_valid(ID) and not id_number_valid("110105194912310021")
    assert luhn_valid(CARD) and luhn_valid(VISA) and not luhn_valid("4111111111111112")


@pytest.mark.parametrize("text, masked, gone", [
    (f"我的身份证号是{ID}，请帮我查询", "**************002X", ID),
    (f"my ID number is {ID.lower()}", "**************002x", ID.lower()),
    (f"银行卡{CARD}挂失", "***************0128", CARD),
    ("card 4111 1111 1111 1111 was lost", "**** **** **** 1111", "4111 1111 1111"),
    ("手机13812345678能收到验证码吗", "*******5678", "13812345678"),
    ("call +86 138-1234-5678 today", "+** ***-****-5678", "138-1234"),
    ("座机010-62345678或（0755）", "***-****5678", "62345678"),
    ("write to zhang.san@bank.com.cn", "***@bank.com.cn", "zhang.san"),
    # typed with a Chinese input method: full-width digits and separators
    ("手机１３８－１２３４－５６７８能收到吗", "***－****－５６７８", "１２３４"),
    ("my phone is １３８１２３４５６７８", "*******５６７８", "１３８１２３４"),
    ("身份证１１０１０５１９４９１２３１００２Ｘ", "**************００２Ｘ", "１１０１０５"),
    ("卡号６２２２０２１２３４５６７８９０１２８", "***************０１２８", "６２２２"),
    # a resident ID number written in groups
    ("身份证 110105 19491231 002X 丢了", "****** ******** 002X", "19491231"),
    # UnionPay numbers that do not pass Luhn (not all do), with spaces or dashes
    ("银行卡 6222 0212 3456 7890 123 挂失", "**** **** **** ***0 123", "6222 0212"),
    ("card 6222-0212-3456-7890-123 lost", "****-****-****-***0-123", "0212-3456"),
])
def test_personal_data_is_masked_keeping_the_last_4(text, masked, gone):
    out = mask_personal(text)
    assert masked in out and gone not in out, out


@pytest.mark.parametrize("text", [
    "110105194912310021 has a wrong check digit",         # not an ID number: left readable
    "4111111111111112 fails Luhn",
    "order 20261207123456789012 at 1765000000000 ms",     # long order numbers, millisecond timestamps
    "job job_0b95928d64dc398e took 132.9 ms on port 8000",
    "2026-12-07T09:12:46Z 第3条 10000元",
    "第３条 １００００元 ２０２６年１２月７日",                  # full-width numbers that are not personal data
    "4111 1111 1111 1112 fails Luhn and is not UnionPay",
])
def test_what_is_not_personal_data_stays(text):
    assert mask_personal(text) == text


def test_a_log_line_of_the_service_is_masked_through_its_handler(capsys):
    import logging

    from api.observability import setup_logging

    setup_logging(json_lines=True)
    try:
        logging.getLogger("rag.test").warning("question %r from %s", f"身份证{ID}，手机13812345678", "li@x.org")
        try:
            raise ValueError(f"bad card {VISA}")
        except ValueError:
            logging.getLogger("rag.test").exception("failed")
    finally:
        logging.getLogger().handlers[:] = []
    err = capsys.readouterr().err
    assert ID not in err and "13812345678" not in err and VISA not in err and "li@x.org" not in err, err
    assert "002X" in err and "*******5678" in err and "************1111" in err and "***@x.org" in err
