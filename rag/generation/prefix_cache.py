"""Prompt-prefix KV cache for the local generator: the system prompt is prefilled once, not per question.

Every grounded-answer prompt starts with the same system turn (~80 of SmolLM2's ~350 prompt tokens).
Its key/value tensors do not depend on what follows (causal attention), so they are computed once per
distinct prefix and every generation starts from a copy, prefilling only the rest of the prompt.
That cuts time to first token by the prefix's share of the prompt (figures: docs/design-notes.md).

    cache = PrefixCache(max_entries=4)
    start = cache.lookup(model, input_ids, prefix_ids)   # a fresh copy of the cached KV, or None
    model.generate(input_ids=input_ids, cache=start, ...)

In float32, greedy output is identical with and without the cache (tests/test_generate.py checks it).
With dynamic int8 linears (`quant = "int8"`, the CPU default) activation scales are computed per
forward call, so prefilling the prompt's rest alone rounds slightly differently, as any change of
prompt length does; the cache stays on there too, as it leaves the gold-citation rate on the Debian
FAQ unchanged.
"""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict

MIN_PREFIX_TOKENS = 8  # shorter prefixes are not worth a cache copy


class PrefixCache:
    """A small LRU of prefilled prompt prefixes (token ids -> transformers DynamicCache), thread-safe."""

    def __init__(self, max_entries: int = 4):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[int, ...], object] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def lookup(self, model, input_ids, prefix_ids: list[int]):
        """A copy of the KV cache for `prefix_ids` (prefilled on first use), or None when the prompt
        `input_ids` (shape 1 x n) does not start with the prefix, or the prefix would leave nothing
        to prefill. The copy is the caller's to extend; the cached original is never handed out."""
        key = tuple(int(i) for i in prefix_ids)
        n = len(key)
        if self.max_entries < 1 or n < MIN_PREFIX_TOKENS or input_ids.shape[0] != 1 or input_ids.shape[1] <= n:
            return None
        if tuple(input_ids[0, :n].tolist()) != key:
            return None
        with self._lock:
            cached = self._entries.get(key)
            if cached is None:
                self.misses += 1
                cached = self._prefill(model, input_ids[:, :n])
                self._entries[key] = cached
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            else:
                self.hits += 1
                self._entries.move_to_end(key)
            return copy.deepcopy(cached)

    @staticmethod
    def _prefill(model, ids):
        import torch
        from transformers import DynamicCache

        kv = DynamicCache(config=model.config)
        with torch.inference_mode():
            model(input_ids=ids.to(model.device), attention_mask=torch.ones_like(ids).to(model.device),
                  cache=kv, use_cache=True, logits_to_keep=1)
        return kv
