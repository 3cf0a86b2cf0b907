"""The default generator backend 'auto': llama.cpp for the bundled GGUF model when llama-cpp-python is
installed, transformers for anything llama.cpp cannot run (an HF folder, a LoRA adapter folder)."""
import pytest

from rag.generation.config import GenerationSettings
from rag.generation.factory import llamacpp_installed, make_generator, resolve_backend


def test_auto_is_the_default_and_picks_llamacpp_for_the_bundled_gguf():
    s = GenerationSettings()
    assert s.backend == "auto"
    assert resolve_backend(s, installed=True) == "llamacpp"
    assert resolve_backend(s, installed=False) == "local"  # not built: transformers, same answers' quality
    assert resolve_backend(GenerationSettings(model="/models/other.gguf"), installed=True) == "llamacpp"


def test_auto_falls_back_to_transformers_where_llamacpp_cannot_run(tmp_path):
    assert resolve_backend(GenerationSettings(model=str(tmp_path)), installed=True) == "local"  # an HF folder
    assert resolve_backend(GenerationSettings(adapter=tmp_path), installed=True) == "local"     # LoRA adapter
    for explicit in ("local", "llamacpp", "openai"):
        assert resolve_backend(GenerationSettings(backend=explicit), installed=False) == explicit


def test_the_bundled_model_quotes_by_default_whichever_engine_runs_it():
    for backend in ("auto", "local", "llamacpp"):
        s = GenerationSettings(backend=backend)
        assert not s.writes("en") and not s.writes("zh")
    assert GenerationSettings(backend="openai").writes("zh")


@pytest.mark.skipif(not llamacpp_installed(), reason="llama-cpp-python is not installed (make setup builds it)")
def test_make_generator_builds_the_resolved_backend():
    from rag.generation.llamacpp import LlamaCppGenerator
    from rag.generation.local import LocalGenerator

    assert isinstance(make_generator(GenerationSettings()), LlamaCppGenerator)  # nothing loads before warm_up
    assert isinstance(make_generator(GenerationSettings(backend="local")), LocalGenerator)
