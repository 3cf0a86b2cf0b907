"""An answer still being written when its user is forgotten: a real `rag serve` whose generator is a remote
OpenAI-compatible endpoint played here, held until the test lets it answer, with the in-process answer cache
and with Redis (a real redis-server). The user is forgotten (DELETE /v1/users/{user}) while their answer is
being written; once it is finished it is neither cached nor recorded."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from api.audit.record import AuditEntry
from api.audit.trail import AuditTrail
from api.state.factory import open_database
from cli.testing import Server, wait_job
from cli.testing.redis_server import RedisServer, redis_server_path
from tests.api.test_kb_delete_and_channel_inputs import APP_SECRET, ding_post, ding_text
from tests.chat_endpoint import ChatEndpoint, ChatHandler

KB = "forget-inflight"
ANSWERS = {"en": "Visiting hours are 2 to 8 pm [1].", "zh": "探视时间为下午2点到8点[1]。"}


class _Handler(ChatHandler):
    def do_POST(self):
        ep = self.endpoint
        body = self.read_json()
        if ep.held:
            ep.arrived.set()
            ep.release.wait(60)
        asked = json.dumps(body.get("messages"), ensure_ascii=False)
        answer = ANSWERS["zh" if "探视" in asked else "en"]
        self.open_stream()
        try:
            for piece in (answer[:8], answer[8:]):
                self.delta(piece)
            self.end_stream()
        except OSError:
            return


class HeldEndpoint(ChatEndpoint):
    """/v1/chat/completions streaming a cited answer; while `held`, each request waits for `release` first
    (`arrived` is set when one does)."""

    def __init__(self):
        self.held, self.arrived = False, threading.Event()
        super().__init__(_Handler)


@pytest.fixture(scope="module", params=["memory", "redis"])
def served(tmp_path_factory, request):
    """(server, endpoint, Redis client or None): a KB of one note on visiting hours, English and Chinese."""
    ep = HeldEndpoint()
    redis_server = None
    env = {"RAG_LLM_BACKEND": "openai", "RAG_LLM_BASE_URL": ep.url, "RAG_LLM_MODEL": "deepseek-chat",
           "RAG_LLM_API_KEY": "sk-test", "RAG_ANSWER_MODE": "generate", "RAG_LLM_TOTAL_TIMEOUT_S": "90",
           "RAG_LLM_RETRIES": "0", "RAG_WARM_UP": "false", "RAG_CACHE_SIMILARITY": "1.0", "RAG_EMBED_MODEL": "e5",
           "RAG_RATE_LIMIT": "10000"}  # on (cli.testing.Server turns it off): its counters are checked too
    if request.param == "redis":
        if redis_server_path() is None:
            pytest.fail("redis-server is missing: `make test` installs it (apt-get install redis-server)")
        redis_server = RedisServer(tmp_path_factory.mktemp("inflight-redis")).start()
        env["RAG_REDIS_URL"] = redis_server.url
    srv = Server(tmp_path_factory.mktemp(f"inflight-{request.param}") / "home", **env).start()
    try:
        with srv.client() as admin:
            assert admin.post("/v1/kbs", json={"name": KB}).status_code == 201
            wait_job(admin, admin.post(f"/v1/kbs/{KB}/documents", files=[("files", ("visits.txt", (
                "Visiting hours are 2 to 8 pm. Visitors park in garage B. 探视时间为下午2点到8点。访客请在B区停车。"
            ).encode(), "text/plain"))]).json()["job_id"])
            assert admin.post(f"/v1/kbs/{KB}/channels", json={"platform": "dingtalk", "app_secret": APP_SECRET}
                              ).status_code == 201
        yield srv, ep, redis.Redis.from_url(redis_server.url) if redis_server else None
    finally:
        srv.stop()
        ep.close()
        if redis_server is not None:
            redis_server.stop()


def _ask(srv: Server, question: str, user: str) -> dict:
    with srv.client(timeout=120) as c:
        r = c.post(f"/v1/kbs/{KB}/query", json={"question": question, "user": user})
    assert r.status_code == 200, r.text
    return r.json()


def _cached_owners(r: redis.Redis) -> dict[str, str]:
    """question -> owner (pseudonym) of every answer in the shared cache."""
    return {f[b"q"].decode(): f.get(b"o", b"").decode()
            for f in (r.hgetall(name) for name in r.scan_iter(match="rag:answers:*:e:*"))}


@pytest.mark.parametrize("user, question", [("张三", "探视时间是几点？"),
                                            ("li.lei@example.com", "What are the visiting hours?")])
def test_an_answer_finished_after_its_user_was_forgotten_is_neither_cached_nor_recorded(served, user, question):
    srv, ep, r = served
    ep.arrived.clear()
    ep.release.clear()
    ep.held = True
    try:
        with ThreadPoolExecutor(1) as pool:
            answering = pool.submit(_ask, srv, question, user)
            assert ep.arrived.wait(60), "the question never reached the generator"
            with srv.client() as admin:     # forgotten while the generator is writing their answer
                assert admin.delete(f"/v1/users/{user}").status_code == 200
            ep.held = False
            ep.release.set()
            answer = answering.result(timeout=120)
    finally:
        ep.held = False
        ep.release.set()
    assert answer["cached"] is False and answer.get("fallback") != "generator_failed", answer

    if r is not None:
        assert question not in _cached_owners(r)
    # not served from the cache to anyone; answered again, for someone else, it is cached as ever
    assert _ask(srv, question, "someone-else")["cached"] is False
    assert _ask(srv, question, "someone-else")["cached"] is True
    db = open_database(srv.env.get("RAG_DATABASE_URL"), Path(srv.home))
    try:   # nor recorded with their id and question
        assert db.query("SELECT id FROM answers WHERE user_id = ?", (user,)) == []
    finally:
        db.close()


@pytest.mark.parametrize("user", ["王小明", "zs-0042"])
def test_the_service_log_never_holds_the_id_of_a_user_it_forgot(served, user):
    """The log line of DELETE /v1/users/{user} (the access line, refused attempts included) names the route,
    not the user: a staff id or a Chinese name is not masked as a phone number or an e-mail address is."""
    srv = served[0]
    with srv.client() as admin:
        assert admin.delete(f"/v1/users/{user}").status_code == 200
    with srv.client("not-a-key") as stranger:
        assert stranger.delete(f"/v1/users/{user}").status_code == 401
    log = srv.log.read_text(errors="replace")
    assert "/v1/users/{user}" in log and user not in log


def _state_text(srv: Server) -> str:
    """Every row of every table of the state database, as text."""
    db = open_database(None, Path(srv.home))
    try:
        tables = [r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return json.dumps({t: [dict(r) for r in db.query(f"SELECT * FROM {t}")] for t in tables},
                          ensure_ascii=False, default=repr)
    finally:
        db.close()


def _redis_text(r: redis.Redis) -> str:
    """Every key of the Redis database with its value, as text."""
    read = {b"string": r.get, b"hash": r.hgetall, b"list": lambda k: r.lrange(k, 0, -1), b"set": r.smembers,
            b"zset": lambda k: r.zrange(k, 0, -1), b"stream": r.xrange}

    def text(v) -> str:
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        if isinstance(v, dict):
            return " ".join(f"{text(k)}={text(x)}" for k, x in v.items())
        if isinstance(v, (list, set, tuple)):
            return " ".join(text(x) for x in v)
        return str(v)
    return "\n".join(f"{text(k)}: {text(read.get(r.type(k), lambda _: None)(k))}" for k in r.scan_iter(count=1000))


def test_nothing_of_a_forgotten_chat_and_api_user_is_left_in_the_state_database_or_redis(served):
    """A DingTalk staff member asks in a chat and over the API and votes with a comment; once forgotten, no
    table of the state database and no Redis key or value holds their id or their questions' words (the
    answer cache, the chat conversation, the answers and votes, the per-user rate counters)."""
    srv, _, r = served
    staff, token = "zs-0042", "ZX55667788"      # their id; a record number in each of their questions
    reply = ding_post(srv, KB, ding_text(f"探视时间是几点？病历号{token}", senderStaffId=staff,
                                         conversationId="cid-zs"))
    assert reply.status_code == 200, reply.text
    answer = _ask(srv, f"What are the visiting hours? My record is {token}.", staff)
    with srv.client() as admin:
        assert admin.post("/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "down",
                                                "comment": f"wrong for {token}"}).status_code == 200
        assert staff in _state_text(srv) and token in _state_text(srv)           # there before
        if r is not None:
            assert token in _redis_text(r)
        assert admin.delete(f"/v1/users/{staff}").status_code == 200
    state = _state_text(srv)
    assert staff not in state and token not in state
    if r is not None:
        left = _redis_text(r)
        assert staff not in left and token not in left


def test_a_forget_over_http_redacts_ids_written_before_pseudonyms(served):
    """DELETE /v1/users/{user} rewrites a user.forget record that still holds a plain id (as written before
    pseudonyms), records who did it in an audit.redact record, and the chain still verifies."""
    srv = served[0]
    db = open_database(None, Path(srv.home))
    try:
        trail = AuditTrail(db)
        with db.tx() as t:
            trail.lock(t)
            trail.append_in(t, AuditEntry(action="user.forget", actor="admin", target="13912345678"))
    finally:
        db.close()
    with srv.client() as admin:
        assert admin.delete("/v1/users/王五").status_code == 200
        trail_now = admin.get("/v1/audit", params={"limit": 1000}).json()
    assert "13912345678" not in json.dumps(trail_now)
    redact = [r for r in trail_now if r["action"] == "audit.redact"][-1]
    assert (redact["actor"], redact["outcome"], len(redact["detail"]["redacted"])) == ("admin", "ok", 1)
    db = open_database(None, Path(srv.home))
    try:
        rep = AuditTrail(db).verify()
    finally:
        db.close()
    assert rep.ok and rep.redacted >= 1, rep.broken


def test_an_answer_made_while_the_kbs_synonyms_changed_is_not_cached(served):
    """The pipeline is shared: the KB's synonyms read when the question came may be replaced by another request
    while its answer is written. Cached under the rules read on arrival, it was served once they came back."""
    srv, ep, _ = served
    question = "When can I visit a patient?"
    ep.arrived.clear()
    ep.release.clear()
    ep.held = True
    try:
        with ThreadPoolExecutor(1) as pool:
            answering = pool.submit(_ask, srv, question, "wang")
            assert ep.arrived.wait(60), "the question never reached the generator"
            with srv.client() as admin:  # new rules, read by the next request on the KB
                assert admin.put(f"/v1/kbs/{KB}/synonyms", json={"text": "visit, see"}).status_code == 200
                assert admin.post(f"/v1/kbs/{KB}/search", json={"query": "garage"}).status_code == 200
            ep.held = False
            ep.release.set()
            answering.result(timeout=120)  # a first ask: never from the cache
    finally:
        ep.held = False
        ep.release.set()
        with srv.client() as admin:
            admin.delete(f"/v1/kbs/{KB}/synonyms")  # the rules the question came under
    assert _ask(srv, question, "wang")["cached"] is False  # not the answer made during the change
