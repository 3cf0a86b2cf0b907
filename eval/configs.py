"""Configurations a report compares: the standard ladder, or a --configs YAML file.

A configuration is a name plus overrides of Settings sections, applied over the user's settings
(defaults < config file < environment):

    reference: hybrid            # optional; the others are tested against it (default: the first)
    configs:
      - name: bm25
        retrieval: {mode: bm25}
        answers: false           # retrieval metrics only (no generation)
      - name: hybrid
      - name: hybrid+int8
        generation: {quant: int8}
      - name: chunk-120
        indexer: {chunk: {max_tokens: 120}}   # a different indexer builds its own KB

A plain list of configurations works too. Unknown sections or settings are errors (the settings
classes would silently ignore them).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rag.config import Settings

SECTIONS = ("indexer", "retrieval", "rerank", "generation", "answer")


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    indexer: dict[str, Any] = Field(default_factory=dict)
    retrieval: dict[str, Any] = Field(default_factory=dict)
    rerank: dict[str, Any] = Field(default_factory=dict)
    generation: dict[str, Any] = Field(default_factory=dict)
    answer: dict[str, Any] = Field(default_factory=dict)
    answers: bool = Field(True, description="generate and score answers (False: retrieval only)")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if any(c in v for c in "/\\\n\t"):
            raise ValueError(f"configuration name {v!r} may not contain slashes, tabs or newlines")
        return v

    def overrides(self) -> dict[str, dict[str, Any]]:
        return {s: getattr(self, s) for s in SECTIONS if getattr(self, s)}

    def settings(self, base_config_file: str | None, home: str | Path) -> Settings:
        """The resolved Settings; unknown setting names raise ValueError."""
        named = self.name.replace("{", "{{").replace("}", "}}")
        s = Settings.load(base_config_file, indexer={**self.indexer, "home": str(home)}, retrieval=self.retrieval,
                          rerank=self.rerank, generation=self.generation, answer=self.answer,
                          overrides_from=f"configuration {named!r} ({{key}})")
        for section in SECTIONS:
            values = getattr(self, section)
            _check_keys(f"{self.name}: {section}", values, type(getattr(s, section)))
            unset = {k: None for k, v in values.items() if v is None}  # e.g. rerank: {model: null} = off
            if unset:
                setattr(s, section, getattr(s, section).model_copy(update=unset))
        return s


def _check_keys(where: str, values: dict, cls) -> None:
    for key, value in values.items():
        if key not in cls.model_fields:
            known = ", ".join(sorted(cls.model_fields))
            raise ValueError(f"configuration {where}.{key}: no such setting (known: {known})")
        sub = cls.model_fields[key].annotation
        if isinstance(value, dict) and isinstance(sub, type) and hasattr(sub, "model_fields"):
            _check_keys(f"{where}.{key}", value, sub)


class ConfigSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configs: list[EvalConfig] = Field(min_length=1)
    reference: str | None = None

    def model_post_init(self, _context) -> None:
        names = [c.name for c in self.configs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"configuration names must be unique; repeated: {', '.join(dupes)}")
        if self.reference is None:
            self.reference = names[0]
        elif self.reference not in names:
            raise ValueError(f"reference {self.reference!r} is not one of the configurations ({', '.join(names)})")


def ladder(settings: Settings, adapter: str | None = None) -> ConfigSet:
    """BM25, dense, hybrid, hybrid + rerank (when a reranker is configured); answers for hybrid and
    for the generator variants: quantized (when the generator supports `quant`) and the LoRA adapter."""
    from rag.generation.config import GenerationSettings

    no_rerank = {"model": None} if settings.rerank.model else {}
    configs = [EvalConfig(name="bm25", retrieval={"mode": "bm25"}, rerank=no_rerank, answers=False),
               EvalConfig(name="dense", retrieval={"mode": "dense"}, rerank=no_rerank, answers=False),
               EvalConfig(name="hybrid", retrieval={"mode": "hybrid"}, rerank=no_rerank)]
    if settings.rerank.model:
        configs.append(EvalConfig(name="hybrid+rerank", retrieval={"mode": "hybrid"}, answers=False,
                                  rerank={"model": settings.rerank.model}))
    fields = GenerationSettings.model_fields
    if "quant" in fields:
        from indexer.embed.base import pick_device
        from rag.generation.quantize import resolve_quant

        current = resolve_quant(getattr(settings.generation, "quant", "none") or "none",
                                pick_device(settings.generation.device))
        if current in ("none", None):
            configs[2].generation = {"quant": "none"}
            configs.append(EvalConfig(name="hybrid+int8", retrieval={"mode": "hybrid"}, rerank=no_rerank,
                                      generation={"quant": "int8"}))
        else:
            configs.append(EvalConfig(name="hybrid+fp32", retrieval={"mode": "hybrid"}, rerank=no_rerank,
                                      generation={"quant": "none"}))
    if adapter:
        if "adapter" not in fields:
            raise ValueError("--adapter needs a generator with LoRA adapter support "
                             "(GenerationSettings has no 'adapter' setting in this version)")
        if getattr(settings.generation, "adapter", None):
            configs[2].generation = {**configs[2].generation, "adapter": None}  # hybrid = the base model
        configs.append(EvalConfig(name="hybrid+adapter", retrieval={"mode": "hybrid"}, rerank=no_rerank,
                                  generation={"adapter": str(Path(adapter).resolve())}))
    return ConfigSet(configs=configs, reference="hybrid")


def load_configs(path: str | Path) -> ConfigSet:
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e}") from e
    except yaml.YAMLError as e:
        raise ValueError(f"{path} is not valid YAML: {e}") from e
    if isinstance(data, list):
        data = {"configs": data}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a list of configurations or a mapping with 'configs'")
    try:
        return ConfigSet.model_validate(data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


def key(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (used to share KBs, retrieval runs and generators)."""
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def section_dump(settings: Settings, section: str) -> dict:
    data = getattr(settings, section).model_dump(mode="json")
    if section == "indexer":
        data.pop("home", None)
    return data
