"""Named things and code an answer sentence gives: English capitalised names, Chinese quoted terms, branch
and card names; commands, paths, file names, addresses; quotations. Each must be in a passage shown."""
from __future__ import annotations

import re
import unicodedata

from indexer.script import CJK_RANGES
from rag.answering.markers import MARKER
from rag.answering.verify.facts import normalise, number_facts
from rag.answering.verify.negation import EN_CUE

_CAP_WORD = r"(?:[A-Z][\w'’&.-]*[\w]|[A-Z])"
_CONNECT = r"(?:of|de|la|du|del)"
_NAME_RUN = re.compile(rf"{_CAP_WORD}(?:\s+(?:{_CONNECT}\s+)?{_CAP_WORD})+")
_EDGE_WORDS = frozenset("""a an the our your their its his her my this that these those each every all any no yes
if when with without to from by and or both either for on in at of as you we it they he she i please call visit
note also then there here however but so""".split())
_NOT_NAMES = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march april may
june july august september october november december""".split())
_ZH_QUOTED = re.compile(r"[「“『《\"]([^」”』》\"]{2,30})[」”』》\"]")
ZH_BRANCH = re.compile(r"[\u4e00-\u9fff]{2,4}?(?:分行营业部|营业部|支行|分行)")
_ZH_NOT_NAME = re.compile(r"[本各该此每我贵的在到去和与及或所有其他任一些家个行]")
ZH_PRODUCT = re.compile(r"(?:港湾)?(?:白金卡|(?<!白)金卡|普卡|借记卡|信用卡|社保卡|老年卡|代发工资卡)")


def name_words(text: str) -> list[str]:
    """Words for name matching: lower case, possessive and plural s removed."""
    out = []
    for w in re.findall(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?", text):
        w = re.sub(r"['’]s?$", "", w.lower())
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


def english_names(sentence: str) -> list[str]:
    """Capitalised multi-word names ("Premium Checking", "Harbor Bank"), leading and trailing
    function words removed ("The Harbor Bank" -> "Harbor Bank")."""
    return [name for name, _ in english_name_starts(sentence)]


def english_name_starts(sentence: str) -> list[tuple[str, bool]]:
    """(name, starts the sentence): a sentence's first word is capitalised anyway, so "Call Card
    Services" may be a verb and a name."""
    text = normalise(sentence)
    out = []
    first = re.search(r"[A-Za-z]", text)
    for m in _NAME_RUN.finditer(text):
        run = m.group(0).split()
        words = list(run)
        while words and (words[0].lower() in _EDGE_WORDS or words[0].lower() in _NOT_NAMES):
            words = words[1:]
        while words and (words[-1].lower() in _EDGE_WORDS or words[-1].lower() in _NOT_NAMES):
            words = words[:-1]
        if len(words) >= 2:
            out.append((" ".join(words), first is not None and m.start() == first.start() and words[0] == run[0]))
    return out


