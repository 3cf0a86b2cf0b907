"""A KB's synonyms in its store (`Store.set_meta`, so they travel in archives and are shared by every
replica in cluster mode): read at every request, as the KB's refusal thresholds are. Saved under the KB's
settings lock, not its writer lock (`save_synonyms`): a few KB of settings never wait for an indexing run."""
from __future__ import annotations

import json
import logging
from functools import lru_cache

from rag.synonyms.rules import Rule, Synonyms

log = logging.getLogger(__name__)

META_KEY = "synonyms"  # JSON: [{"terms": [...], "means": [...]}, ...], or {"parts": [key, ...]} for a long list
# Milvus keeps a setting in a VARCHAR of at most 65,535 bytes (indexer.store.milvus.schema.VARCHAR_MAX); a list
# within the bounds of rag.synonyms.rules runs to ~600 KB of JSON. A longer one is kept in parts of at most this
# many characters (4 bytes each at most in UTF-8), under keys named by the rules' digest, then pointed to.
PART_CHARS = 15000


def stored_synonyms(store) -> Synonyms:
    """The KB's synonyms; none when it has none, or when what is stored cannot be read (logged: answers
    go on without them rather than fail)."""
    raw = store.get_meta(META_KEY, "")
    if not raw:
        return Synonyms()
    try:
        if (got := _LAST.get(raw)) is not None:  # a pointer names its parts by digest: what it reads never changes
            return got
        return _cached(raw, _joined(store, raw) if raw.startswith("{") else raw)
    except (ValueError, KeyError, TypeError):
        log.warning("the KB's stored synonyms cannot be read; questions are answered without them (set them "
                    "again with `rag kb synonyms KB --set FILE`)")
        return Synonyms()


_LAST: dict[str, Synonyms] = {}


def _cached(raw: str, rules_json: str) -> Synonyms:
    got = Synonyms.from_json(rules_json)
    if len(_LAST) > 32:
        _LAST.clear()
    _LAST[raw] = got
    return got


def _part_keys(raw: str) -> list[str]:
    return list(json.loads(raw)["parts"]) if raw.startswith("{") else []


def _joined(store, raw: str) -> str:
    parts = [store.get_meta(key, "") for key in _part_keys(raw)]
    if not all(parts):  # replaced while it was read: the next request reads the new list
        raise ValueError("a part of the synonym list is missing")
    return "".join(parts)


def save_synonyms(manager, kb: str, synonyms: Synonyms, lock_timeout: float = 30) -> None:
    """Replace KB `kb`'s synonyms (`manager`: indexer.kbs.KBManager) through a reader of the KB, under its
    settings lock (indexer.store.settings_lock): while it is being indexed too. KBNotFound when there is no
    such KB; KBLockedError when another settings write holds the lock past `lock_timeout` seconds."""
    from indexer.kbs import KBNotFound, check_name
    from indexer.store.settings_lock import settings_lock

    gone = f"knowledge base {kb!r} does not exist; `rag kb list` names the KBs"
    if not manager.exists(kb):
        raise KBNotFound(gone)
    try:
        with settings_lock(manager.home / check_name(kb), manager.uri, lock_timeout):
            store = manager.open(kb)  # opened under the lock: the KB in place now, not one swapped out meanwhile
            try:
                store_synonyms(store, synonyms)
            finally:
                store.close()
    except FileNotFoundError as e:  # deleted meanwhile
        raise KBNotFound(gone) from e


def store_synonyms(store, synonyms: Synonyms) -> None:
    """Replace the KB's synonyms (none: remove them). A long list's parts are written before the key that
    points to them, so a reader sees the old list or the new one; the old list's parts are then emptied."""
    old = _part_keys(store.get_meta(META_KEY, "") or "")
    raw = synonyms.to_json() if synonyms else ""
    keys: list[str] = []
    if len(raw) > PART_CHARS:
        for i in range(0, len(raw), PART_CHARS):
            keys.append(f"{META_KEY}.{synonyms.digest}.{i // PART_CHARS}")
            store.set_meta(keys[-1], raw[i:i + PART_CHARS])
        raw = json.dumps({"parts": keys})
    store.set_meta(META_KEY, raw)
    for key in old:
        if key not in keys:
            store.set_meta(key, "")


