"""Answer cache (api/cache*.py): exact and near-duplicate hits with the real encoders, KB isolation,
invalidation by the catalog generation, bounds and TTL, on both backends; the Redis backend against
a real `redis-server` (tests/redis_server.py), including outages mid-run."""
from __future__ import annotations

import logging
import os
import time

import numpy as np
import pytest

from api.cache.answer_cache import AnswerCache
from api.cache.config import CacheSettings
from api.cache.factory import make_answer_cache
from api.cache.memory import MemoryBackend
from cli.testing.redis_server import RedisServer, redis_server_path

ANSWER = {"answer": "Call the card line [1].", "citations": [{"n": 1, "doc_id": "cards"}], "refused": False}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if redis_server_path() is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing: .ci/run installs it (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


def _redis_backend(url: str, **kw):
    from api.cache.redis_backend import RedisBackend

    backend = RedisBackend(url, **kw)
    backend.client.flushdb()
    return backend


@pytest.fixture(params=["memory", "redis"])
def make_cache(request):
    """A factory of fresh caches on the parametrised backend (all Redis ones share one server)."""
    made = []

    def make(similarity: float = 0.95, **kw) -> AnswerCache:
        if request.param == "memory":
            backend = MemoryBackend(**kw)
        else:
            backend = _redis_backend(request.getfixturevalue("redis_url"), **kw)
        made.append(backend)
        return AnswerCache(backend, similarity=similarity)
    yield make
    for backend in made:
        backend.close()


def _vec(seed: int, dim: int = 16) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


# --------------------------------------------------------------------------- both backends
def test_exact_hit_on_the_normalised_question(make_cache):
    cache = make_cache()
    assert cache.get("bank", 1, "How do I report a lost card?", _vec(0)) is None
    cache.put("bank", 1, "How do I report a lost card?", _vec(0), ANSWER)
    for q in ["How do I report a lost card?", "how do i report a LOST card", "  How do I report a lost card ??? ",
              "ＨＯＷ do I report a lost\u200b card?"]:
        hit = cache.get("bank", 1, q, None)
        assert hit is not None and hit.kind == "exact" and hit.similarity == 1.0, q
        assert hit.payload == ANSWER and hit.question == "How do I report a lost card?" and hit.age_s < 60
    hit.payload["answer"] = "changed by the caller"
    assert cache.get("bank", 1, "How do I report a lost card?", None).payload == ANSWER
    assert cache.get("bank", 1, "How do I report a stolen card?", None) is None
    s = cache.stats()
    assert s["hits_exact"] == 5 and s["hits"] == 5 and s["hits_similar"] == 0 and s["misses"] == 2
    assert s["puts"] == 1
    with pytest.raises(TypeError):
        cache.put("bank", 1, "not json", None, {"x": object()})


def test_near_duplicates_need_a_close_vector_and_the_same_content_words(make_cache):
    cache = make_cache(similarity=0.95)
    v = _vec(7)
    close = v + 0.05 * _vec(8)
    assert float(close @ v) / float(np.linalg.norm(close)) > 0.95
    cache.put("bank", 1, "How do I report a lost card?", v, {"answer": "lost"})
    hit = cache.get("bank", 1, "Please, how do I report a lost card?", close)
    assert hit is not None and hit.kind == "similar" and 0.95 <= hit.similarity < 1.0
    assert hit.payload == {"answer": "lost"}
    assert cache.get("bank", 1, "Please, how do I report a lost card?", _vec(9)) is None  # far vector
    assert cache.get("bank", 1, "Please, how do I report a lost card?", None) is None     # no vector
    assert cache.get("bank", 1, "How do I report a stolen card?", v) is None              # other words
    # entries stored after a lookup are found too (Redis mirrors vectors incrementally)
    cache.put("bank", 1, "When do wire transfers arrive?", _vec(10), {"answer": "wire"})
    assert cache.get("bank", 1, "Hi, when do wire transfers arrive?", _vec(10)).payload == {"answer": "wire"}
    assert cache.get("bank", 1, "please how do I report a lost card", close).payload == {"answer": "lost"}
    assert cache.stats()["hits_similar"] == 3


def test_one_kbs_answer_is_never_served_for_another(make_cache):
    cache = make_cache()
    v = _vec(1)
    cache.put("bank", 3, "What does a wire transfer cost?", v, {"answer": "bank: $25"})
    cache.put("bank:2", 3, "Other question", _vec(2), {"answer": "x"})  # ':' in a name stays its own KB
    assert cache.get("hospital", 3, "What does a wire transfer cost?", v) is None       # exact, other KB
    assert cache.get("hospital", 3, "What does a wire transfer cost please", v) is None  # near-dup, other KB
    assert cache.get("bank:2", 3, "What does a wire transfer cost?", v) is None
    assert cache.get("ban", 3, "What does a wire transfer cost?", v) is None
    cache.put("hospital", 3, "What does a wire transfer cost?", v, {"answer": "hospital: free"})
    assert cache.get("bank", 3, "what does a wire transfer cost", v).payload == {"answer": "bank: $25"}
    assert cache.get("hospital", 3, "what does a wire transfer cost", v).payload == {"answer": "hospital: free"}
    # a variant (e.g. other filters) is a separate space too
    assert cache.get("bank", 3, "What does a wire transfer cost?", v, variant="tag=retail") is None


def test_older_generations_are_never_served(make_cache):
    cache = make_cache()
    q, v = "How do I report a lost card?", _vec(3)
    cache.put("bank", 5, q, v, {"answer": "old"})
    assert cache.get("bank", 5, q, v).payload == {"answer": "old"}
    assert cache.get("bank", 6, q, v) is None                 # the KB changed: a miss
    cache.put("bank", 6, q, v, {"answer": "new"})
    assert cache.get("bank", 5, q, v) is None                 # a stale reader never gets the old answer back
    cache.put("bank", 5, q, v, {"answer": "late writer"})     # nor can it store one computed on the old KB
    assert cache.get("bank", 6, q, v).payload == {"answer": "new"}
    assert cache.get("bank", 5, q, v) is None


def test_invalidate_drops_one_kb(make_cache):
    cache = make_cache()
    for i in range(3):
        cache.put("bank", 1, f"question {i}", _vec(i), {"i": i})
    cache.put("school", 1, "question 0", _vec(0), {"school": True})
    assert cache.invalidate("bank") == 3
    assert all(cache.get("bank", 1, f"question {i}", _vec(i)) is None for i in range(3))  # (late readers)
    assert cache.get("school", 1, "question 0", None).payload == {"school": True}
    # a re-created KB starts again at generation 0, which is usable after invalidate
    cache.put("bank", 0, "question 0", _vec(0), {"fresh": True})
    assert cache.get("bank", 0, "question 0", None).payload == {"fresh": True}
    assert cache.stats()["invalidations"] == 1


def test_entries_per_kb_are_bounded(make_cache):
    cache = make_cache(max_per_kb=3)
    for i in range(5):
        cache.put("bank", 1, f"question {i}", _vec(i), {"i": i})
    kept = [i for i in range(5) if cache.get("bank", 1, f"question {i}", None)]
    assert kept == [2, 3, 4]
    assert cache.get("bank", 1, "unrelated", _vec(0)) is None  # its vector went with it


def test_entries_expire(make_cache):
    cache = make_cache(ttl_s=0.3)
    cache.put("bank", 1, "How do I report a lost card?", _vec(0), ANSWER)
    assert cache.get("bank", 1, "How do I report a lost card?", _vec(0)) is not None
    time.sleep(0.45)
    assert cache.get("bank", 1, "How do I report a lost card?", None) is None
    assert cache.get("bank", 1, "Please, how do I report a lost card?", _vec(0)) is None


def test_concurrent_use_from_many_threads(make_cache):
    from concurrent.futures import ThreadPoolExecutor

    cache = make_cache(max_per_kb=50)

    def work(t: int) -> int:
        hits = 0
        for i in range(40):
            q = f"question {i % 10} from thread {t % 2}"
            cache.put(f"kb{t % 3}", 1, q, _vec(i % 10), {"i": i % 10})
            got = cache.get(f"kb{t % 3}", 1, q, _vec(i % 10))
            hits += got is not None and got.payload == {"i": i % 10}
        return hits
    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(work, range(6))) == 6 * 40


