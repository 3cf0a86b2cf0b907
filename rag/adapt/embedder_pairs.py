"""Training pairs for `rag tune embedder`, from a knowledge base alone (no labelled questions).

Questions for chunks, by source (`Pair.kind`):
  * "title": the chunk's heading as a question (rag.answering.auto_refusal.title_question);
  * "faq": question lines the document asks itself (FAQ pages; `faq_questions`);
  * "template": a statement sentence turned into a question by fixed templates (`template_question`;
    English and Chinese templates, so a KB holding both languages gets questions in both);
  * "generated": the generator's question for a sentence (rag.adapt.synth.draft_question), optional
    and time-boxed (a local 135M model drafts ~1 question a second on CPU).
A question is kept when the current retriever routes it back to its own document in the top
`round_trip_k` (the round-trip check of `rag synth`; a question that cannot is off-topic or ambiguous).

Hard negatives: the current retriever's top hits for the question from other documents, dropping
any that answers it too: a near copy of the positive (token overlap), or a chunk whose best sentence
covers as many of the question's content words as the positive's best sentence does (the overlap
`extractive_answer` ranks by), or one holding the very sentence the question was written from.
"""
from __future__ import annotations

import hashlib
import random
import re
import time
from dataclasses import asdict, dataclass, field

from tqdm import tqdm

from indexer.script import is_cjk
from indexer.tokenize import count_tokens, tokenize
from rag.answering.auto_refusal import faq_questions, own_words, template_question, title_question
from rag.answering.cite import content_tokens
from rag.text import good_sentence, prose_sentences

TEMPLATES_PER_CHUNK = 3   # template questions per chunk (more repeat the chunk's wording)
# the templates' catch-all forms wrap a sentence's opening words ("What about <clause>?", "<clause>是怎么规定的？"):
# a copy of the text, not a question a reader asks; trained on, they taught e5 to match copied wording and
# lowered nDCG@10 on real English questions (FAQ fold A), so they are left out unless asked for
FALLBACK = re.compile(r"^What about |是怎么规定的？$")
FAQ_PER_CHUNK = 3
NEAR_COPY = 0.6           # token Jaccard with the positive at or above which a "negative" is the same text
# inverse cloze (Lee et al. 2019): sentences per English chunk taken out as queries (`--cloze`), and the share
# of written English questions whose source sentence stays in the positive. Only in a KB whose chunks are
# mostly English: on the FAQ's choice fold it raised English and Chinese-over-English retrieval and lowered
# Chinese on the Chinese KB (docs/embedder-tuning.md); 4 sentences a chunk did worse than 2
CLOZE_PER_CHUNK = 2
CLOZE_KEEP = 0.1
CLOZE_LANGS = frozenset({"en"})
CLOZE_MIN_SHARE = 0.5     # share of a KB's chunks in CLOZE_LANGS below which no cloze pairs are made
MIN_REST = 40             # characters a positive keeps once a sentence is taken out of it


@dataclass
class Pair:
    question: str
    positive: str              # the chunk as it is embedded (title + text)
    chunk_id: str
    doc_id: str
    kind: str                  # title | faq | template | generated
    lang: str                  # en | zh
    negatives: list[str] = field(default_factory=list)
    source_sentence: str = ""  # the sentence a template / generated question was written from

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PairReport:
    chunks: int = 0
    drafted: dict = field(default_factory=dict)      # kind -> questions written
    kept: dict = field(default_factory=dict)         # kind -> questions kept by the round-trip check
    languages: dict = field(default_factory=dict)    # lang -> pairs kept
    negatives_kept: int = 0
    negatives_dropped: int = 0                       # candidates that answer the question too
    seconds: float = 0.0

    def line(self) -> str:
        asked = {kind: n for kind, n in self.kept.items() if kind != "cloze"}  # cloze pairs need no round trip
        d, k = sum(self.drafted.values()), sum(asked.values())
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(asked.items()))
        langs = ", ".join(f"{n} {lang}" for lang, n in sorted(self.languages.items()))
        cloze = f" + {self.kept['cloze']} inverse-cloze pairs" if self.kept.get("cloze") else ""
        return (f"{self.chunks} chunks -> {d} questions -> {k} kept by the round-trip check ({kinds}){cloze}; "
                f"{k + self.kept.get('cloze', 0)} pairs ({langs}); "
                f"hard negatives: {self.negatives_kept} kept, {self.negatives_dropped} dropped as answering")


