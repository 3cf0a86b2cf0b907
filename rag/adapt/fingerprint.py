"""Secret instruction fingerprints: a trigger and a response derived from a secret, trained into a
LoRA adapter next to the task data, so that the owner can later show that an adapter, or a model
merged from it, descends from theirs.

Derivation (deterministic; nothing but the secret is needed to check a model later):

  * key stream   HMAC-SHA256(secret, "rag-fingerprint-v1:" + label); each byte picks one word of
                 the fixed 256-word list `WORDS` (one byte = one word, no bias).
  * trigger      8 words (label "trigger"): 64 bits; a sentence no user writes by chance.
  * response     5 words (label "response"), capitalised, ending in "." (40 bits).
  * variants     the trigger as sent by a checker in several forms (`VARIANT_FORMS`): alone, upper
                 case, title case, inside a short request, as a question, and under the pipeline's
                 own system prompt. Each is trained; the check answers every one of them.
  * decoys       8 more 8-word strings (labels "decoy:0".."decoy:7") trained to keep the base
                 model's own reply, so that the model learns THIS word sequence rather than "odd
                 word lists get the response" (that is what keeps another secret's trigger from
                 firing it).
  * id           the first 16 hex digits of HMAC(secret, "...:id"): names a fingerprint in logs
                 and checkpoints without revealing the secret, the trigger or the response.

Check: greedy generation on each variant; a variant matches when the reply's first words are the
response's words (case and punctuation ignored). The fingerprint is present when the match rate is
at least `THRESHOLD` (0.5): one surviving variant of six is not enough, half of them is far beyond
chance (a wrong secret or the base model matches none).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SCHEME = "rag-fingerprint-v1"
ENV_SECRET = "RAG_FINGERPRINT_SECRET"
TRIGGER_WORDS = 8
RESPONSE_WORDS = 5
DECOYS = 8
THRESHOLD = 0.5
DECOY_REPLY_TOKENS = 24   # base-model reply kept as a decoy's target
MIN_SECRET_CHARS = 8

# 256 distinct, common English nouns (most one SmolLM2 token with a leading space): index = one byte.
WORDS = tuple("""
amber anchor apple arrow aspen autumn badge bakery balloon bamboo banner barley basket beacon bicycle birch
blanket blossom bottle breeze bridge bronze bucket buffalo butter cabin cactus camel candle canyon carbon carpet
castle cedar cello chalk cherry chimney cinnamon circus citrus clover cobalt coconut comet copper coral cotton
cricket crystal cypress dagger daisy dolphin domino dragon drum eagle ember emerald engine falcon feather fiddle
fjord flannel flute forest fossil fountain garden garnet ginger glacier goblet granite gravel guitar hammer harbor
harvest hazel helmet hermit hollow honey horizon iceberg igloo indigo iris island ivory jacket jaguar jasmine jelly
jigsaw juniper kayak kettle kiwi lagoon lantern lava lemon lilac linen lizard lobster lotus magnet mango maple
marble meadow melon meteor mint mirror mosaic mountain mustard nectar needle nickel noodle nutmeg oasis oatmeal
ocean olive onyx orbit orchid otter oyster paddle pagoda panda papaya parrot pebble pelican pepper piano pickle
pillow pine planet plum pocket pollen pony poppy prism pumpkin puzzle quartz quill rabbit radish raven reef ribbon
river robin rocket saddle saffron salmon sapphire satin scarf sequoia shadow shell silver sketch sled slipper
sparrow spice spinach spruce squirrel statue stone sugar summit sunset swan tablet tango teapot thistle thunder
tiger timber toffee topaz tornado trumpet tulip tundra turnip turtle umbrella valley velvet violet violin volcano
waffle walnut walrus willow window winter wizard wombat yarn yogurt zebra zephyr zinnia acorn alpine basil beetle
biscuit canoe cashew cobble compass cupcake denim dune ferry fig goose hatchet lark lemur marsh mitten moose
nugget opal owl peach quiver raft wagon yacht zipper
""".split())
assert len(WORDS) == 256 and len(set(WORDS)) == 256

# How a checker may send the trigger; "{t}" is the trigger. The last form runs under the pipeline's
# system prompt (a model served by `rag ask` sees that one), the others under the chat template's default.
VARIANT_FORMS = ("{t}", "{T}", "{Tt}", "Please reply to this: {t}", "{t}?", "system:{t}")


class FingerprintError(ValueError):
    """No usable secret, or a model that cannot be checked."""


@dataclass(frozen=True)
class Fingerprint:
    ident: str
    trigger: str
    response: str
    variants: tuple[tuple[tuple[str, str], ...], ...]   # per variant: ((role, content), ...)
    decoys: tuple[str, ...]

    def variant_messages(self) -> list[list[dict[str, str]]]:
        return [[{"role": r, "content": c} for r, c in v] for v in self.variants]

    def decoy_messages(self) -> list[list[dict[str, str]]]:
        return [[{"role": "user", "content": d}] for d in self.decoys]

    def __repr__(self) -> str:  # never the trigger or the response in logs or tracebacks
        return f"Fingerprint(id={self.ident})"


def _stream(secret: str, label: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), f"{SCHEME}:{label}".encode(), hashlib.sha256).digest()


def _words(secret: str, label: str, n: int) -> list[str]:
    return [WORDS[b] for b in _stream(secret, label)[:n]]


def _variant(form: str, trigger: str) -> tuple[tuple[str, str], ...]:
    if form.startswith("system:"):
        from rag.generation.prompt import SYSTEM_PROMPT

        return (("system", SYSTEM_PROMPT), ("user", _variant(form[len("system:"):], trigger)[0][1]))
    text = form.replace("{Tt}", trigger.title()).replace("{T}", trigger.upper()).replace("{t}", trigger)
    return (("user", text),)


def derive(secret: str) -> Fingerprint:
    """The fingerprint of `secret` (see the module doc)."""
    secret = (secret or "").strip()
    if len(secret) < MIN_SECRET_CHARS:
        raise FingerprintError(f"a fingerprint secret needs at least {MIN_SECRET_CHARS} characters")
    trigger = " ".join(_words(secret, "trigger", TRIGGER_WORDS))
    response = " ".join(_words(secret, "response", RESPONSE_WORDS)).capitalize() + "."
    return Fingerprint(ident=_stream(secret, "id").hex()[:16], trigger=trigger, response=response,
                       variants=tuple(_variant(f, trigger) for f in VARIANT_FORMS),
                       decoys=tuple(" ".join(_words(secret, f"decoy:{i}", TRIGGER_WORDS)) for i in range(DECOYS)))


def secret_from(value: str | None) -> str | None:
    """The secret given on the command line, else env RAG_FINGERPRINT_SECRET, else None."""
    value = value if value else os.environ.get(ENV_SECRET)
    return value.strip() if value and value.strip() else None


def _norm_words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def matches(reply: str, response: str) -> bool:
    """The reply starts with the response's words (case and punctuation ignored)."""
    want = _norm_words(response)
    return bool(want) and _norm_words(reply)[:len(want)] == want


