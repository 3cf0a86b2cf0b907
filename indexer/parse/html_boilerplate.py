"""A page's menus, cookie banners, breadcrumbs, share buttons and footers left out, as a reader skips them.

unstructured drops the semantic elements (<nav>, and reads only <main> where a page has one), but CMS
pages build the same chrome from plain <div>s: "首页 | 医院概况 | 新闻中心", "本网站使用Cookie…" and
"版权所有 … 京ICP备…" were indexed as paragraphs, and came back as answers. A container is dropped when a
word of its class or id (split at "-", "_", spaces and camelCase, whole words only: "navy" is not "nav",
"shared" is not "share") or its role is one of:

- nav, navbar, navigation, breadcrumb(s), footer, cookie(s); role navigation, contentinfo, banner;
- banner / bar / notice / popup / modal together with consent ("consent-banner"; "consent-form" stays);
- skip with link / to / nav / content ("skip-link", "skip-to-content"), and a same-page link whose text
  says skip ("Skip to content", "跳到主要内容");
- menu, sidebar and share only when most of their text is link text: a cafeteria's menu, a sidebar with
  the opening hours or a bank's "share-price" box is content.

and, after partitioning, the copyright and ICP licence lines standing at the page's end.

A footer (a footer word, or role contentinfo) keeps the lines a reader comes to it for, its phone numbers,
addresses, e-mail and opening hours (indexer.parse.footer_contacts), as paragraphs in its place; its link
lists and licence lines go. A licence line at the page's end that also holds such a detail stays.

The main content is never dropped: a container holding <main>, <article>, role="main" or the <h1> stays,
and when what would be dropped is more than half of the page's text (or all of it) nothing is.
"""
from __future__ import annotations

import re
from typing import Any

from indexer.parse.footer_contacts import contact_lines, has_contact

_ALWAYS = {"nav", "navbar", "navigation", "breadcrumb", "breadcrumbs", "footer", "cookie", "cookies"}
_MOSTLY_LINKS = {"menu", "sidebar", "share"}
_CONSENT_WITH = {"banner", "bar", "notice", "popup", "modal"}
_SKIP_WITH = {"link", "links", "to", "nav", "content"}
_ROLES = {"navigation", "contentinfo", "banner"}
_FOOTER_WORDS, _FOOTER_ROLE = {"footer"}, "contentinfo"
_KEEP = {"main", "article", "h1"}
_SKIP_TEXT = re.compile(r"^\s*(?:skip\b|跳[到至过转])", re.IGNORECASE)
_UNREAD = ("script", "style", "noscript", "template")
# copyright and licence lines: an ICP licence or public-security filing, or a copyright notice with its
# sign, year or "all rights reserved" ("Copyright of the course notes belongs to ..." is content)
_LICENCE = re.compile(r"ICP[备证]|公网安备|©|\(c\)\s*\d{4}|copyright\s*(?:\(c\)|\d{4})|all rights reserved"
                      r"|版权所有\s*(?:\d{4}|[:：])|保留所有权利", re.IGNORECASE)
_LICENCE_MAX_CHARS = 200


def _words(value: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", value).lower())) - {""}


def _is_chrome(el: Any) -> bool:
    if (el.get("role") or "").strip().lower() in _ROLES:
        return True
    words = _words(f"{el.get('class') or ''} {el.get('id') or ''}")
    if words & _ALWAYS or ("consent" in words and words & _CONSENT_WITH) or ("skip" in words and words & _SKIP_WITH):
        return True
    if words & _MOSTLY_LINKS:
        links = sum(_chars(a) for a in el.iter("a"))
        return links * 2 > _chars(el)
    return el.tag == "a" and (el.get("href") or "").startswith("#") and bool(_SKIP_TEXT.match(el.text_content() or ""))


def _is_footer(el: Any) -> bool:
    role = (el.get("role") or "").strip().lower()
    return role == _FOOTER_ROLE or bool(_words(f"{el.get('class') or ''} {el.get('id') or ''}") & _FOOTER_WORDS)


def _is_licence(text: str) -> bool:
    return bool(_LICENCE.search(text))


def _chars(el: Any) -> int:
    """Characters a reader sees in `el` (its tail aside), spaces and scripts aside."""
    count = _visible(el.text) if el.tag not in _UNREAD else 0
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _UNREAD and el.tag not in _UNREAD:
            count += _chars(child)
        count += _visible(child.tail)
    return count


def _visible(text: str | None) -> int:
    return len("".join(text.split())) if text else 0


def _holds_main(el: Any) -> bool:
    return any(isinstance(n.tag, str) and (n.tag in _KEEP or (n.get("role") or "").lower() == "main")
               for n in el.iter())


def _candidates(el: Any, out: list[Any]) -> None:
    for child in el:
        if not isinstance(child.tag, str) or child.tag in _UNREAD:
            continue
        if _is_chrome(child) and not _holds_main(child):
            out.append(child)
        else:
            _candidates(child, out)


def drop_boilerplate(root: Any) -> bool:
    """Remove the page chrome under `root` (an lxml HTML tree), in place; True if any was removed."""
    scope = next(root.iter("main"), None)
    if scope is None:
        scope = root.find("body") if root.find("body") is not None else root
    found: list[Any] = []
    _candidates(scope, found)
    if not found:
        return False
    kept = [contact_lines(el, _is_licence) if _is_footer(el) else [] for el in found]
    dropped = sum(_chars(el) - sum(_visible(line) for line in lines) for el, lines in zip(found, kept))
    total = _chars(scope)
    if dropped * 2 > total or dropped >= total:
        return False
    for el, lines in zip(found, kept):
        if lines:
            _replace_with_paragraphs(el, lines)
        else:
            el.drop_tree()  # its tail (text after it) stays
    return True


def _replace_with_paragraphs(el: Any, lines: list[str]) -> None:
    """Put a <div> of one <p> per line in the place of `el`, its tail kept."""
    from lxml import html as lxml_html

    div = lxml_html.Element("div")
    for line in lines:
        paragraph = lxml_html.Element("p")
        paragraph.text = line
        div.append(paragraph)
    div.tail = el.tail
    el.getparent().replace(el, div)


def trailing_licence_lines(texts: list[str]) -> int:
    """How many of a page's last elements (their texts, in order) are copyright or licence lines; 0 when
    they would be more than half of the page's text."""
    n = 0
    for text in reversed(texts):
        if text.strip() and (len(text.strip()) > _LICENCE_MAX_CHARS or not _LICENCE.search(text) or has_contact(text)):
            break
        n += 1  # a licence line, or an empty element between them
    dropped = sum(len("".join(t.split())) for t in texts[len(texts) - n:])
    total = sum(len("".join(t.split())) for t in texts)
    return 0 if dropped * 2 > total or dropped >= total else n