@pytest.mark.parametrize("question, other", [("How do I report a lost card?", "When do wire transfers arrive?"),
                                             ("银行卡丢了怎么挂失？", "转账多久到账？")])
def test_an_answer_asked_before_its_user_was_forgotten_is_refused_after(make_cache, question, other):
    """A forget (epoch 1) drops the user's entries; an answer to a question they asked before it (epoch 0) and
    stored after it is refused, by the cache that forgot and (Redis) by another process's sharing it; their
    questions asked after the forget, and other users' answers, are stored as ever."""
    cache, elsewhere = make_cache(), make_cache()
    shared = cache.backend.name == "redis"
    cache.put("bank", 1, question, _vec(0), ANSWER, owner="pseudonym:a", epoch=0)
    cache.put("bank", 1, other, _vec(1), ANSWER, owner="pseudonym:b", epoch=0)
    assert cache.forget("pseudonym:a", 1) == 1
    assert cache.get("bank", 1, question, _vec(0)) is None
    for late in ([cache, elsewhere] if shared else [cache]):
        late.put("bank", 1, question, _vec(0), ANSWER, owner="pseudonym:a", epoch=0)   # finished after the forget
        assert late.get("bank", 1, question, _vec(0)) is None
    assert cache.get("bank", 1, other, _vec(1)) is not None                           # another user's stays
    cache.put("bank", 1, question, _vec(0), ANSWER, owner="pseudonym:a", epoch=1)       # asked after the forget
    assert cache.get("bank", 1, question, _vec(0)) is not None


