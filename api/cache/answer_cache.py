"""Answer cache: repeated and near-duplicate questions on the same KB get the stored answer at once.

    cache = make_answer_cache(CacheSettings.load(config_file))   # Redis when RAG_REDIS_URL is set
    gen = store.cache_generation()                                # read per request: any upload/delete bumps it
    vec = encoder.encode_queries([question])[0]                   # the KB's own query encoder
    hit = cache.get(kb, gen, question, vec)
    if hit: return hit.payload
    answer = pipeline.ask(question)
    cache.put(kb, gen, question, vec, answer_payload)             # any JSON-serialisable dict

Lookup: the exact key (normalised text: case, punctuation, width, white space) first, then the
most similar cached questions of the same KB whose embedding cosine is >= `similarity` *and* whose
content words match (`lexical_min`; see api/cache_keys.py for why both are needed).

Isolation and invalidation: entries live in a space (kb, generation, variant): one KB's answer is
never looked up for another. Entries of an older generation are never served, and once a newer
generation is seen the older ones are dropped; `invalidate(kb)` drops a KB's entries at once (call it
when a KB is deleted); `forget(owner, epoch)` drops the entries stored for a forgotten user's questions
and refuses those of questions they asked before it that are stored after it (`put(..., epoch=)`). `Store.cache_generation()` also grows across delete-and-re-create (creation
time in ms + commits), so an answer still in flight for a deleted KB, stored after a new KB of the
same name appeared, is of an older generation and never served. `variant` keeps
answers apart that depend on more than the question (filters, top_k, generator, ...).

Backends: in-process LRU (api/cache_memory.py) or Redis (api/cache_redis.py); both are bounded and
expire entries after `ttl_s`. Redis errors never reach the caller: a lookup is a miss, a put a no-op.
"""
from __future__ import annotations

import json
import logging
import threading
import time

import numpy as np

from api.cache.base import CacheBackend, CachedAnswer, Entry, Space, unit_vector
from api.cache.keys import content_words, lexical_similarity, normalise_question, question_hash
from rag.guard.personal_data import mask_personal

log = logging.getLogger(__name__)


class AnswerCache:
    def __init__(self, backend: CacheBackend, similarity: float = 0.95, lexical_min: float = 1.0,
                 enabled: bool = True):
        self.backend, self.similarity, self.lexical_min, self.enabled = backend, similarity, lexical_min, enabled
        self._lock = threading.Lock()
        self.hits_exact = self.hits_similar = self.misses = self.puts = self.invalidations = 0

    @property
    def hits(self) -> int:
        return self.hits_exact + self.hits_similar

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def get(self, kb: str, generation: int, question: str, vector: np.ndarray | None = None, *,
            variant: str = "") -> CachedAnswer | None:
        """The cached answer for this question (or a near-duplicate) on this KB generation, or None."""
        if not self.enabled:
            return None
        norm = normalise_question(question)
        if not norm:
            return None
        space = Space(kb, int(generation), variant)
        entry = self.backend.get(space, question_hash(norm))
        if entry is not None:
            return self._hit(entry, "exact", 1.0)
        v = unit_vector(vector)
        if v is not None and self.similarity <= 1.0:
            words = content_words(question)
            for entry, cos in self.backend.similar(space, v, self.similarity):
                if lexical_similarity(words, entry.words) >= self.lexical_min:
                    return self._hit(entry, "similar", cos)
        self._count("misses")
        return None

    def _hit(self, entry: Entry, kind: str, similarity: float) -> CachedAnswer | None:
        try:
            payload = json.loads(entry.payload)
        except ValueError:
            log.warning("answer cache: unreadable entry for %r, ignored", mask_personal(entry.question)[:80])
            self._count("misses")
            return None
        self._count("hits_exact" if kind == "exact" else "hits_similar")
        log.debug("answer cache %s hit (%.3f) for %r", kind, similarity, mask_personal(entry.question)[:80])
        return CachedAnswer(payload, kind, round(float(similarity), 4), entry.question,
                            max(0.0, time.time() - entry.created))

    def put(self, kb: str, generation: int, question: str, vector: np.ndarray | None, payload: dict, *,
            variant: str = "", owner: str = "", epoch: int = 0) -> None:
        """Store an answer. `payload` must be JSON-serialisable (TypeError otherwise). `owner`: the
        pseudonym of the user who asked (api.audit.pseudonym), so that `forget(owner)` finds it; `epoch`:
        their forget epoch when they asked (api.state.forgotten). The backend refuses, atomically, an
        answer whose owner was forgotten since: an answer still being made during the forget is not kept."""
        if not self.enabled:
            return
        norm = normalise_question(question)
        if not norm:
            return
        entry = Entry(question=question, words=content_words(question),
                      payload=json.dumps(payload, ensure_ascii=False), created=time.time(),
                      vector=unit_vector(vector), owner=owner, epoch=int(epoch))
        self.backend.put(Space(kb, int(generation), variant), question_hash(norm), entry)
        self._count("puts")

    def invalidate(self, kb: str) -> int:
        """Drop every entry of `kb` (all generations and variants); returns how many went."""
        n = self.backend.invalidate(kb)
        self._count("invalidations")
        log.info("answer cache: invalidated %d entries of KB %r", n, kb)
        return n

    def forget(self, owner: str, epoch: int) -> int:
        """Drop the answers stored for this owner's questions (the cache holds their text): a forgotten
        user's (rag forget-user, DELETE /v1/users/{user}), whose forget epoch is now `epoch`; answers
        stored later for questions asked before it are refused. Returns how many went."""
        if not owner:
            return 0
        n = self.backend.forget(owner, int(epoch))
        log.info("answer cache: dropped %d entries of a forgotten user", n)
        return n

    def stats(self) -> dict[str, float]:
        """Counters for metrics: hits, hits_exact, hits_similar, misses, puts, invalidations, and the
        backend's (entries; errors, skipped and available for Redis)."""
        with self._lock:
            out = {"hits": float(self.hits), "hits_exact": float(self.hits_exact),
                   "hits_similar": float(self.hits_similar), "misses": float(self.misses),
                   "puts": float(self.puts), "invalidations": float(self.invalidations)}
        out.update(self.backend.stats())
        return out

    def close(self) -> None:
        self.backend.close()