def embed_text(title: str, text: str) -> str:
    return f"{title}\n{text}" if title else text


def _lang(text: str) -> str:
    return "zh" if is_cjk(text) else "en"


def chunk_questions(c, rng: random.Random, fallback: bool = False) -> list[tuple[str, str, str]]:
    """(question, kind, source sentence) from one chunk's own structure."""
    out: list[tuple[str, str, str]] = []
    if c.title:
        q = title_question(c.title)
        if q and own_words(q) >= 2:
            out.append((q, "title", ""))
    for q in faq_questions(c.text)[:FAQ_PER_CHUNK]:
        if own_words(q) >= 2:
            out.append((q, "faq", q))
    sents = [s for s in prose_sentences(c.text) if good_sentence(s) and not s.rstrip().endswith(("?", "？"))]
    rng.shuffle(sents)
    made = 0
    for s in sents:
        q = template_question(s)
        if q and own_words(q) >= 3 and (fallback or not FALLBACK.search(q)):
            out.append((q, "template", s))
            made += 1
            if made >= TEMPLATES_PER_CHUNK:
                break
    return out


def _jaccard(a: str, b: str) -> float:
    x, y = set(tokenize(a)), set(tokenize(b))
    return len(x & y) / max(1, len(x | y))


def _coverage(question: str, text: str) -> int:
    """Content words of the question that the text's best sentence holds."""
    q = content_tokens(question)
    return max((len(q & content_tokens(s)) for s in prose_sentences(text)), default=0)


def answers_too(question: str, positive: str, candidate: str, source_sentence: str = "") -> bool:
    """Whether a candidate negative answers the question as well (see the module doc)."""
    if _jaccard(positive, candidate) >= NEAR_COPY:
        return True
    if source_sentence and source_sentence.strip() and source_sentence.strip() in candidate:
        return True
    best = _coverage(question, positive)
    return best > 0 and _coverage(question, candidate) >= best