@pytest.mark.parametrize("question", ["How do I report a lost card?", "探视时间是几点？"])
def test_a_forget_read_again_keeps_what_the_user_asked_after_it(make_cache, question):
    """The forget feed reads back the forgets this process applied itself, a moment later (it looks every few
    seconds), and another replica's feed reads it too (Redis): that dropped the answers a forgotten user asked
    for after their forget, so an answer cached at their next question was gone at the one after."""
    cache = make_cache()
    cache.put("kb", 1, question, _vec(0), ANSWER, owner="pseudonym:a", epoch=0)
    assert cache.forget("pseudonym:a", 1) == 1                                 # the forget, applied at once
    cache.put("kb", 1, question, _vec(0), ANSWER, owner="pseudonym:a", epoch=1)  # asked after it
    assert cache.forget("pseudonym:a", 1) == 0                                 # the same forget, read again
    assert cache.get("kb", 1, question, _vec(0)) is not None
    assert cache.forget("pseudonym:a", 2) == 1                                 # a later forget drops it


def test_memory_backend_is_one_lru_over_all_kbs():
    cache = AnswerCache(MemoryBackend(max_entries=3, max_per_kb=10))
    for i in range(3):
        cache.put(f"kb{i}", 1, "question", _vec(i), {"i": i})
    assert cache.get("kb0", 1, "question", None)  # kb0 is now the most recently used
    cache.put("kb3", 1, "question", _vec(3), {"i": 3})
    assert [i for i in range(4) if cache.get(f"kb{i}", 1, "question", None)] == [0, 2, 3]
    assert cache.stats()["entries"] == 3


def test_disabled_cache_does_nothing():
    cache = AnswerCache(MemoryBackend(), enabled=False)
    cache.put("bank", 1, "q", _vec(0), ANSWER)
    assert cache.get("bank", 1, "q", _vec(0)) is None and cache.stats()["puts"] == 0


def test_the_catalog_generation_invalidates_on_upload_and_delete(tmp_path):
    """The real catalog: writing or deleting a document bumps the generation the service passes in."""
    from indexer.store.local.catalog import Catalog, now, text_hash
    from indexer.types import Chunk, DocumentInfo

    catalog = Catalog(tmp_path / "kb.sqlite")
    cache = AnswerCache(MemoryBackend())

    def upload(doc_id: str, text: str) -> None:
        info = DocumentInfo(doc_id, f"{doc_id}.txt", text_hash(text), len(text), 1, now())
        chunk = Chunk(f"{doc_id}:0:x", doc_id, 0, text, n_tokens=len(text.split()))
        catalog.replace_document(info, [chunk], [text.lower().split()], np.zeros((1, 4), np.float32), [text_hash(text)])

    upload("fees", "Wire transfers cost $25.")
    q = "What does a wire transfer cost?"
    cache.put("bank", catalog.generation(), q, _vec(0), {"answer": "$25 [1]"})
    assert cache.get("bank", catalog.generation(), q, _vec(0)).payload == {"answer": "$25 [1]"}
    upload("fees", "Wire transfers cost $30.")                      # re-upload: new generation
    assert cache.get("bank", catalog.generation(), q, _vec(0)) is None
    cache.put("bank", catalog.generation(), q, _vec(0), {"answer": "$30 [1]"})
    assert catalog.delete_document("fees")                          # delete: new generation
    assert cache.get("bank", catalog.generation(), q, _vec(0)) is None
    catalog.close()


