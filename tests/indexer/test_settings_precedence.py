"""Precedence of the settings in a nested section ([indexer.chunk], environment RAG_CHUNK_*): defaults < config file
< environment < CLI overrides, as for every other section (docs/configuration.md). The environment's values for it
were dropped whenever the config file set the section, so the file won."""
import pytest

from indexer.config import SettingsError
from rag.config import Settings


def test_environment_beats_the_config_file_in_a_nested_section(tmp_path, monkeypatch):
    cfg = tmp_path / "rag.toml"
    cfg.write_text("[indexer]\nmax_file_mb = 5\n[indexer.chunk]\nmax_tokens = 111\noverlap_tokens = 7\n")
    assert Settings.load(cfg).indexer.chunk.max_tokens == 111
    monkeypatch.setenv("RAG_CHUNK_MAX_TOKENS", "77")
    s = Settings.load(cfg)
    assert s.indexer.chunk.max_tokens == 77  # the environment
    assert s.indexer.chunk.overlap_tokens == 7 and s.indexer.max_file_mb == 5  # the file, where it alone sets them
    assert s.indexer.chunk.table_max_tokens == 400  # the default
    s = Settings.load(cfg, indexer={"chunk": {"max_tokens": 33}})
    assert s.indexer.chunk.max_tokens == 33  # an override beats both


def test_an_invalid_nested_value_names_the_variable_that_set_it(tmp_path, monkeypatch):
    cfg = tmp_path / "rag.toml"
    cfg.write_text("[indexer.chunk]\nmax_tokens = 111\n")
    monkeypatch.setenv("RAG_CHUNK_OVERLAP_TOKENS", "-1")
    with pytest.raises(SettingsError, match=r"\[indexer.chunk\] overlap_tokens = '-1' \(from environment variable "
                                            r"RAG_CHUNK_OVERLAP_TOKENS\)"):
        Settings.load(cfg)