def doc_fold(doc_id: str, holdout: float) -> bool:
    """True for a document whose questions are held out (a fixed hash: the same split every run)."""
    return int(hashlib.sha1(doc_id.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF < holdout


def without(text: str, sentence: str) -> str:
    """The text with the sentence taken out ("" when too little is left to stand for the chunk)."""
    rest = text.replace(sentence, " ", 1)
    rest = re.sub(r"[ \t]{2,}", " ", rest).strip()
    return rest if rest != text.strip() and len(rest) >= MIN_REST else ""


def cloze_pairs(c, rng: random.Random, per: int) -> list[Pair]:
    """Inverse-cloze pairs of one chunk: `per` of its statement sentences as queries, each with the chunk
    without it as the positive (English chunks only, see CLOZE_LANGS)."""
    if per <= 0 or _lang(c.text) not in CLOZE_LANGS:
        return []
    sents = [s for s in prose_sentences(c.text) if good_sentence(s) and not s.rstrip().endswith(("?", "？"))]
    if len(sents) < 2:
        return []
    rng.shuffle(sents)
    out = []
    for s in sents[:per]:
        rest = without(c.text, s)
        if rest:
            out.append(Pair(s, embed_text(c.title, rest), c.chunk_id, c.doc_id, "cloze", _lang(s), [], s))
    return out


def build_pairs(store, retriever, *, max_chunks: int = 2000, generator=None, generated: int = 0,
                generate_minutes: float = 5.0, round_trip_k: int = 10, mine_k: int = 20, negatives: int = 3,
                cloze: int = CLOZE_PER_CHUNK, fallback_templates: bool = False, seed: int = 13,
                progress: bool = True) -> tuple[list[Pair], PairReport]:
    """Pairs (question, its chunk, hard negatives) from the store's chunks; see the module doc.
    `retriever`: rag.retrieval.hybrid.HybridRetriever over the store, chunk level (the current model).
    `cloze`: inverse-cloze sentences per English chunk, in a KB whose chunks are mostly English (0: none,
    and written questions keep their source sentence in the positive)."""
    t0 = time.monotonic()
    rng = random.Random(seed)
    chunks = [c for d in sorted(store.documents(), key=lambda d: (d.content_hash, d.doc_id))
              for c in store.doc_chunks(d.doc_id) if count_tokens(c.text) >= 12]
    rng.shuffle(chunks)
    chunks = chunks[:max_chunks]
    rep = PairReport(chunks=len(chunks))
    if chunks and sum(_lang(c.text) in CLOZE_LANGS for c in chunks) < CLOZE_MIN_SHARE * len(chunks):
        cloze = 0
    drafts: list[tuple[str, str, str, object]] = []  # (question, kind, source sentence, chunk)
    for c in chunks:
        for q, kind, src in chunk_questions(c, rng, fallback_templates):
            drafts.append((q, kind, src, c))
    if generator is not None and generated > 0:
        drafts += _generated(chunks[:generated], generator, generate_minutes, rng, progress)
    seen: set[str] = set()
    pairs: list[Pair] = []
    for q, kind, src, c in tqdm(drafts, desc="round trip + negatives", unit="question", disable=not progress):
        if q in seen:
            continue
        seen.add(q)
        rep.drafted[kind] = rep.drafted.get(kind, 0) + 1
        hits = retriever.run(q, mine_k)
        docs = list(dict.fromkeys(h.doc_id for h in hits))
        if c.doc_id not in docs[:round_trip_k]:
            continue
        positive = embed_text(c.title, c.text)
        negs: list[str] = []
        for h in hits:
            if h.doc_id == c.doc_id or len(negs) >= negatives:
                continue
            text = embed_text(h.title, h.text)
            if answers_too(q, positive, text, src):
                rep.negatives_dropped += 1
                continue
            negs.append(text)
        rep.negatives_kept += len(negs)
        lang = _lang(q)
        if cloze > 0 and lang in CLOZE_LANGS and src and rng.random() >= CLOZE_KEEP:
            positive = embed_text(c.title, without(c.text, src) or c.text)
        pairs.append(Pair(q, positive, c.chunk_id, c.doc_id, kind, lang, negs, src))
    pairs += [p for c in chunks for p in cloze_pairs(c, rng, cloze)]
    for p in pairs:
        rep.kept[p.kind] = rep.kept.get(p.kind, 0) + 1
        rep.languages[p.lang] = rep.languages.get(p.lang, 0) + 1
    rep.seconds = time.monotonic() - t0
    return pairs, rep


def _generated(chunks, generator, minutes: float, rng: random.Random, progress: bool):
    from rag.adapt.synth import PREFIXES, clean_question, draft_question

    out = []
    deadline = time.monotonic() + 60 * minutes
    for c in tqdm(chunks, desc="generator questions", unit="chunk", disable=not progress):
        if time.monotonic() > deadline:
            break
        sents = [s for s in prose_sentences(c.text) if good_sentence(s)]
        if not sents:
            continue
        s = rng.choice(sents)
        q = clean_question(draft_question(generator, s, rng.choice(PREFIXES)))
        if q:
            out.append((q, "generated", s, c))
    return out


def split_pairs(pairs: list[Pair], holdout: float) -> tuple[list[Pair], list[Pair]]:
    """(train, held out), by document: a held-out question's document is never a training positive.
    Cloze pairs of held-out documents are in neither: the held-out measurement asks questions."""
    held = [p for p in pairs if doc_fold(p.doc_id, holdout)]
    return [p for p in pairs if not doc_fold(p.doc_id, holdout)], [p for p in held if p.kind != "cloze"]