# --------------------------------------------------------------------------- near-duplicates, real models
SAME_EN = [("How do I report a lost card?", "Please, how do I report a lost card?"),
           ("What does a wire transfer cost?", "Can you tell me what a wire transfer costs?"),
           ("What does a wire transfer cost?", "what does a wire transfer cost please"),
           ("What is the monthly account fee?", "Please tell me: what is the monthly account fee?"),
           ("When do wire transfers arrive?", "Hi, I'd like to know when do wire transfers arrive?")]
DIFF_EN = [("How do I report a lost card?", "How do I report a stolen car?"),
           ("How do I report a lost card?", "How do I activate a new card?"),
           ("What does a wire transfer cost?", "How long does a wire transfer take?"),
           ("What does a wire transfer cost?", "What does an international wire transfer cost?"),
           ("What is the monthly account fee?", "What is the monthly account limit?"),
           ("Can I close my account online?", "Can I open my account online?"),
           ("Can I move money from savings to checking?", "Can I move money from checking to savings?")]
SAME_ZH = [("银行卡丢了怎么挂失？", "请问银行卡丢了怎么挂失？"), ("电汇需要多少手续费？", "请问，电汇需要多少手续费"),
           ("信用卡年费是多少？", "信用卡的年费是多少呢？"), ("银行卡丢了怎么挂失？", "麻烦问一下，银行卡丢了怎么挂失呢？")]
DIFF_ZH = [("银行卡丢了怎么挂失？", "银行卡丢了怎么补办？"), ("电汇什么时候到账？", "电汇需要多少手续费？"),
           ("信用卡年费是多少？", "信用卡额度是多少？"), ("如何开通网上银行？", "如何注销网上银行？"),
           ("房贷利率是多少？", "车贷利率是多少？"), ("银行卡丢了怎么挂失？", "信用卡丢了怎么挂失？")]


@pytest.fixture(scope="module")
def e5():
    from indexer.embed.e5 import E5Encoder

    enc = E5Encoder(batch_size=8, device="cpu")
    enc.warm_up()
    return enc


def _near_duplicates(encoder, pairs, similarity=0.95):
    """For each pair: (cached question 0 served for question 1?, their cosine)."""
    cache = AnswerCache(MemoryBackend(), similarity=similarity)
    a = encoder.encode_queries([p[0] for p in pairs])
    b = encoder.encode_queries([p[1] for p in pairs])
    out = []
    for i, (q0, q1) in enumerate(pairs):
        kb = f"kb{i}"
        cache.put(kb, 1, q0, a[i], {"for": q0})
        hit = cache.get(kb, 1, q1, b[i])
        assert hit is None or (hit.kind == "similar" and hit.payload == {"for": q0} and hit.similarity >= similarity)
        out.append((hit is not None, float(a[i] @ b[i])))
    return out


def test_default_threshold_is_the_measured_one():
    assert CacheSettings().similarity == 0.95 and CacheSettings().lexical_min == 1.0


def test_english_rewording_hits_and_different_questions_miss_minilm(minilm):
    same = _near_duplicates(minilm, SAME_EN)
    assert all(hit for hit, _ in same), same
    assert min(cos for _, cos in same) >= 0.95  # measured: 0.966-0.997
    diff = _near_duplicates(minilm, DIFF_EN)
    assert not any(hit for hit, _ in diff), diff


def test_english_and_chinese_with_the_multilingual_model(e5):
    for pairs in (SAME_EN, SAME_ZH):
        same = _near_duplicates(e5, pairs)
        assert all(hit for hit, _ in same), same
    for pairs in (DIFF_EN, DIFF_ZH):
        diff = _near_duplicates(e5, pairs)
        assert not any(hit for hit, _ in diff), diff


def test_chinese_on_an_english_only_model_never_mixes_questions_up(minilm):
    """MiniLM maps different Chinese questions to nearly the same vector: the cosine alone would
    serve the wrong answer; the content-word check keeps them apart."""
    diff = _near_duplicates(minilm, DIFF_ZH)
    assert max(cos for _, cos in diff) > 0.95  # the trap is real
    assert not any(hit for hit, _ in diff), diff


# --------------------------------------------------------------------------- Redis specifics
def test_workers_share_the_redis_cache(redis_url):
    one = AnswerCache(_redis_backend(redis_url))
    two = make_answer_cache(CacheSettings(redis_url=redis_url))
    assert two.backend.name == "redis"
    one.put("bank", 2, "How do I report a lost card?", _vec(0), ANSWER)
    assert two.get("bank", 2, "how do I report a lost card", None).payload == ANSWER
    assert two.get("bank", 2, "Please, how do I report a lost card?", _vec(0)).kind == "similar"
    assert two.invalidate("bank") == 1
    assert one.get("bank", 2, "How do I report a lost card?", None) is None
    one.close()
    two.close()


