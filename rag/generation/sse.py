"""Server-sent events read from a remote endpoint within a deadline and a size.

`events()` turns the text chunks of a response into the `data` of each event. It looks at the clock
after every chunk received, so a server that keeps the connection busy without finishing (keep-alive
comments every few seconds, a token now and then) is cut off at the deadline: a read timeout alone
never fires while bytes keep coming."""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from rag.generation.base import GenerationError

MAX_LINE_CHARS = 1 << 20  # one event line: an answer's delta is a few characters, a whole answer a few KB


@dataclass
class Deadline:
    """A monotonic point in time for a whole request, retries and their waits included."""

    seconds: float
    at: float = 0.0

    def __post_init__(self) -> None:
        self.at = time.monotonic() + self.seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0


def _lines(chunks: Iterator[str], deadline: Deadline, where: str) -> Iterator[str]:
    buf = ""
    for chunk in chunks:
        if deadline.passed():
            raise GenerationError(f"{where} was still sending after {deadline.seconds:g} s (total_timeout_s); "
                                  "the answer was cut off")
        buf += chunk
        while True:
            cut = min((i for i in (buf.find("\r"), buf.find("\n")) if i >= 0), default=-1)
            if cut < 0:
                break
            if buf[cut] == "\r" and cut + 1 == len(buf):
                break  # a "\r\n" may be split across chunks
            line, buf = buf[:cut], buf[cut + (2 if buf[cut:cut + 2] == "\r\n" else 1):]
            yield line
        if len(buf) > MAX_LINE_CHARS:
            raise GenerationError(f"{where} sent an event line over {MAX_LINE_CHARS} characters")
    if buf:
        yield buf


def events(chunks: Iterator[str], deadline: Deadline, where: str) -> Iterator[str]:
    """The `data` of each server-sent event (multi-line data joined with newlines); GenerationError
    when the deadline passes while the server is still sending or a line grows past MAX_LINE_CHARS."""
    data: list[str] = []
    for line in _lines(chunks, deadline, where):
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):  # comment / keep-alive
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)
