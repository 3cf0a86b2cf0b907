"""WeCom application messages: the XML of callbacks and passive replies, and text within 2048 bytes."""
from __future__ import annotations

import secrets
import time
import xml.etree.ElementTree as ET

from api.channels.core import with_sources
from api.channels.crypto import wecom_encrypt, wecom_signature
from api.channels.split import WECOM_TEXT_BYTES, split_message

WINDOW_S = 3600  # a callback's timestamp may be this far from our clock
MAX_XML = 64 * 1024


def parse_xml(raw: bytes) -> dict[str, str]:
    """The child elements of a flat <xml> document; ValueError for anything else (DTDs refused)."""
    if len(raw) > MAX_XML or b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise ValueError("not a WeCom message")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as e:
        raise ValueError("malformed XML") from e
    return {child.tag: (child.text or "") for child in root}


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def body_text(ans: dict) -> str:
    return with_sources(ans, "\n\nSources:\n", "[{n}] {name}")


def texts(ans: dict, limit: int = WECOM_TEXT_BYTES) -> list[str]:
    return split_message(body_text(ans), limit) or ["…"]


def passive_reply(token: str, aes_key: str, corp_id: str, to_user: str, content: str) -> str:
    now = str(int(time.time()))
    inner = (f"<xml><ToUserName>{cdata(to_user)}</ToUserName><FromUserName>{cdata(corp_id)}</FromUserName>"
             f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
             f"<Content>{cdata(content)}</Content></xml>")
    encrypt = wecom_encrypt(aes_key, inner.encode(), corp_id)
    nonce = secrets.token_hex(8)
    sig = wecom_signature(token, now, nonce, encrypt)
    return (f"<xml><Encrypt>{cdata(encrypt)}</Encrypt><MsgSignature>{cdata(sig)}</MsgSignature>"
            f"<TimeStamp>{now}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>")
