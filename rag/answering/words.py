"""The words a quote is matched by: a text's content words, each of a group of equivalents as its group
(rag.answering.equivalents), without the words that only ask."""
from __future__ import annotations

from rag.answering.cite import content_tokens
from rag.answering.equivalents import as_words, canonical

# words that ask rather than name what is asked about ("多少钱", "多久", "how much"): no quote need hold them
ASKING = frozenset({"多少", "多久", "钱", "几", "什么", "时候", "much", "many", "long", "happen"})


def quote_words(text: str) -> set[str]:
    """Content words, each of a group of equivalents as its group, without the words that ask (`ASKING`):
    "as long as you report the loss" shares nothing with "How long ...?"."""
    return canonical(content_tokens(as_words(text))) - ASKING