# A single capitalised word inside a sentence ("the latest version of Ubuntu", "use Docker"): a name too.
# Not checked at a sentence's or clause's start (after . : ; ! ? ( or a quote), where any word is capitalised.
_CAP_SINGLE = re.compile(r"(?<![\w'’.-])[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_OPENERS = ".:;!?(\"“‘'[\n*-"
# time zones and the like, which a passage writes out or leaves implied ("2 p.m. ET", "Eastern Time")
_NOT_SINGLE = frozenset("et est edt ct cst cdt mt mst mdt pt pst pdt utc gmt cet cest bst am pm us uk eu".split())


def single_names(sentence: str) -> list[str]:
    """Capitalised words inside the sentence that are not part of a multi-word name (`english_names`), an
    amount ("25 US dollars"), a function word, weekday or month, nor the first word of a clause. None in
    a denial: "you cannot buy Bitcoin here" names what the passage leaves out without claiming it."""
    text = normalise(sentence)
    if EN_CUE.search(text):
        return []
    for f in number_facts(text):
        text = text.replace(f.text, " " * len(f.text))
    runs = [m.span() for m in _NAME_RUN.finditer(text)]
    out = []
    for m in _CAP_SINGLE.finditer(text):
        before = text[:m.start()].rstrip()
        if not before or before[-1] in _OPENERS or any(a <= m.start() < b for a, b in runs):
            continue
        word = m.group(0)
        low = word.lower()
        if word == "I" or low in _EDGE_WORDS or low in _NOT_SINGLE or low in _NOT_NAMES or low[:-1] in _NOT_NAMES:
            continue
        out.append(word)
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------------------------------------- code
# Commands, packages, file names and paths an answer tells the user to type. A small model invents them
# ("sudo apt-get install deabi-debian", "/etc/init.d/init.d/font-fontset-1.0.0"), and a wrong one is
# worse than none: each must be in the cited passage (or another passage shown), spaces aside.
_CODE_SPAN = re.compile(r"`{1,3}([^`]{1,300})`{1,3}")
_COMMAND = re.compile(r"(?:^|(?<=\s)|(?<=[(\"“']))(?:\$\s*)?(?:sudo|apt-get|apt|aptitude|dpkg(?:-[a-z]+)?|pip3?|yum|dnf|"
                      r"systemctl|service|git|curl|wget|chmod|chown|ln|mkdir|cd|cp|mv|rm)\s+[^\n;]{1,200}")
_PATH = re.compile(r"(?<![\w/.:])~?/[\w.+-]+(?:/[\w.+-]+)*/?")
_FILE = re.compile(r"(?<![\w./@-])[A-Za-z][\w+-]*(?:\.[A-Za-z0-9][\w+-]*)*\.(?:[a-z]{1,4}\d?|d)(?![\w/-])")
_UNDERSCORED = re.compile(r"(?<![\w./-])[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+(?![\w-])")
_ARG = re.compile(r"(?<![\w./-])[A-Za-z0-9][\w.+:~-]*[A-Za-z0-9](?![\w/-])")
_NOT_FILES = frozenset("e.g i.e a.m p.m etc vs u.s u.k".split())
# web and e-mail addresses: an invented one sends a bank's customer to a site or mailbox nobody vouches for
# (NFKC has made '，' ','; CJK text may follow an address with no space between)
ADDRESS = re.compile(r"(?:https?://\s?|www\.)[^\s<>\"'“”‘’()\[\],;!\u3000-\u9fff\uff00-\uffef]+"
                      r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def code_terms(sentence: str) -> list[str]:
    """What the sentence gives to type or visit: web and e-mail addresses, paths, file names (papersize.d,
    foo.deb), snake_case names, and the hyphenated or dotted words of a command ("sudo apt-get install
    deabi-debian": apt-get, deabi-debian) or of a `code span`. Options ("-y"), plain words and numbers
    are not code terms."""
    text = MARKER.sub(" ", unicodedata.normalize("NFKC", sentence))
    found: list[str] = []
    for m in ADDRESS.finditer(text):  # as a passage may write it: with or without its scheme and end '/'
        address = re.sub(r"^https?://\s?", "", m.group(0)).rstrip("/.,;:!?-")
        if "." in address:
            found.append(address)
    text = ADDRESS.sub(" ", text)  # its parts are no paths or file names of their own
    for m in _PATH.finditer(text):
        if m.group(0).strip("/"):
            found.append(m.group(0).rstrip("/."))
    for m in _FILE.finditer(text):
        word = m.group(0)
        if word.lower().rstrip(".") not in _NOT_FILES and not re.fullmatch(r"[A-Za-z]\.[A-Za-z]", word):
            found.append(word)
    found += [m.group(0) for m in _UNDERSCORED.finditer(text)]
    spans = [m.group(1) for m in _CODE_SPAN.finditer(text)] + [m.group(0) for m in _COMMAND.finditer(text)]
    for span in spans:
        for m in _ARG.finditer(span):
            word = m.group(0)
            if re.search(r"[-._]", word) and re.search(r"[A-Za-z]", word) and not span[:m.start()].endswith("-"):
                found.append(word)
    return [t for t in dict.fromkeys(found) if not any(t != u and t in u for u in found)]


# text in double quotation marks: a label to find ("the "Reset" button") or words said to be the
# passage's own ("The passage states that "..."") must be a passage's, word for word
_QUOTED = re.compile(r"[\"“”„]([^\"“”„\n]{1,400})[\"“”]|「([^」\n]{1,400})」|『([^』\n]{1,400})』")


def quotations(sentence: str) -> list[str]:
    """The sentence's quotations that hold a word (letters or a Chinese character), without the
    punctuation at their ends; citation markers left out."""
    text = MARKER.sub(" ", unicodedata.normalize("NFKC", sentence))
    out = []
    for m in _QUOTED.finditer(text):
        body = next(g for g in m.groups() if g is not None).strip(" \t.,;:!?。，；：！？…'")
        if re.search(r"[A-Za-z\u4e00-\u9fff]", body):
            out.append(body)
    return out


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def compact_form(text: str) -> str:
    """`normalise`d, without white space, lower case: commands, paths and Chinese names are found in it."""
    return normalise(text).replace(" ", "").lower()


def _in_order(name: list[str], words: list[str], max_gap: int = 2) -> bool:
    """The name's words occur in `words` in order, at most `max_gap` other words between two of them."""
    if not name:
        return True
    for start in (i for i, w in enumerate(words) if w == name[0]):
        pos, ok = start, True
        for w in name[1:]:
            nxt = next((j for j in range(pos + 1, min(len(words), pos + 2 + max_gap)) if words[j] == w), None)
            if nxt is None:
                ok = False
                break
            pos = nxt
        if ok:
            return True
    return False


def name_found(name: list[str], words: list[str]) -> bool:
    """Found whole, or as names of the passage run together ("Harbor Bank Premier Checking"): a split
    into pieces of two or more words, each found."""
    n = len(name)
    ok = [True] + [False] * n  # ok[i]: name[:i] can be split into found pieces
    for i in range(2, n + 1):
        ok[i] = any(ok[j] and _in_order(name[j:i], words) for j in range(0, i - 1))
    return ok[n]


def zh_names(sentence: str) -> list[str]:
    text = normalise(sentence)
    out = [m.group(1).strip() for m in _ZH_QUOTED.finditer(text) if re.search(f"[{CJK_RANGES}]", m.group(1))]
    for m in ZH_BRANCH.finditer(text):
        if not _ZH_NOT_NAME.search(branch_core(m.group(0))[:2]):  # "各支行", "本行所有分行": no branch named
            out.append(m.group(0))
    out += [m.group(0) for m in ZH_PRODUCT.finditer(text)]
    return list(dict.fromkeys(out))


def branch_core(name: str) -> str:
    """A branch's own name: the suffix and the two characters before it ("上海静安支行" -> "静安支行")."""
    suffix = re.search(r"(?:分行营业部|营业部|支行|分行)$", name).group(0)
    return name[-len(suffix) - 2:]


def zh_name_found(name: str, compact: str) -> bool:
    """`compact`: the passage's `compact_form` form."""
    name = compact_form(name)
    if ZH_BRANCH.fullmatch(name):
        return branch_core(name) in compact
    if ZH_PRODUCT.fullmatch(name):
        short = re.sub(r"^港湾", "", name)
        return bool(re.search(("(?<!白)" if short == "金卡" else "") + re.escape(short), compact))
    return name in compact
