"""OpenAI-compatible chat endpoints (POST /v1/chat/completions: DeepSeek, vLLM, a proxy) played on loopback for the
tests of the remote generator. A test writes what its endpoint does as a ChatHandler's do_POST, with the helpers
here for the protocol (JSON replies, server-sent events), and serves it with ChatEndpoint, whose attributes are
the test's handle on it (the handler reads them as `self.endpoint`)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ChatHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def endpoint(self) -> Any:
        """The ChatEndpoint serving this request (subclasses of it add their own state)."""
        return self.server.endpoint  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass

    def read_json(self) -> dict:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def reply_json(self, status: int, obj: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def open_stream(self) -> None:
        """A 200 answer of server-sent events, ended by closing the connection."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()

    def event(self, obj: dict) -> None:
        self.wfile.write(f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode())
        self.wfile.flush()

    def delta(self, content: object) -> None:
        """One streamed piece of the answer (`content`: text, or what a misbehaving endpoint sends instead)."""
        self.event({"choices": [{"index": 0, "delta": {"content": content}}]})

    def end_stream(self) -> None:
        """The answer's end, as a well-behaved endpoint says it: finish_reason, then [DONE]."""
        self.event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class ChatEndpoint:
    """`handler` served on 127.0.0.1 (a free port) from a daemon thread; `url` is its base URL (RAG_LLM_BASE_URL).
    `release` lets go of every request the handler holds (hanging, trickling, waiting for the test); close()
    sets it, then stops the server."""

    def __init__(self, handler: type[ChatHandler]):
        self.release = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads, self.httpd.block_on_close = True, False
        self.httpd.endpoint = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
