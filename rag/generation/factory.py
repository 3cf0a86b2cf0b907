"""The generator factory: `make_generator(GenerationSettings())` picks a backend by name (nothing loads
until warm_up() or the first call)."""
from __future__ import annotations

from rag.generation.base import Generator
from rag.generation.config import GenerationSettings


def make_generator(settings: GenerationSettings | None = None) -> Generator:
    """'local' -> LocalGenerator (transformers), 'llamacpp' -> LlamaCppGenerator (llama.cpp, the GGUF file),
    'openai' -> OpenAIGenerator (httpx). Nothing is loaded or contacted until warm_up() / the first call."""
    settings = settings or GenerationSettings()
    if settings.backend == "local":
        from rag.generation.local import LocalGenerator

        return LocalGenerator(settings)
    if settings.backend == "llamacpp":
        from rag.generation.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(settings)
    if settings.backend == "openai":
        from rag.generation.remote import OpenAIGenerator

        return OpenAIGenerator(settings)
    raise ValueError(f"unknown generation backend {settings.backend!r} (local | llamacpp | openai)")
