"""Few-shot completion prompts, for base (not instruction-tuned) models such as Gemma 3 270M.

A base model continues text: given worked examples in the very format of our prompts (numbered
<passage> blocks, "Question:", "Answer:" with [n] citations, the refusal sentence when the passages do
not say), it writes the next answer the same way, and a blank line ends it. The chat messages of
rag.generation.prompt are turned into that text: the system prompt stays the first paragraph, the
examples follow (one English, one Chinese, one English and one Chinese refusal), then the user turn
and "Answer:". Earlier turns of a conversation become earlier Question/Answer pairs (without
passages), so a follow-up reads in context.

The header (system prompt + examples) is the same for every question: the llama.cpp backend keeps its
KV state, so only the question's part is prefilled.
"""
from __future__ import annotations

from rag.generation.prompt import NOT_FOUND, NOT_FOUND_ZH

EXAMPLES = f"""Passages:
<passage id=1 title="Cards">
Call 1-800-555-0199 at any time to block a lost card. A new card arrives in 5 business days.
</passage>
<passage id=2 title="Branches">
All branches are open Monday to Friday from 9:00 a.m. to 5:00 p.m.
</passage>

Question: How long does a replacement card take?
Answer: A new card arrives in 5 business days [1].

Passages:
<passage id=1 title="转账">
手机银行转账每日限额为5万元。
</passage>
<passage id=2 title="挂失">
银行卡丢失后，请立即拨打客服电话95555办理挂失，挂失免费。
</passage>

Question: 银行卡丢了怎么办？
Answer: 请立即拨打客服电话95555办理挂失，挂失免费[2]。

Passages:
<passage id=1 title="Loans">
The mortgage down payment is at least 10% of the price.
</passage>

Question: What is the capital of France?
Answer: {NOT_FOUND}

Passages:
<passage id=1 title="存款">
定期存款可以提前支取，提前支取部分按活期利率计息。
</passage>

Question: 今天天气怎么样？
Answer: {NOT_FOUND_ZH}"""

ANSWER = "\nAnswer:"
# A blank line ends the answer, as in the examples; a new "Question:" or "Passages:" means the model
# started writing the next example.
STOP_SEQUENCES = ("\n\n", "\nQuestion:", "\nPassages:")


def header(messages: list[dict[str, str]], examples: bool = True) -> str:
    """The fixed part: the system prompt (if any) and the examples. Without examples (prompt_format
    "completion"): the system prompt only, for a base model LoRA-tuned on this format by `rag tune
    generator`, which then needs no worked examples (a shorter prompt)."""
    system = messages[0]["content"].strip() if messages and messages[0].get("role") == "system" else ""
    return (system + "\n\n" if system else "") + (EXAMPLES + "\n\n" if examples else "")


def cut_answer(text: str) -> str:
    """A whole generated text cut where a streamed answer stops (STOP_SEQUENCES)."""
    stop = StopAt()
    return (stop.feed(text) + stop.flush()).strip()


def completion_text(messages: list[dict[str, str]], examples: bool = True) -> str:
    """The chat messages of rag.generation.prompt as one few-shot completion prompt."""
    return header(messages, examples) + body(messages)


def body(messages: list[dict[str, str]]) -> str:
    """What follows the header: earlier turns as Question/Answer pairs, the user turn, "Answer:"."""
    turns = [m for m in messages if m.get("role") in ("user", "assistant")]
    parts: list[str] = []
    for m in turns[:-1]:  # history: short Question/Answer pairs
        content = " ".join(m["content"].split())
        parts.append(f"Question: {content}" if m["role"] == "user" else f"Answer: {content}\n")
    last = turns[-1]["content"].strip() if turns else ""
    parts.append(last + ANSWER)
    return "\n".join(parts)


class StopAt:
    """Cuts a stream of text pieces at the first stop sequence, holding back only what could be the
    start of one (so nothing of a stop sequence is ever shown)."""

    def __init__(self, stops: tuple[str, ...] = STOP_SEQUENCES):
        self.stops = stops
        self.buf = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        if self.stopped:
            return ""
        self.buf += piece
        cut = min((i for i in (self.buf.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            out, self.buf, self.stopped = self.buf[:cut], "", True
            return out
        keep = max((k for s in self.stops for k in range(1, len(s)) if self.buf.endswith(s[:k])), default=0)
        out, self.buf = self.buf[:len(self.buf) - keep], self.buf[len(self.buf) - keep:]
        return out

    def flush(self) -> str:
        out, self.buf = ("" if self.stopped else self.buf), ""
        return out