def _names_something(tokens: list[str]) -> bool:
    return any(len(t) > 1 for t in tokens)  # "A&E" is ["e"] to the tokenizer: a letter the KB holds says nothing


def documents_first(synonyms: Synonyms, store) -> Synonyms:
    """The rules with each two-way rule's first term (the one its other terms are read as when quotes are
    matched) a term the KB's documents hold, where its written first term is not: "A&E, emergency department"
    reads a question's "emergency department" as "emergency department", as the documents have it, not as
    "A&E". A lead the documents write in traditional characters is written so (`Rule.as_written`). One lookup
    of every term's words (Store.known_terms)."""
    from indexer.script import simplified
    from indexer.tokenize import tokenize

    two_way = [r for r in synonyms.rules if r.two_way]
    if not two_way:
        return synonyms
    words = {t: tokenize(t) for r in two_way for t in r.terms}
    known = store.known_terms(sorted({w for ws in words.values() for w in ws}))

    def held(term: str) -> bool:
        return _names_something(words[term]) and set(words[term]) <= known

    out = []
    for r in synonyms.rules:
        if r.two_way and not held(r.terms[0]) and (first := next((t for t in r.terms if held(t)), None)):
            terms = (first, *(t for t in r.terms if t != first))
            r = Rule(terms, terms, r.as_written or simplified(first) != first)
        out.append(r)
    return Synonyms(tuple(out))


def documents_scripts(synonyms: Synonyms, store) -> Synonyms:
    """The rules with each Chinese term they mean also in the traditional characters the KB's documents write it
    in, where they do (`挂号费, 诊查费` also means "診查費" in a Hong Kong hospital's KB), each such form after its
    term, or before it where the documents hold the form only: BM25 searches a question's terms' meanings in the
    documents' own characters, and a table's row or column is named in them. A one-way rule's first meaning so
    replaced is written as the documents write it (`Rule.as_written`; documents_first leads two-way rules).
    (Terms are found in a text of either script already: rag.synonyms.matcher.) One lookup of every term's and
    form's words (Store.known_terms); a KB in simplified characters holds no form, and its rules stay as they are."""
    forms, words = _written_forms(synonyms)
    if not any(forms.values()):
        return synonyms
    known = store.known_terms(sorted({w for ws in words.values() for w in ws}))

    def held(term: str) -> bool:
        return _names_something(words[term]) and set(words[term]) <= known

    out = []
    for r in synonyms.rules:
        means: list[str] = []
        for t in r.means:
            written = [f for f in forms[t] if held(f) and f not in r.means]
            means += [*written, t] if written and not held(t) else [t, *written]
        if len(means := list(dict.fromkeys(means))) > len(r.means):
            lead = means[0] != r.means[0]
            r = Rule(tuple(means), tuple(means), r.as_written) if r.two_way else Rule(r.terms, tuple(means), lead)
        out.append(r)
    return Synonyms(tuple(out))


@lru_cache(maxsize=8)
def _written_forms(synonyms: Synonyms) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """({each term the rules mean: its traditional forms}, {each of those terms and forms: its words}): the same
    for every KB and every version of it, worked out once a list (~2 s for 5,000 Chinese rules; the KB's own
    lookup, at each change of it, is one query)."""
    from indexer.script import simplified, traditional_forms
    from indexer.tokenize import tokenize

    forms = {t: traditional_forms(simplified(t)) for r in synonyms.rules for t in r.means}
    return forms, {f: tokenize(f) for t, fs in forms.items() if fs for f in (t, *fs)}
