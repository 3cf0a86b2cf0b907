"""The generator protocol: what every answer generator (local, remote) offers.

    gen = make_generator(GenerationSettings())      # local SmolLM2 by default
    gen.warm_up()                                   # loads (converts once) the model / opens the client
    for piece in gen.stream(messages): print(piece, end="", flush=True)

Messages are OpenAI-style chat messages ({"role": "system"|"user"|"assistant", "content": ...});
`rag.generation.prompt.build_messages` makes them from a question and retrieved hits.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable


class GenerationError(RuntimeError):
    """The generator could not produce an answer (endpoint error, timeout, prompt too long, ...)."""


@runtime_checkable
class Generator(Protocol):
    name: str
    context_window: int

    def warm_up(self, system_prompt: str | None = None) -> None:
        """Load / connect before the first question; `system_prompt`: the one the caller will use (a
        local model prefills it once, so its KV cache is ready for the first answer)."""
        ...

    def stream(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> Iterator[str]: ...

    def generate(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> str: ...

    def count_tokens(self, text: str) -> int: ...


class StreamJoinMixin:
    """generate() = the joined stream()."""

    def generate(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> str:
        return "".join(self.stream(messages, max_new_tokens))


class PeekedWindowMixin:
    """`context_window` for a generator running on this machine: read without loading the model
    (`_peek_window()`: from the model's files, None when they are not there yet), else by loading it
    (`warm_up()`, which sets `_window`). Settable, as tests and callers narrow it."""

    _window: int | None = None

    def _peek_window(self) -> int | None:
        return None

    @property
    def context_window(self) -> int:
        if self._window is None:
            window = self._peek_window()
            if window is None:
                self.warm_up()
            else:
                self._window = window
        return self._window

    @context_window.setter
    def context_window(self, value: int) -> None:
        self._window = int(value)
