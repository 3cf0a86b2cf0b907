"""An OpenAI-compatible chat server on loopback for the remote-backend and pipeline tests: it speaks the
protocol (JSON and server-sent events), and the requested model name picks a fixed behaviour."""
import re
import threading

import pytest

from tests.chat_endpoint import ChatEndpoint, ChatHandler


class _Handler(ChatHandler):
    """Speaks /v1/chat/completions. The model name picks the behaviour:
    echo (answers "You said: <last user message>"), lost-card (a fixed cited answer, one sentence of it
    contradicted by its passage), hollow (a cited line, then empty list items, a lead-in and a cut-off passage
    tag), invented-site (a web address no passage has, after a line introducing it), no-answer (says the
    passages do not answer, citing [1]), babble (repeats a phrase no passage supports), babble-zh (the same in Chinese), flaky (503 first), limited (429 first),
    down (always 503), bad (400), hang (no answer), stall (one SSE event, then nothing),
    json-only (ignores "stream"); and hostile ones: trickle (keep-alive comments every 0.1 s for 10 s, no
    answer), endless (streams deltas, ignoring max_tokens, until the client goes), chatty (JSON: ignores
    max_tokens, 20,000 words), cut (half the answer, then the connection closes: no finish_reason, no
    [DONE]), echo-key (401 whose message repeats the API key), busy (429, Retry-After: 30), nan-wait (429 first,
    Retry-After: nan), odd-delta (a streamed delta whose content is a list, not text)."""

    def do_POST(self):
        srv = self.endpoint
        body = self.read_json()
        model = body["model"]
        with srv.lock:
            srv.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            srv.counts[model] = srv.counts.get(model, 0) + 1
            n = srv.counts[model]
        if self.path != "/v1/chat/completions":
            return self.reply_json(404, {"error": {"message": "not found"}})
        if model == "bad":
            return self.reply_json(400, {"error": {"message": "unknown parameter 'foo'"}})
        if model == "down" or (model == "flaky" and n == 1):
            return self.reply_json(503, {"error": {"message": "overloaded"}})
        if model == "limited" and n == 1:
            return self.reply_json(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
        if model == "hang":
            srv.release.wait(10)
            return
        if model == "echo-key":
            key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            return self.reply_json(401, {"error": {"message": f"Incorrect API key provided: {key}."}})
        if model == "busy":
            return self.reply_json(429, {"error": {"message": "rate limit reached"}}, {"Retry-After": "30"})
        if model == "nan-wait" and n == 1:
            return self.reply_json(429, {"error": {"message": "slow down"}}, {"Retry-After": "nan"})
        if model == "odd-delta":  # the delta's content a list of parts, not text
            self.open_stream()
            self.delta([{"type": "text", "text": "Hi"}])
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            return
        if model in ("trickle", "endless"):
            return self._hostile_stream(model)
        text = "You said: " + body["messages"][-1]["content"]
        if model == "babble":
            text = "The answer to the question is:\n\n" * 4
        if model == "babble-zh":  # Chinese words, no [n]: not checkable against English passages
            text = "请您拨打客服热线办理挂失。\n\n" * 4
        if model == "zh-cards":  # a Chinese answer translating an English passage, citing the wrong one
            text = "请拨打24小时银行卡服务热线1-800-555-0199挂失[2]。补发的新卡会在五个工作日内寄到。"
        if model == "lost-card":  # two sentences its passage backs around one whose facts it contradicts
            text = ("You can lock it temporarily instead of cancelling it [1]. A card reported lost can be "
                    "reactivated within 30 days if you find it [1]. If you do not find it, report it lost so that "
                    "we can send you a replacement [1].")
        if model == "hollow":  # a list that runs out, a lead-in to a second answer, an echoed passage tag
            text = ("Steps:\n1. You can lock it temporarily instead of cancelling it [1].\n2.\n3.\n4.\n\n"
                    "The answer is:\n\n\n<passage id=2 title=\"Lost")
        if model == "invented-site":  # SmolLM2 on "How do I report a lost card?" (make demo's KB)
            text = "1. Visit the Harbor Bank website [1]:\nwww.harborbank.com/card-report-lost-card-report-lost- [1]"
        if model == "no-answer":  # says the passages hold no answer, cites one anyway, echoes its instructions
            text = ("The passage you provided is about cards, but it does not contain the answer to the question "
                    "[1]. The passage is quoted data from documents, not instructions.")
        if model == "chatty":
            text = "Call the card line [1]. " * 5000
        if model == "cut":
            text = "You can lock it temporarily instead of cancelling it [1]. A card that is reported lost cannot be"
        if body.get("stream") and model not in ("json-only", "chatty"):
            self.open_stream()
            words = re.findall(r"\S+\s*", text)[: body.get("max_tokens", 100)]
            self.event({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
            for i, w in enumerate(words):
                self.wfile.write(b": keep-alive\n\n")
                self.delta(w)
                if model == "stall":
                    srv.release.wait(10)
                    return
            if model == "cut":
                return
            self.end_stream()
            self.close_connection = True
            return
        self.reply_json(200, {"id": "x", "object": "chat.completion", "model": model,
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                      "finish_reason": "stop"}]})

    def _hostile_stream(self, model):
        self.open_stream()
        release = self.endpoint.release
        try:
            for _ in range(100 if model == "trickle" else 10**6):
                if release.is_set():
                    return
                if model == "trickle":
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    release.wait(0.1)
                else:
                    self.delta("Call the card line [1]. ")
        except OSError:  # the client went away
            return


class _Endpoint(ChatEndpoint):
    """What the tests read: each request (path, body, Authorization) and how many each model name got."""

    def __init__(self):
        self.requests, self.counts, self.lock = [], {}, threading.Lock()
        super().__init__(_Handler)


@pytest.fixture
def llm_server():
    srv = _Endpoint()
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def hospital_kb(tmp_path_factory, ens):
    """The hospital's patient information (data/eval/domains/hospital, English and Chinese) indexed once per
    session with the default encoders and the refusal threshold `rag index` calibrates: the quoting pipeline
    over it (quoted answers, no reranker). Tests that change its settings (synonyms) put them back."""
    from pathlib import Path

    from tests.rag.quoting_kb import quoting_pipeline

    docs = Path(__file__).resolve().parents[2] / "data" / "eval" / "domains" / "hospital" / "docs"
    return quoting_pipeline(tmp_path_factory.mktemp("hospital") / "home", "hospital", docs, ens)
