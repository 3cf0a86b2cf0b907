"""Answer generation through any OpenAI-compatible chat-completions endpoint (DeepSeek, vLLM,
Ollama, llama.cpp server, OpenAI ...), with httpx.

POST {base_url}/chat/completions; `stream()` asks for server-sent events (`"stream": true`) and
yields each `choices[0].delta.content` as it arrives; `generate()` makes one plain JSON request.
Connect errors, 5xx and 429 are retried with exponential backoff (Retry-After honoured), but only
before any text has been yielded; other 4xx fail at once; a read timeout (no bytes for
`timeout_s`) fails without retry, so a hung server costs the user one timeout, not several.

Bounded whatever the server does: the whole request, retries and their waits included, ends by
`total_timeout_s` (a server trickling keep-alives never hits the read timeout, and held the answer's
generation worker, shared by every KB, for as long as it liked); an answer is cut at OVERRUN times the
`max_tokens` asked for (a server that ignores it streamed without end); a JSON body is read up to
MAX_BODY_BYTES; a stream that ends without `[DONE]` or a `finish_reason` is an error, not an answer
cut short that reads as whole. Error messages never hold the API key, even where the server echoes it.
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator

from indexer.script import CJK_RUN
from rag.generation.base import GenerationError
from rag.generation.config import GenerationSettings
from rag.generation.sse import Deadline, events

log = logging.getLogger(__name__)
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0
# an answer is cut at this many times the max_tokens asked for, counted with count_tokens (an estimate:
# 2x leaves room for a tokenizer that splits finer than it guesses; a server honouring max_tokens stays under)
OVERRUN = 2
MAX_BODY_BYTES = 4 << 20  # a non-streamed JSON answer; a few KB for any max_tokens in use


class OpenAIGenerator:
    def __init__(self, settings: GenerationSettings | None = None, client=None):
        self.settings = settings or GenerationSettings(backend="openai")
        self.name = self.settings.model
        self.context_window = self.settings.context_window or 8192
        self._client = client
        self.attempts = 0  # HTTP requests made by the last call (for logs and tests)
        self.last_stats: dict[str, float] = {}

    # ------------------------------------------------------------------ setup
    def warm_up(self, system_prompt: str | None = None) -> None:
        """Creates the HTTP client (no request is made: the endpoint may bill or be slow to wake)."""
        if self._client is None:
            import httpx

            s = self.settings
            headers = {"Accept": "application/json, text/event-stream"}
            key = s.api_key()
            if key:
                headers["Authorization"] = f"Bearer {key}"
            self._client = httpx.Client(
                base_url=s.base_url.rstrip("/") + "/", headers=headers,
                timeout=httpx.Timeout(s.timeout_s, connect=s.connect_timeout_s))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def count_tokens(self, text: str) -> int:
        """Rough estimate (the remote tokenizer is unknown): a CJK character ~ 1 token, other text
        ~ 4 characters per token."""
        cjk = sum(len(m) for m in CJK_RUN.findall(text))
        return cjk + (len(text) - cjk + 3) // 4

    def _payload(self, messages: list[dict[str, str]], max_new_tokens: int | None, stream: bool) -> dict:
        s = self.settings
        body = {"model": s.model, "messages": messages, "max_tokens": max_new_tokens or s.max_new_tokens,
                "temperature": s.temperature, "stream": stream}
        if s.temperature > 0 and s.top_p < 1:
            body["top_p"] = s.top_p
        return body

    # ------------------------------------------------------------------ requests
    def _open(self, payload: dict, deadline: Deadline):
        """Send the request, retrying what is retryable while `deadline` allows; returns an open
        streaming response with a 2xx status (the caller closes it)."""
        import httpx

        self.warm_up()
        s = self.settings
        delay = s.backoff_s
        self.attempts = 0
        for attempt in range(s.retries + 1):
            self.attempts += 1
            last = attempt == s.retries
            # no single wait may run past the deadline either
            left = max(deadline.left(), 0.001)
            timeout = httpx.Timeout(min(s.timeout_s, left), connect=min(s.connect_timeout_s, left))
            try:
                req = self._client.build_request("POST", "chat/completions", json=payload, timeout=timeout)
                resp = self._client.send(req, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if last or deadline.passed():
                    raise GenerationError(self._scrub(f"cannot reach {s.base_url} after {self.attempts} attempt(s): "
                                                      f"{exc.__class__.__name__}: {exc}")) from exc
                log.warning("LLM endpoint %s: %s; retrying in %.1f s", s.base_url, exc.__class__.__name__, delay)
            except httpx.TimeoutException as exc:
                raise GenerationError(f"{s.base_url} did not answer within {min(s.timeout_s, left):g} s") from exc
            else:
                if resp.status_code < 300:
                    return resp
                detail = self._scrub(_error_detail(resp))
                if resp.status_code not in RETRY_STATUS or last:
                    raise GenerationError(f"{s.base_url} answered HTTP {resp.status_code} after "
                                          f"{self.attempts} attempt(s): {detail}")
                wait = _retry_after(resp)
                delay = wait if wait is not None else delay
                if delay >= deadline.left():
                    raise GenerationError(f"{s.base_url} answered HTTP {resp.status_code} ({detail}); retrying in "
                                          f"{delay:g} s would pass total_timeout_s ({s.total_timeout_s:g} s)")
                log.warning("LLM endpoint %s: HTTP %d; retrying in %.1f s", s.base_url, resp.status_code, delay)
            time.sleep(min(delay, max(deadline.left(), 0)))
            if deadline.passed():
                raise GenerationError(f"{s.base_url}: no answer within total_timeout_s ({s.total_timeout_s:g} s) "
                                      f"after {self.attempts} attempt(s)")
            delay = max(delay * 2, 0.05) if s.backoff_s > 0 else 0.0
        raise AssertionError("unreachable")

    def _scrub(self, text: str) -> str:
        """`text` without the API key (a server may echo it in its error message)."""
        key = self.settings.api_key()
        return text.replace(key, "[redacted]") if key and len(key) >= 4 else text

    def stream(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> Iterator[str]:
        import httpx

        if not self.settings.stream:
            yield self.generate(messages, max_new_tokens)
            return
        t0 = time.perf_counter()
        first = None
        where = self.settings.base_url
        deadline = Deadline(self.settings.total_timeout_s)
        payload = self._payload(messages, max_new_tokens, stream=True)
        budget, written = OVERRUN * payload["max_tokens"], 0
        resp = self._open(payload, deadline)
        try:
            if "text/event-stream" not in resp.headers.get("content-type", ""):
                # a server that ignores "stream": one JSON body
                text = self._cap(_content(_json(resp, _read_capped(resp, deadline, where)), where), budget)
                if text:
                    first = time.perf_counter()
                    yield text
                return
            finished = False
            for data in events(resp.iter_text(), deadline, where):
                if data.strip() == "[DONE]":
                    finished = True
                    break
                try:
                    event = json.loads(data)
                except ValueError as exc:
                    raise GenerationError(f"bad event from {where}: {data[:200]!r}") from exc
                if not isinstance(event, dict):
                    raise GenerationError(f"bad event from {where}: {data[:200]!r}")
                if event.get("error"):
                    raise GenerationError(self._scrub(f"{where} reported an error: {event['error']}"))
                for choice in event.get("choices") or []:
                    if not isinstance(choice, dict):
                        raise GenerationError(f"bad event from {where}: {data[:200]!r}")
                    finished = finished or bool(choice.get("finish_reason"))
                    delta = choice.get("delta") or {}
                    piece = (delta.get("content") or "") if isinstance(delta, dict) else None
                    if not isinstance(piece, str):  # a list, a number... where the text belongs
                        raise GenerationError(f"bad event from {where}: the delta is not text: {data[:200]!r}")
                    if not piece:
                        continue
                    first = first or time.perf_counter()
                    written += self.count_tokens(piece)
                    yield piece
                    if written >= budget:
                        log.warning("LLM endpoint %s ignored max_tokens=%d; the answer was cut at %d tokens",
                                    where, payload["max_tokens"], written)
                        return
            if not finished:
                raise GenerationError(f"the stream from {where} ended before the answer was complete "
                                      "(no [DONE] and no finish_reason)")
        except httpx.TimeoutException as exc:
            raise GenerationError(f"{where} stalled for {self.settings.timeout_s} s while streaming") from exc
        except httpx.TransportError as exc:
            raise GenerationError(f"the stream from {where} broke: {exc}") from exc
        finally:
            resp.close()
            total = time.perf_counter() - t0
            self.last_stats = {"ttft_s": (first - t0) if first else total, "total_s": total}

    def generate(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> str:
        import httpx

        t0 = time.perf_counter()
        where = self.settings.base_url
        deadline = Deadline(self.settings.total_timeout_s)
        payload = self._payload(messages, max_new_tokens, stream=False)
        resp = self._open(payload, deadline)
        try:
            body = _read_capped(resp, deadline, where)
        except httpx.TimeoutException as exc:
            raise GenerationError(f"{where} stalled for {self.settings.timeout_s} s") from exc
        except httpx.TransportError as exc:
            raise GenerationError(f"the answer from {where} broke off: {exc}") from exc
        finally:
            resp.close()
        total = time.perf_counter() - t0
        self.last_stats = {"ttft_s": total, "total_s": total}
        return self._cap(_content(_json(resp, body), where), OVERRUN * payload["max_tokens"])

    def _cap(self, text: str, budget: int) -> str:
        """`text` cut where its estimated tokens reach `budget` (a server that ignored max_tokens)."""
        if self.count_tokens(text) <= budget:
            return text
        lo, hi = 0, len(text)
        while lo < hi:  # the longest head within the budget
            mid = (lo + hi + 1) // 2
            if self.count_tokens(text[:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        log.warning("LLM endpoint %s ignored max_tokens; the answer was cut at %d tokens",
                    self.settings.base_url, budget)
        return text[:lo]


def _read_capped(resp, deadline: Deadline, where: str) -> bytes:
    """The body, at most MAX_BODY_BYTES, read by the deadline."""
    body = bytearray()
    for chunk in resp.iter_bytes():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise GenerationError(f"{where} sent an answer over {MAX_BODY_BYTES} bytes")
        if deadline.passed():
            raise GenerationError(f"{where} was still sending after {deadline.seconds:g} s (total_timeout_s)")
    return bytes(body)


def _json(resp, body: bytes) -> dict:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise GenerationError(f"non-JSON answer from the LLM endpoint: {body[:200]!r}") from exc


def _content(body: dict, where: str) -> str:
    try:
        text = body["choices"][0]["message"].get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise GenerationError(f"unexpected answer from {where}: {str(body)[:200]}") from exc
    if not isinstance(text, str):
        raise GenerationError(f"unexpected answer from {where}: content is not text: {str(text)[:200]}")
    return text


def _error_detail(resp) -> str:
    """The error's message, from the first 64 KB of the body (an error page can be of any size)."""
    raw = b""
    try:
        for chunk in resp.iter_bytes():
            raw += chunk
            if len(raw) >= 1 << 16:
                break
        body = json.loads(raw)
        err = body.get("error", body) if isinstance(body, dict) else body
        return str(err.get("message", err) if isinstance(err, dict) else err)[:300]
    except Exception:  # noqa: BLE001 - best effort
        return raw[:300].decode("utf-8", "replace")
    finally:
        resp.close()


def _retry_after(resp) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:  # an HTTP date: the backoff's own delay is used
        return None
    if seconds is None or not math.isfinite(seconds):  # 'nan' would reach time.sleep, which rejects it
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)