def test_redis_url_from_the_environment_picks_the_backend(monkeypatch, redis_url):
    monkeypatch.setenv("RAG_REDIS_URL", redis_url)
    monkeypatch.setenv("RAG_CACHE_SIMILARITY", "0.9")
    cache = make_answer_cache(CacheSettings.load())
    assert cache.backend.name == "redis" and cache.similarity == 0.9
    cache.close()
    monkeypatch.delenv("RAG_REDIS_URL")
    assert make_answer_cache(CacheSettings.load()).backend.name == "memory"


@pytest.fixture
def own_server(tmp_path):
    if redis_server_path() is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def _timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def test_redis_going_away_mid_run_and_coming_back(own_server, caplog):
    cache = AnswerCache(_redis_backend(own_server.url, timeout_s=0.2, retry_s=0.3))
    q, v = "How do I report a lost card?", _vec(0)
    cache.put("bank", 1, q, v, ANSWER)
    assert cache.get("bank", 1, q, v).payload == ANSWER
    own_server.stop()
    with caplog.at_level(logging.WARNING, logger="api.cache.redis_backend"):
        t0 = time.perf_counter()
        for _ in range(20):  # the service keeps answering: misses and no-op puts, fast, no exception
            hit, took = _timed(cache.get, "bank", 1, q, v)
            assert hit is None and took < 0.5
            _, took = _timed(cache.put, "bank", 1, q, v, ANSWER)
            assert took < 0.5
        assert time.perf_counter() - t0 < 2.0
    stats = cache.stats()
    assert stats["errors"] >= 1 and stats["skipped"] >= 30 and stats["available"] == 0.0
    warnings = [r.getMessage() for r in caplog.records if r.name == "api.cache.redis_backend"]
    assert len(warnings) == 1 and "unavailable" in warnings[0]  # logged once, not per call

    own_server.start()  # same port, empty
    time.sleep(0.35)    # the backoff
    deadline = time.monotonic() + 5
    while cache.get("bank", 1, q, v) is None and time.monotonic() < deadline:
        cache.put("bank", 1, q, v, ANSWER)
        time.sleep(0.05)
    assert cache.get("bank", 1, q, v).payload == ANSWER  # used again
    assert cache.stats()["available"] == 1.0


def test_a_hung_redis_times_out_quickly_and_a_missed_invalidation_is_done_on_return(own_server):
    cache = AnswerCache(_redis_backend(own_server.url, timeout_s=0.2, retry_s=0.3))
    q, v = "How do I report a lost card?", _vec(0)
    cache.put("bank", 1, q, v, ANSWER)
    own_server.pause()  # connections open but nothing answers
    try:
        hit, took = _timed(cache.get, "bank", 1, q, v)
        assert hit is None and took < 1.0
        _, took = _timed(cache.invalidate, "bank")   # e.g. a document was deleted during the outage
        assert took < 0.1
    finally:
        own_server.resume()
    time.sleep(0.35)
    assert cache.get("bank", 1, q, v) is None  # the entry survived in Redis, but the invalidation ran first
    assert cache.backend.client.keys("rag:answers:bank:*") == []
    cache.put("bank", 1, q, v, ANSWER)
    assert cache.get("bank", 1, q, v).payload == ANSWER


def test_answer_variant_changes_with_what_an_answer_depends_on():
    from api.service import answer_variant
    from rag.config import Settings

    base = Settings.load()
    same = Settings.load()
    assert answer_variant(base) == answer_variant(same)
    other_mode = Settings.load(answer={"mode": "extract"})
    other_model = Settings.load(generation={"model": "/models/qwen"})
    other_fusion = Settings.load(retrieval={"fusion": "rrf"})
    slower_timeout = Settings.load(generation={"timeout_s": 120})
    variants = {answer_variant(s) for s in (base, other_mode, other_model, other_fusion)}
    assert len(variants) == 4
    assert answer_variant(slower_timeout) == answer_variant(base)  # transport settings do not change answers
    from rag.generation.config import GenerationSettings

    assert GenerationSettings.TRANSPORT_FIELDS <= set(GenerationSettings.model_fields)  # no stale names
