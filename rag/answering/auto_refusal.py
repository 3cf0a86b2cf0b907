"""Automatic refusal threshold: a knowledge base calibrates its own threshold when it is built or
changed, so refusal works without `rag tune refusal`.

Probes (no LLM, no labels):

* answerable: questions made from the KB's own content, from up to `max_chunks` chunks sampled with
  a fixed seed: the chunk's section title turned into a question ("Replacement cards" -> "What
  should I know about replacement cards?"), the first FAQ-style question line found in the chunk,
  and a question written from one of its statement sentences by fixed templates ("You can lock your
  card in the app." -> "Can I lock my card in the app?"; "临时挂失有效期为5天。" -> "临时挂失有效期是多少？").
  A probe with fewer than 2-3 words of its own (template words aside) is dropped, and so is one whose
  own passage (its chunk, or its section of the same document) does not come back in the top_k hits:
  a question retrieval cannot route back to its source is ambiguous, not a sample of what the KB
  answers (rag.adapt.synth filters its drafted questions the same way);
* unanswerable: the calibration part of the packaged bilingual off-topic set (off_topic.jsonl:
  general-knowledge, chit-chat and other-domain questions, English and Chinese). Every 5th question
  of each language (in file order: 0-based index % 5 == 4) is held out, never used to calibrate, to
  measure how many unseen off-topic questions are refused (`off_topic("heldout")`, docs/refusal.md).

Both go through the answering path's evidence score (rag.answering.refusal.answer_hits: retrieve,
rerank when a reranker runs, best score of the top_k hits). Each question language gets its own
threshold (`choose_thresholds`: the scales differ by language): the lowest one that refuses
`refuse_target` (95%) of that language's off-topic probes, capped so that `min_answered` (85%) of
its answerable probes are still answered (`choose_threshold`). Probes are at least as hard as real
questions (a template keeps only part of a sentence's words; on the sample KB and the Debian FAQ
real questions score higher than the probes), so 85% of the probes stands for more than 90% of real
questions; docs/refusal.md has the measurements.

It is stored in the KB (`store.set_meta`: refusal.LANG_KEY per language, refusal.META_KEY the lowest
of them, with refusal.SOURCE_KEY = "auto"). A
threshold set by `rag tune refusal` (source "tuned", or one stored before sources existed) is never
overwritten. rag.adapt.tune_refusal.recalibrate, which builds the retriever and calls `auto_calibrate`,
is what `rag index` and the service's indexing jobs call after a KB changed.

Cost: one retrieval per probe (a few hundred); encoding the questions dominates (e5's int8 forward
runs text by text), so the off-topic questions' vectors are kept per encoder in the process and on
disk (`cache_dir()`, checked against a fresh encoding of a few of them before use).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from indexer.atomic import atomic_target
from indexer.script import is_cjk, language
from indexer.tokenize import count_tokens, tokenize
from rag.answering.refusal import (
    AUTO,
    LANG_KEY,
    META_KEY,
    SOURCE_KEY,
    TUNED,
    Calibration,
    answer_hits,
    evidence,
    threshold_source,
)
from rag.text import good_sentence, is_table_row, prose_sentences

log = logging.getLogger("rag.refusal")

OFF_TOPIC_FILE = Path(__file__).with_name("off_topic.jsonl")
HOLDOUT_EVERY = 5                           # every 5th off-topic question of a language is held out
GENERATION_KEY = "refusal_auto_generation"  # the KB's cache_generation() the automatic threshold was computed at
EVIDENCE_KEY = "refusal_auto_evidence"      # ... and what its evidence was (evidence_kind): a reranker switched on
                                            # or off changes the scale, and the threshold is calibrated again
REPORT_KEY = "refusal_auto_report"          # JSON: the last automatic calibration's figures
TEMPLATES_PER_CHUNK = 3                     # template questions per sampled chunk: one alone made the 15th
                                            # percentile of a small KB's probes swing with the seed
MIN_PROBES = 10                             # fewer answerable probes than this: no automatic threshold


# ---- the packaged off-topic questions ----------------------------------------------------------------
@dataclass(frozen=True)
class OffTopic:
    text: str
    lang: str        # "en" | "zh"
    topic: str
    held_out: bool   # never used for calibration


@cache
def _off_topic_all() -> tuple[OffTopic, ...]:
    out, count = [], {}
    for line in OFF_TOPIC_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            i = count[row["lang"]] = count.get(row["lang"], -1) + 1
            out.append(OffTopic(row["text"], row["lang"], row.get("topic", ""),
                                i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1))
    return tuple(out)


def off_topic(split: str = "calibration", lang: str | None = None) -> list[str]:
    """The packaged off-topic questions: split "calibration" (4 in 5), "heldout" (every 5th: for
    measuring only) or "all"; lang "en" | "zh" | None (both)."""
    if split not in ("calibration", "heldout", "all"):
        raise ValueError(f"unknown split {split!r}: calibration, heldout or all")
    return [q.text for q in _off_topic_all() if (lang is None or q.lang == lang)
            and (split == "all" or q.held_out == (split == "heldout"))]


# ---- answerable probes from the KB's own content ------------------------------------------------------
@dataclass
class Probe:
    text: str
    kind: str        # "title" | "faq" | "template"
    chunk_id: str
    doc_id: str = ""
    title: str = ""  # the chunk's section path: a hit from the same section of the same document routes back


_NUMBERING = re.compile(r"^\s*(?:\d+(?:\.\d+)*[.)、:：]?(?=\s|$|[^\d.])|[一二三四五六七八九十]+[、.．]"
                        r"|第[一二三四五六七八九十\d]+[章节条部分]|[(（][一二三四五六七八九十\d]+[)）]|[A-Za-z][.)](?=\s))\s*")
_QUESTION_END = ("?", "？")


def _strip_numbering(text: str) -> str:
    return _NUMBERING.sub("", text.strip()).strip(" \t-*#>|•·:：")


def _lower_first(s: str) -> str:
    """Lower-case the first letter of a phrase put inside a question, not of an acronym ("ATM fees")."""
    return s[:1].lower() + s[1:] if s[:2] != s[:2].upper() else s


_YOU = [(re.compile(r"\byou are\b", re.I), "I am"), (re.compile(r"\byou're\b", re.I), "I'm"),
        (re.compile(r"\byourself\b", re.I), "myself"), (re.compile(r"\byours\b", re.I), "mine"),
        (re.compile(r"\byour\b", re.I), "my"),
        (re.compile(r"(^|\b(?:if|when|and|or|that|unless|before|after|once|until|while|so|because) )you\b", re.I),
         r"\1I"),
        (re.compile(r"\byou\b", re.I), "me")]


def _first_person(s: str) -> str:
    """The reader asks: "your card" -> "my card", "if you lose it" -> "if I lose it", "tell you" -> "tell me"."""
    for pat, rep in _YOU:
        s = pat.sub(rep, s)
    return s


_TRAILING = frozenset("a an the to of for with and or in on at by from as that which who your our their its is are be "
                      "not no than into".split())


def _clause(s: str, words: int) -> str:
    """The sentence's first clause, at most `words` words, without its final punctuation or a
    dangling last word ("... a web browser with the" -> "... a web browser")."""
    head = re.split(r"[,;:(]|\s[-–]\s", s, maxsplit=1)[0].split()[:words]
    while len(head) > 1 and head[-1].lower().strip(".!?") in _TRAILING:
        head.pop()
    return " ".join(head).rstrip(" .!?")


_SUBJECT = r"((?:the|a|an|your|our|each|every|all|this|these|any) (?:[\w'/-]+ ){0,4}?[\w'/-]+)"
_NAMED = (r"((?!(?i:it|this|that|these|those|there|they|we|you|he|she|here|if|when|for|to|in|on|at)\b)[A-Z][\w'/-]*"
          r"(?: [\w'/-]+){0,4}?)")
_WHO = r"(?:you|customers|members|users|clients|applicants|borrowers)"
_AUX = {"is": "Is", "are": "Are", "can": "Can", "will": "Will", "may": "May", "must": "Must", "should": "Should"}
_EN_RULES: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (re.compile(r"^if (?:you|your) [^,]{6,90}?(?=,)", re.I),
     lambda m: f"What should I do if {_first_person(m.group(0)[3:])}?"),
    (re.compile(rf"^{_WHO} (?:can|may) (.{{6,}})", re.I),
     lambda m: f"Can I {_first_person(_clause(m.group(1), 14))}?"),
    (re.compile(rf"^{_WHO} (?:must|should|need to|have to) (.{{6,}})", re.I),
     lambda m: f"Do I need to {_first_person(_clause(m.group(1), 14))}?"),
    (re.compile(r"^we (will|can|may|must|should) (?:not |never )?(.{6,})", re.I),
     lambda m: f"{_AUX[m.group(1).lower()]} you {_first_person(_clause(m.group(2), 14))}?"),
    (re.compile(r"^we (?:(?:do not|don't|never|usually|normally|also|only|generally|always) )?([a-z]+?)(?:e?s)? (.{6,})",
                re.I),
     lambda m: f"Do you {m.group(1).lower()} {_first_person(_clause(m.group(2), 12))}?"),
    (re.compile(rf"^{_SUBJECT} (?:costs?|is charged|are charged)\b", re.I),
     lambda m: f"How much does {_first_person(_lower_first(m.group(1)))} cost?"),
    (re.compile(rf"^{_SUBJECT} (?:takes?|lasts?)\b", re.I),
     lambda m: f"How long does {_first_person(_lower_first(m.group(1)))} take?"),
    (re.compile(rf"^{_SUBJECT} (is|are|was|were)\b", re.I),
     lambda m: f"What {m.group(2).lower()} {_first_person(_lower_first(m.group(1)))}?"),
    (re.compile(rf"^{_NAMED} (is|are|can|will|may|must|should) (?:not )?(.{{4,}})"),
     lambda m: f"{_AUX[m.group(2)]} {_first_person(m.group(1))} {_first_person(_clause(m.group(3), 12))}?"),
    (re.compile(rf"^{_NAMED} (has|have) (.{{4,}})"),
     lambda m: f"{'Does' if m.group(2) == 'has' else 'Do'} {_first_person(m.group(1))} have "
               f"{_first_person(_clause(m.group(3), 12))}?"),
]
_ZH_RULES: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (re.compile(r"^(?:如果|若|假如|一旦)([^，,。；]{3,30})[，,]"), lambda m: f"如果{m.group(1)}，该怎么办？"),
    (re.compile(r"^([^，,。；]{0,16}?)可以([^，,。；]{3,30})"), lambda m: f"{m.group(1)}可以{m.group(2)}吗？"),
    (re.compile(r"^([^，,。；]{0,16}?)(?:需要|必须|应当)([^，,。；]{3,30})"), lambda m: f"{m.group(1)}需要{m.group(2)}吗？"),
    (re.compile(r"^([^，,。；]{2,20}?)(?:为|是|收取|收费)[^，,。；]*\d"), lambda m: f"{m.group(1)}是多少？"),
    (re.compile(r"^([^，,。；]{2,20}?)是(?!否)"), lambda m: f"{m.group(1)}是什么？"),
]
_EN_FALLBACK, _ZH_FALLBACK = "What about {}?", "{}是怎么规定的？"
_TITLE_EN, _TITLE_ZH = "What should I know about {}?", "关于{}，有哪些规定？"
# words the templates add: a probe needs words of its own besides these
@cache  # made on first use: its Chinese words load jieba
def _template_words() -> frozenset[str]:
    return frozenset(tokenize(" ".join([
        "What should I do if Can I Do I need to How much does cost How long does take What is are was were",
        "Will Can May Must Should you Do you Does Do have",
        _EN_FALLBACK, _TITLE_EN, "如果，该怎么办？ 可以吗？ 需要吗？ 是多少？ 是什么？", _ZH_FALLBACK, _TITLE_ZH]).replace("{}", " ")))


def own_words(question: str) -> int:
    """Content words of a probe that its template did not add."""
    return len(set(tokenize(question)) - _template_words())


def template_question(sentence: str) -> str | None:
    """A question a reader might ask, written from one statement sentence by fixed templates (None
    for a sentence too short to make one)."""
    s = _strip_numbering(sentence)
    if is_cjk(s):
        s = s.rstrip("。！；!;")
        for pat, make in _ZH_RULES:
            m = pat.search(s)
            if m:
                return make(m)
        head = re.split(r"[，,：:；]", s, maxsplit=1)[0]
        return _ZH_FALLBACK.format(head) if count_tokens(head) >= 4 else None
    for pat, make in _EN_RULES:
        m = pat.search(s)
        if m:
            return make(m)
    head = _clause(s, 10)
    return _EN_FALLBACK.format(_lower_first(head)) if count_tokens(head) >= 3 else None


def title_question(title: str) -> str | None:
    """The last part of a chunk's section path ("Doc > Section") turned into a question."""
    leaf = _strip_numbering(title.rsplit(">", 1)[-1])
    if not leaf or count_tokens(leaf) > 30:
        return None
    if leaf.endswith(_QUESTION_END):
        return leaf
    return _TITLE_ZH.format(leaf) if is_cjk(leaf) else _TITLE_EN.format(_lower_first(leaf))


