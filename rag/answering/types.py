"""Typed results of grounded answering: the answer text, its verified citations, timings."""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field

from rag.types import Hit


@dataclass
class Citation:
    n: int             # the marker number in the final answer text: [n]
    doc_id: str
    chunk_id: str
    source: str
    quote: str         # the passage's sentence (or snippet) that best supports the answer
    supported: bool    # passed the support test (False only in `dropped`)
    passage: int = 0   # the passage's number in the prompt (what the model wrote, before renumbering)
    score: float = 0.0  # share of the citing sentence's content tokens found in the passage (a cosine
    #                     when sentence and passage are in different scripts: rag.answering.cite_semantic)
    title: str = ""
    page: int | None = None  # the page the quote is on (its first, when a page break cuts it)
    page_end: int | None = None  # the page the quote ends on: `page` when on one page (rag.answering.quote_pages)
    sentence: str = ""  # the answer sentence it was checked against
    # in `dropped`: why the passage does not back the sentence ("the number 8 days is not in passage [1]",
    # "says 'not open' where passage [2] says it is open": rag.answering.verify), and what became of the
    # sentence: "removed" (taken out of the answer: a fact of it disagrees with the passages),
    # "uncited" (kept without a citation: too few shared words), "kept" (another passage backs it)
    reason: str = ""
    outcome: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    answer: str
    citations: list[Citation]
    refused: bool                      # the model said the knowledge base does not contain the answer
    timings: dict[str, float]          # seconds: retrieve_s, ttft_s, generate_s, total_s, ...
    hits: list[Hit]                    # the passages that were put in the prompt, in prompt order
    dropped: list[Citation] = field(default_factory=list)  # citations the verification rejected, with reasons
    # "extractive": the generator's answer had no support in any passage, so the answer quotes the
    # best-matching passage instead (rag.answering.extract); "unsupported": no support and no passage sentence
    # matching the question either, so the answer is the refusal; "" when the answer is the generator's
    fallback: str = ""
    # why the generator's answer was replaced ("the generated answer gives no amount, where the passages do")
    fallback_reason: str = ""
    # "generate": the generator wrote the answer (or tried: see fallback); "extract": no generator was
    # called, the answer quotes the passages ([answer] mode; Settings.quotes); "refuse": refused on
    # retrieval evidence
    mode: str = "generate"
    # identifies this answer (feedback refers to it: POST /v1/feedback); a fresh uuid hex per answer
    answer_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def dropped_sentences(self) -> list[Citation]:
        """One dropped citation per answer sentence that ended without any citation (removed from the
        answer or left uncited): the sentences whose claims no passage backs."""
        seen: dict[str, Citation] = {}
        for c in self.dropped:
            if c.outcome in ("removed", "uncited") and c.sentence not in seen:
                seen[c.sentence] = c
        return list(seen.values())
