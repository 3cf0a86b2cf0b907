"""The generator factory: `make_generator(GenerationSettings())` picks a backend by name (nothing loads
until warm_up() or the first call)."""
from __future__ import annotations

import importlib.util
import logging

from rag.generation.base import Generator
from rag.generation.config import GenerationSettings
from rag.generation.gemma import is_gemma3
from rag.generation.model_cache import SMOLLM2_ALIASES

log = logging.getLogger(__name__)


def llamacpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def resolve_backend(settings: GenerationSettings, installed: bool | None = None) -> str:
    """The backend 'auto' stands for: llama.cpp (6.5x transformers' decode speed, a third of its memory,
    the same answer quality: docs/generator-engines.md) when llama-cpp-python is installed (`make setup`
    builds it), the model is the bundled SmolLM2 or a .gguf file, and any LoRA adapter folder set was
    trained on such a model and can be converted to a GGUF LoRA (rag.generation.gguf_lora); otherwise
    transformers ('local'). Other backends stand for themselves."""
    if settings.backend != "auto":
        return settings.backend
    if is_gemma3(settings.model):
        return "llamacpp"  # only llama.cpp runs it (its backend says how to install llama-cpp-python)
    installed = llamacpp_installed() if installed is None else installed
    gguf = _gguf_model(settings.model)
    if gguf and settings.adapter:
        from rag.generation.adapter import recorded
        from rag.generation.gguf_lora import unsupported

        info = recorded(settings.adapter)
        gguf = _gguf_model(info.base_model) and bool(info.config) and unsupported(info.config) is None
    return "llamacpp" if installed and gguf else "local"


def _gguf_model(model: str) -> bool:
    """A model llama.cpp runs: the bundled SmolLM2, Gemma 3 270M or a .gguf file."""
    return model in SMOLLM2_ALIASES or is_gemma3(model) or str(model).lower().endswith(".gguf")


def make_generator(settings: GenerationSettings | None = None) -> Generator:
    """'local' -> LocalGenerator (transformers), 'llamacpp' -> LlamaCppGenerator (llama.cpp, the GGUF file),
    'openai' -> OpenAIGenerator (httpx), 'auto' -> one of the first two (`resolve_backend`). Nothing is
    loaded or contacted until warm_up() / the first call."""
    settings = settings or GenerationSettings()
    backend = resolve_backend(settings)
    if backend != settings.backend:
        log.info("generation backend auto: %s", backend)
        settings = settings.model_copy(update={"backend": backend})
    if settings.few_shot() and settings.backend != "llamacpp":
        raise ValueError(f"prompt_format {settings.prompt_style()!r} (base models such as gemma3-270m) runs on the "
                         "llamacpp backend, "
                         f"not {settings.backend!r}: set [generation] backend = \"llamacpp\" (or \"auto\") "
                         "with llama-cpp-python installed, or prompt_format = \"chat\"")
    if settings.backend == "local":
        from rag.generation.local import LocalGenerator

        return LocalGenerator(settings)
    if settings.backend == "llamacpp":
        from rag.generation.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(settings)
    if settings.backend == "openai":
        from rag.generation.remote import OpenAIGenerator

        return OpenAIGenerator(settings)
    raise ValueError(f"unknown generation backend {settings.backend!r} (auto | local | llamacpp | openai)")