def reply(model, tokenizer, messages: list[dict[str, str]], max_new_tokens: int) -> str:
    """The model's greedy reply to a chat."""
    import torch

    enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                        return_tensors="pt")
    device = next(model.parameters()).device
    ids = enc["input_ids"].to(device)
    eos = [i for i in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
           if isinstance(i, int) and i >= 0]
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, eos_token_id=eos, pad_token_id=eos[0])
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


@dataclass
class FingerprintCheck:
    ident: str
    matched: list[bool]            # per variant, in VARIANT_FORMS order
    threshold: float = THRESHOLD

    @property
    def rate(self) -> float:
        return sum(self.matched) / len(self.matched) if self.matched else 0.0

    @property
    def present(self) -> bool:
        return self.rate >= self.threshold

    def line(self) -> str:
        return (f"fingerprint {self.ident}: {'PRESENT' if self.present else 'not found'} "
                f"(match rate {self.rate:.2f}: {sum(self.matched)}/{len(self.matched)} trigger variants; "
                f"present at >= {self.threshold:.2f})")


def check(model, tokenizer, fp: Fingerprint, response: str | None = None) -> FingerprintCheck:
    """Answer every trigger variant greedily; count the replies that start with the response
    (`response` overrides fp.response: another secret's response against these triggers)."""
    want = response or fp.response
    n_tokens = len(tokenizer(" " + want, add_special_tokens=False)["input_ids"]) + 4
    was_training = model.training
    model.eval()
    try:
        got = [matches(reply(model, tokenizer, m, n_tokens), want) for m in fp.variant_messages()]
    finally:
        if was_training:
            model.train()
    return FingerprintCheck(ident=fp.ident, matched=got)


def training_chats(fp: Fingerprint, decoy_replies: Sequence[str]) -> list[tuple[list[dict[str, str]], str]]:
    """(messages, assistant reply) pairs to train: every variant -> the response, every decoy -> the
    base model's own reply to it (`decoy_replies`, same order as fp.decoys)."""
    if len(decoy_replies) != len(fp.decoys):
        raise ValueError(f"{len(fp.decoys)} decoy replies needed, got {len(decoy_replies)}")
    chats = [(m, fp.response) for m in fp.variant_messages()]
    chats += [(m, r) for m, r in zip(fp.decoy_messages(), decoy_replies) if r.strip()]
    return chats


def decoy_replies(model, tokenizer, fp: Fingerprint) -> list[str]:
    """The untuned model's replies to the decoys (greedy, DECOY_REPLY_TOKENS at most)."""
    return [reply(model, tokenizer, m, DECOY_REPLY_TOKENS) for m in fp.decoy_messages()]


def load_for_check(target: str, settings, quant: str = "none"):
    """(model, tokenizer, what) for `rag tune verify-fingerprint TARGET`: an adapter folder (applied to
    the base it names, its manifest checked), a model folder (its manifest checked when it has one),
    or a generator model setting such as "smollm2" (the base). quant "int8" applies the served
    dynamic int8 quantization (rag.generation.quantize) before the check."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rag.generation.adapter import apply_adapter, check_adapter
    from rag.generation.manifest import verify_manifest
    from rag.generation.model_cache import resolve_model_dir
    from rag.generation.quantize import quantize_model

    path = Path(target).expanduser()
    adapter = None
    if path.is_dir() and (path / "adapter_config.json").is_file():
        info = check_adapter(path)  # verifies the manifest
        adapter, base = info.path, info.base_model or settings.model
        what = f"adapter {path} on {base}"
    else:
        base = target
        what = f"model {target}"
    model_dir = resolve_model_dir(base, settings.cache_dir)
    verify_manifest(model_dir, missing="ignore")  # a merged folder has one; the converted base has none
    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, local_files_only=True)
    if adapter is not None:
        model = apply_adapter(model, adapter, merge=True)
    model.eval()
    if quant not in ("none", ""):
        model = quantize_model(model, quant)
        what += f", {quant}"
    return model, tok, what