def faq_questions(text: str) -> list[str]:
    """Question lines in a chunk ("How do I ...?", "如何……？"): FAQ pages ask their own questions."""
    out = []
    for s in prose_sentences(text):
        q = _strip_numbering(s)
        if q.endswith(_QUESTION_END) and 3 <= count_tokens(q) <= 40 and not is_table_row(q) and "..." not in q:
            out.append(q)
    return out


def sample_chunks(store, n: int, rng: random.Random) -> list:
    """Up to n chunks of the store, uniformly at random: only the documents they belong to are read."""
    # ordered by content, not by doc_id (a hash of the file's path): the same documents give the same
    # sample wherever they were indexed from
    docs = sorted(store.documents(), key=lambda d: (d.content_hash, d.doc_id))
    slots = [(d.doc_id, i) for d in docs for i in range(d.chunks)]
    picked = rng.sample(slots, min(n, len(slots)))
    wanted: dict[str, set[int]] = {}
    for doc_id, i in picked:
        wanted.setdefault(doc_id, set()).add(i)
    found = {}
    for doc_id, ordinals in wanted.items():
        for i, c in enumerate(store.doc_chunks(doc_id)):
            if i in ordinals:
                found[(doc_id, i)] = c
    return [found[p] for p in picked if p in found]


def build_probes(store, max_chunks: int = 200, max_probes: int = 150, seed: int = 13) -> list[Probe]:
    """Answerable probes from up to `max_chunks` chunks (seeded sample): per chunk one title question
    (each title once), its first FAQ question line and one template question from a statement
    sentence, each with enough words of its own; at most `max_probes` in all (seeded sample)."""
    rng = random.Random(seed)
    out: list[Probe] = []
    seen: set[str] = set()

    def add(text: str | None, kind: str, c, min_words: int) -> None:
        if text and text not in seen and own_words(text) >= min_words:
            seen.add(text)
            out.append(Probe(text, kind, c.chunk_id, c.doc_id, c.title))

    for c in sample_chunks(store, max_chunks, rng):
        add(title_question(c.title) if c.title else None, "title", c, 2)
        faq = faq_questions(c.text)
        add(faq[0] if faq else None, "faq", c, 2)
        sents = [s for s in prose_sentences(c.text) if good_sentence(s) and not s.endswith(_QUESTION_END)]
        rng.shuffle(sents)
        made = [q for q in map(template_question, sents) if q and own_words(q) >= 3]
        for q in made[:TEMPLATES_PER_CHUNK]:
            add(q, "template", c, 3)
    if len(out) > max_probes:
        out = [out[i] for i in sorted(rng.sample(range(len(out)), max_probes))]
    return out


