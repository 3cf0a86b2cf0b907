"""WeCom application messages: the XML of callbacks and passive replies, and text within 2048 bytes."""
from __future__ import annotations

import secrets
import time
from xml.parsers import expat

from pydantic import BaseModel, ConfigDict, Field

from api.channels.core import with_sources
from api.channels.crypto import wecom_encrypt, wecom_signature
from api.channels.split import WECOM_TEXT_BYTES, split_message

WINDOW_S = 3600  # a callback's timestamp may be this far from our clock
MAX_XML = 64 * 1024
ID_CHARS = 256   # user ids and message ids, as the replay memory, the rate limiter and the history key them


class XmlRefused(ValueError):
    """XML the service does not read: `status` and `code` are what the caller gets."""
    status, code = 422, "invalid_request"


class DtdRefused(XmlRefused):
    """A document type declaration (<!DOCTYPE>, with or without entities): never parsed (XXE, entity bombs)."""
    code = "dtd_refused"


class XmlTooLarge(XmlRefused):
    status, code = 413, "too_large"


class _Fields:
    """Expat callbacks collecting the children of the root element: a leaf's text as a string, an
    element with children as a dict of its children's text (never a string, so a typed field refuses it)."""

    def __init__(self, what: str):
        self.what, self.depth = what, 0
        self.fields: dict[str, str | dict[str, str]] = {}
        self.tag, self.sub = "", ""
        self.text: list[str] = []
        self.subtext: list[str] = []
        self.children: dict[str, str] | None = None

    def start(self, tag: str, _attrs) -> None:
        self.depth += 1
        if self.depth == 2:
            self.tag, self.text, self.children = tag, [], None
        elif self.depth == 3:
            self.children = self.children if self.children is not None else {}
            self.sub, self.subtext = tag, []

    def end(self, _tag: str) -> None:
        if self.depth == 2:
            self.fields[self.tag] = self.children if self.children is not None else "".join(self.text)
        elif self.depth == 3 and self.children is not None:
            self.children[self.sub] = "".join(self.subtext)
        self.depth -= 1

    def chars(self, data: str) -> None:
        if self.depth == 2:
            self.text.append(data)
        elif self.depth == 3:
            self.subtext.append(data)

    def dtd(self, *_) -> None:
        raise DtdRefused(f"{self.what} holds a DTD (<!DOCTYPE>), which is refused (XML entities are never expanded)")


def parse_xml(raw: bytes, what: str = "the message") -> dict[str, str | dict[str, str]]:
    """The child elements of an <xml> document (a flat WeCom message): DtdRefused for a document type
    declaration, found by the parser whatever the encoding (a "<!DOCTYPE" inside a CDATA text is text);
    XmlTooLarge over 64 KB; XmlRefused for XML that is not well-formed. `what` names the document in
    the messages."""
    if len(raw) > MAX_XML:
        raise XmlTooLarge(f"{what} is over {MAX_XML} bytes")
    got = _Fields(what)
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = got.dtd
    parser.EntityDeclHandler = got.dtd
    parser.StartElementHandler, parser.EndElementHandler = got.start, got.end
    parser.CharacterDataHandler = got.chars
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as e:
        raise XmlRefused(f"{what} is not well-formed XML ({expat.ErrorString(e.code)}, line {e.lineno})") from e
    return got.fields


class Envelope(BaseModel):
    """The callback body: the encrypted message (other fields, ToUserName and AgentID, are not trusted:
    the decrypted message says who it is for)."""
    model_config = ConfigDict(extra="ignore")
    Encrypt: str = ""


# what staff send instead of typing: answered with core.TEXT_ONLY (events, such as entering the app, are not)
MEDIA = frozenset({"image", "voice", "video", "shortvideo", "file", "location", "link"})


class Message(BaseModel):
    """The fields of a decrypted application message that the service reads, each a text element; the
    others (and those of non-text messages and events) are ignored. A wrong shape is a 422."""
    model_config = ConfigDict(extra="ignore")
    MsgType: str = Field("", max_length=64)
    Content: str = ""  # its length is the question's limit (RAG_MAX_QUESTION_CHARS), said in the chat
    FromUserName: str = Field("", max_length=ID_CHARS)
    MsgId: str = Field("", max_length=ID_CHARS)

    @property
    def question(self) -> str:
        return self.Content.strip() if self.MsgType == "text" else ""


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
