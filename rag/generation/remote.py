"""Answer generation through any OpenAI-compatible chat-completions endpoint (DeepSeek, vLLM,
Ollama, llama.cpp server, OpenAI ...), with httpx.

POST {base_url}/chat/completions; `stream()` asks for server-sent events (`"stream": true`) and
yields each `choices[0].delta.content` as it arrives; `generate()` makes one plain JSON request.
Connect errors, 5xx and 429 are retried with exponential backoff (Retry-After honoured), but only
before any text has been yielded; other 4xx fail at once; a read timeout (no bytes for
`timeout_s`) fails without retry, so a hung server costs the user one timeout, not several.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

from indexer.script import CJK_RUN
from rag.generation.base import GenerationError
from rag.generation.config import GenerationSettings

log = logging.getLogger(__name__)
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 30.0


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
    def _open(self, payload: dict):
        """Send the request, retrying what is retryable; returns an open streaming response with
        a 2xx status (the caller closes it)."""
        import httpx

        self.warm_up()
        s = self.settings
        delay = s.backoff_s
        self.attempts = 0
        for attempt in range(s.retries + 1):
            self.attempts += 1
            last = attempt == s.retries
            try:
                req = self._client.build_request("POST", "chat/completions", json=payload)
                resp = self._client.send(req, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if last:
                    raise GenerationError(f"cannot reach {s.base_url} after {self.attempts} attempt(s): "
                                          f"{exc.__class__.__name__}: {exc}") from exc
                log.warning("LLM endpoint %s: %s; retrying in %.1f s", s.base_url, exc.__class__.__name__, delay)
            except httpx.TimeoutException as exc:
                raise GenerationError(f"{s.base_url} did not answer within {s.timeout_s} s") from exc
            else:
                if resp.status_code < 300:
                    return resp
                detail = _error_detail(resp)
                if resp.status_code not in RETRY_STATUS or last:
                    raise GenerationError(f"{s.base_url} answered HTTP {resp.status_code} after "
                                          f"{self.attempts} attempt(s): {detail}")
                wait = _retry_after(resp)
                delay = wait if wait is not None else delay
                log.warning("LLM endpoint %s: HTTP %d; retrying in %.1f s", s.base_url, resp.status_code, delay)
            time.sleep(delay)
            delay = max(delay * 2, 0.05) if s.backoff_s > 0 else 0.0
        raise AssertionError("unreachable")

    def stream(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> Iterator[str]:
        import httpx

        if not self.settings.stream:
            yield self.generate(messages, max_new_tokens)
            return
        t0 = time.perf_counter()
        first = None
        resp = self._open(self._payload(messages, max_new_tokens, stream=True))
        try:
            if "text/event-stream" not in resp.headers.get("content-type", ""):
                # a server that ignores "stream": one JSON body
                resp.read()
                text = _content(_json(resp), self.settings.base_url)
                if text:
                    first = time.perf_counter()
                    yield text
                return
            for data in _sse_data(resp.iter_lines()):
                if data.strip() == "[DONE]":
                    break
                try:
                    event = json.loads(data)
                except ValueError as exc:
                    raise GenerationError(f"bad event from {self.settings.base_url}: {data[:200]!r}") from exc
                if event.get("error"):
                    raise GenerationError(f"{self.settings.base_url} reported an error: {event['error']}")
                for choice in event.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        first = first or time.perf_counter()
                        yield piece
        except httpx.TimeoutException as exc:
            raise GenerationError(f"{self.settings.base_url} stalled for {self.settings.timeout_s} s "
                                  "while streaming") from exc
        except httpx.TransportError as exc:
            raise GenerationError(f"the stream from {self.settings.base_url} broke: {exc}") from exc
        finally:
            resp.close()
            total = time.perf_counter() - t0
            self.last_stats = {"ttft_s": (first - t0) if first else total, "total_s": total}

    def generate(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> str:
        import httpx

        t0 = time.perf_counter()
        resp = self._open(self._payload(messages, max_new_tokens, stream=False))
        try:
            resp.read()
        except httpx.TimeoutException as exc:
            raise GenerationError(f"{self.settings.base_url} stalled for {self.settings.timeout_s} s") from exc
        finally:
            resp.close()
        total = time.perf_counter() - t0
        self.last_stats = {"ttft_s": total, "total_s": total}
        return _content(_json(resp), self.settings.base_url)


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The `data` of each server-sent event (multi-line data joined with newlines)."""
    buf: list[str] = []
    for line in lines:
        line = line.rstrip("\r")
        if not line:
            if buf:
                yield "\n".join(buf)
                buf = []
            continue
        if line.startswith(":"):  # comment / keep-alive
            continue
        field, _, value = line.partition(":")
        if field == "data":
            buf.append(value[1:] if value.startswith(" ") else value)
    if buf:
        yield "\n".join(buf)


def _json(resp) -> dict:
    try:
        return resp.json()
    except ValueError as exc:
        raise GenerationError(f"non-JSON answer from the LLM endpoint: {resp.text[:200]!r}") from exc


def _content(body: dict, where: str) -> str:
    try:
        return body["choices"][0]["message"].get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise GenerationError(f"unexpected answer from {where}: {str(body)[:200]}") from exc


def _error_detail(resp) -> str:
    try:
        resp.read()
        body = resp.json()
        err = body.get("error", body) if isinstance(body, dict) else body
        return str(err.get("message", err) if isinstance(err, dict) else err)[:300]
    except Exception:  # noqa: BLE001 - best effort
        return (resp.text or "")[:300]
    finally:
        resp.close()


def _retry_after(resp) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S) if value is not None else None
    except ValueError:
        return None