def routes_back(probe: Probe, hits) -> bool:
    """Retrieval finds the probe's source: its chunk, or its section of the same document."""
    return any(h.chunk_id == probe.chunk_id or (h.doc_id == probe.doc_id and h.title == probe.title) for h in hits)


# ---- the off-topic questions' vectors, per encoder ------------------------------------------------------
_MEMORY: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CHECK = 3  # cached vectors are used only when these many, encoded afresh, match them


def cache_dir() -> Path:
    """Where off-topic query vectors are kept between runs: $RAG_REFUSAL_CACHE, else ~/.cache/rag/refusal."""
    if os.environ.get("RAG_REFUSAL_CACHE"):
        return Path(os.environ["RAG_REFUSAL_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag" / "refusal"


def off_topic_vectors(encoder, questions: list[str], batch_size: int = 32) -> dict[str, np.ndarray]:
    """Query vectors of the off-topic questions: from this process's memory, else the disk cache
    (when a few of them encoded afresh match), else encoded now (and cached)."""
    try:
        mem = _MEMORY.setdefault(encoder, {})
    except TypeError:  # an encoder that takes no weak references: no memory
        mem = {}
    if all(q in mem for q in questions):
        return mem
    name = re.sub(r"[^\w.+-]", "_", str(getattr(encoder, "name", type(encoder).__name__)))
    key = hashlib.sha1("\n".join([name, type(encoder).__name__, *questions]).encode()).hexdigest()[:16]
    path = cache_dir() / f"{name}-{key}.npy"
    vectors = None
    try:
        cached = np.load(path)
        probe = [0, len(questions) // 2, len(questions) - 1][:_CHECK]
        fresh = encoder.encode_queries([questions[i] for i in probe])
        old = cached[probe]
        cos = np.sum(old * fresh, axis=1) / (np.linalg.norm(old, axis=1) * np.linalg.norm(fresh, axis=1))
        if cached.shape == (len(questions), fresh.shape[1]) and float(np.min(cos)) > 0.99999:
            vectors = cached
    except (OSError, ValueError, IndexError):
        pass
    if vectors is None:
        vectors = np.concatenate([encoder.encode_queries(questions[i:i + batch_size])
                                  for i in range(0, len(questions), batch_size)])
        try:
            with atomic_target(path, sync=False) as tmp:  # a cache: a lost write costs one encoding
                np.save(tmp, vectors)
        except OSError:
            log.debug("could not cache off-topic vectors at %s", path, exc_info=True)
    mem.update(zip(questions, vectors))
    return mem


# ---- calibration --------------------------------------------------------------------------------------
@dataclass
class AutoCalibration(Calibration):
    """A Calibration on the KB's own probes (answerable_kept / unanswerable_refused: shares of the
    probes), with how it was made."""
    answerable: int = 0          # answerable probes scored (after the routes-back filter)
    probes_built: int = 0        # ... before it
    unanswerable: int = 0        # off-topic probes scored (the calibration part)
    seconds: float = 0.0
    stored: bool = False         # written to the KB as its automatic threshold
    note: str = ""               # why it was not stored
    by_language: dict[str, float] = field(default_factory=dict)  # the threshold per question language
    scores: dict[str, list[float]] = field(default_factory=dict, repr=False)  # "answerable" / "unanswerable"

    def line(self) -> str:
        what = "stored" if self.stored else self.note
        each = ", ".join(f"{k} {v:.4f}" for k, v in sorted(self.by_language.items()))
        return (f"refusal threshold {each or f'{self.threshold:.4f}'} ({what}): {self.answerable} answerable probes, "
                f"{self.answerable_kept:.0%} answered; {self.unanswerable} off-topic, {self.unanswerable_refused:.0%} "
                f"refused; {self.seconds:.1f} s")

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("scores", "note")}


def _lowest_to_refuse(u: np.ndarray, share: float) -> float:
    """The lowest threshold below which at least `share` of the sorted scores `u` fall."""
    n = min(len(u), max(1, int(np.ceil(share * len(u) - 1e-9))))
    above = u[u > u[n - 1]]  # ties with the n-th score are refused with it
    return float((u[n - 1] + above[0]) / 2 if len(above) else u[-1] + 1e-6)


def _highest_to_answer(a: np.ndarray, share: float) -> float:
    """The highest threshold at or above which at least `share` of the sorted scores `a` stay."""
    n = min(len(a), max(1, int(np.ceil(share * len(a) - 1e-9))))
    return float((a[-n] + a[-n - 1]) / 2 if n < len(a) else a[0] - 1e-6)


def choose_threshold(answerable: list[float], unanswerable: list[float], min_answered: float = 0.85,
                     refuse_target: float = 0.95) -> Calibration:
    """The lowest threshold that refuses `refuse_target` of the unanswerable scores, capped so that at
    least `min_answered` of the answerable ones are still answered: a wrong refusal costs more than a
    weak answer, which citation checks and the model's own refusal still catch."""
    a = np.sort(np.asarray([x for x in answerable if np.isfinite(x)], float))
    u = np.sort(np.asarray([x for x in unanswerable if np.isfinite(x)], float))
    if not len(a) or not len(u):
        raise ValueError("calibration needs answerable and unanswerable questions that retrieve something")
    t = min(_lowest_to_refuse(u, refuse_target), _highest_to_answer(a, min_answered))
    kept, refused = float((a >= t).mean()), float((u < t).mean())
    return Calibration(t, (kept + refused) / 2, kept, refused)


def choose_thresholds(answerable: list[float], answerable_langs: list[str], unanswerable: list[float],
                      unanswerable_langs: list[str], min_answered: float = 0.85, refuse_target: float = 0.95,
                      min_group: int = MIN_PROBES) -> tuple[Calibration, dict[str, float]]:
    """One threshold per question language (`choose_threshold` on that language's probes): the
    evidence scale differs by language (with 'e5+minilm' an English question is scored by both
    models, a Chinese one by e5 alone, whose cosines run higher), so one threshold for both either
    answers Chinese off-topic questions or refuses English ones the KB answers. A language with
    fewer than `min_group` answerable probes (English questions on a Chinese KB) gets the lowest
    threshold refusing `refuse_target` of its off-topic questions, uncapped.

    Returns the calibration's figures over all probes (threshold: the lowest of the languages') and
    the thresholds by language."""
    by_language: dict[str, float] = {}
    for lang in sorted(set(unanswerable_langs)):
        u = [x for x, g in zip(unanswerable, unanswerable_langs) if g == lang]
        a = [x for x, g in zip(answerable, answerable_langs) if g == lang and np.isfinite(x)]
        finite = np.sort(np.asarray([x for x in u if np.isfinite(x)], float))
        if not len(finite):
            continue
        by_language[lang] = (choose_threshold(a, u, min_answered, refuse_target).threshold if len(a) >= min_group
                             else _lowest_to_refuse(finite, refuse_target))
    if not by_language or not any(np.isfinite(answerable)):
        raise ValueError("calibration needs answerable and unanswerable questions that retrieve something")
    lowest = min(by_language.values())
    a_t = [by_language.get(g, lowest) for g in answerable_langs]
    u_t = [by_language.get(g, lowest) for g in unanswerable_langs]
    kept = float(np.mean([x >= t for x, t in zip(answerable, a_t)]))
    refused = float(np.mean([x < t for x, t in zip(unanswerable, u_t)]))
    return Calibration(lowest, (kept + refused) / 2, kept, refused), by_language


def evidence_kind(store, reranker=None) -> str:
    """What the evidence score of this KB's answers is: the reranker's score, or the embedding model's
    cosine (refusal.evidence). A threshold is only meaningful for the kind it was calibrated on."""
    if reranker:
        return "rerank:" + str(getattr(reranker, "model_path", type(reranker).__name__))
    return "dense:" + str(getattr(store, "embed_model", ""))


def auto_calibrate(pipeline_or_retriever, store=None, *, max_chunks: int = 200, max_probes: int = 150,
                   seed: int = 13, min_answered: float = 0.85, refuse_target: float = 0.95,
                   store_in_kb: bool = True, replace_tuned: bool = False, reranker=None, top_k: int | None = None,
                   progress: Callable[[str], None] | None = None) -> AutoCalibration:
    """Calibrate the refusal threshold of `store`'s KB on its own probes (see the module doc) and,
    with store_in_kb, store it as the KB's automatic threshold unless a tuned one is there (which only
    `replace_tuned`, `rag tune refusal --auto`, replaces).

    `pipeline_or_retriever`: a rag.pipeline.Pipeline (its retriever, reranker and top_k: the answering
    path), or a retriever (+ `reranker`, `top_k`). `store` defaults to the retriever's.
    `progress`: called with one line before the probes run ("calibrating refusal on N probes...").
    Raises ValueError when the KB has too little content to make MIN_PROBES probes from."""
    t0 = time.perf_counter()
    retriever = getattr(pipeline_or_retriever, "retriever", pipeline_or_retriever)
    store = store if store is not None else retriever.store
    probes = build_probes(store, max_chunks, max_probes, seed)
    if len(probes) < MIN_PROBES:
        raise ValueError(f"the knowledge base has too little content to calibrate refusal on "
                         f"({len(probes)} probes, {MIN_PROBES} needed)")
    negatives = off_topic("calibration")
    if progress:
        progress(f"calibrating refusal on {len(probes) + len(negatives)} probes "
                 f"({len(probes)} from the KB, {len(negatives)} off-topic)...")
    encoder = getattr(retriever, "encoder", None)
    known = off_topic_vectors(encoder, negatives) if encoder is not None else None
    hits = answer_hits(pipeline_or_retriever, [p.text for p in probes] + negatives, reranker=reranker,
                       top_k=top_k, vectors=known)
    kept = [(p, h) for p, h in zip(probes, hits) if routes_back(p, h)]
    if len(kept) < MIN_PROBES:
        kept = list(zip(probes, hits))
    a = [evidence(h) for _, h in kept]
    u = [evidence(h) for h in hits[len(probes):]]
    cal, by_language = choose_thresholds(a, [language(p.text) for p, _ in kept], u,
                                         [language(q) for q in negatives], min_answered, refuse_target)
    out = AutoCalibration(**asdict(cal), answerable=len(a), probes_built=len(probes), unanswerable=len(u),
                          by_language=by_language, scores={"answerable": a, "unanswerable": u})
    if not store_in_kb:
        out.note = "not stored"
    elif threshold_source(store) == TUNED and not replace_tuned:
        out.note = "not stored: the KB has a tuned threshold (`rag tune refusal`)"
    else:
        store.set_meta(META_KEY, repr(out.threshold))
        store.set_meta(LANG_KEY, json.dumps(by_language))
        store.set_meta(SOURCE_KEY, AUTO)
        store.set_meta(GENERATION_KEY, str(store.cache_generation()))
        store.set_meta(EVIDENCE_KEY, evidence_kind(store, getattr(pipeline_or_retriever, "reranker", reranker)))
        out.stored = True
    out.seconds = time.perf_counter() - t0
    if out.stored:
        store.set_meta(REPORT_KEY, json.dumps(out.to_dict()))
    return out
