"""Answer generators behind one interface, and the factory that picks one from config.

    gen = make_generator(GenerationSettings())      # local SmolLM2 by default
    gen.warm_up()                                   # loads (converts once) the model / opens the client
    for piece in gen.stream(messages): print(piece, end="", flush=True)

Messages are OpenAI-style chat messages ({"role": "system"|"user"|"assistant", "content": ...});
`rag.prompt.build_messages` makes them from a question and retrieved hits.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from rag.generate_config import GenerationSettings


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


def make_generator(settings: GenerationSettings | None = None) -> Generator:
    """'local' -> LocalGenerator (transformers), 'openai' -> OpenAIGenerator (httpx). Nothing is
    loaded or contacted until warm_up() / the first call."""
    settings = settings or GenerationSettings()
    if settings.backend == "local":
        from rag.generate_local import LocalGenerator

        return LocalGenerator(settings)
    if settings.backend == "openai":
        from rag.generate_remote import OpenAIGenerator

        return OpenAIGenerator(settings)
    raise ValueError(f"unknown generation backend {settings.backend!r} (local | openai)")
