"""Answer quality on held-out question/answer/context records: token F1, citation hit, refusal accuracy.

  token F1       rag.metrics.token_f1 (the evaluation's definition) against the reference answer;
                 answerable records only.
  citation hit   answerable records whose answer cites, by its OWN markers, a passage the reference
                 cites and that passes rag.answering.cite's support check (no citation is attached for it).
  refusal acc.   all records: the answer refuses ("not in the knowledge base") exactly when the
                 reference does.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from tqdm import tqdm

from rag.adapt.qa_data import QARecord, completion_prompt_ids, record_hits, record_messages
from rag.answering.cite import cite, is_refusal
from rag.metrics import token_f1


def citation_hit(prediction: str, record: QARecord, min_overlap: float = 0.3) -> bool:
    gold = set(record.cited or [1])
    cited = cite(prediction, record_hits(record), min_overlap, attach=False)
    return any(c.passage in gold for c in cited.citations)


@dataclass
class QAScores:
    n: int
    answerable: int
    unanswerable: int
    token_f1: float
    citation_hit: float
    refusal_acc: float

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (f"token F1 {self.token_f1:.3f}  citation hit {self.citation_hit:.3f}  "
                f"refusal acc {self.refusal_acc:.3f}  (n={self.n}: {self.answerable} answerable, "
                f"{self.unanswerable} unanswerable)")


def score(records: Sequence[QARecord], predictions: Sequence[str]) -> QAScores:
    ans = [(r, p) for r, p in zip(records, predictions) if r.answerable]
    n = len(records)
    return QAScores(
        n=n, answerable=len(ans), unanswerable=n - len(ans),
        token_f1=sum(token_f1(p, r.answer) for r, p in ans) / len(ans) if ans else 0.0,
        citation_hit=sum(citation_hit(p, r) for r, p in ans) / len(ans) if ans else 0.0,
        refusal_acc=sum(is_refusal(p) == (not r.answerable) for r, p in zip(records, predictions)) / n if n else 0.0)


def generate_answers(model, tokenizer, records: Sequence[QARecord], max_new_tokens: int = 64,
                     budget: int = 400, desc: str = "answering", progress: bool = True,
                     on_answer: Callable[[int, str], None] | None = None, fmt: str = "chat") -> list[str]:
    """Greedy answers of a transformers model to the records' pipeline prompts; `fmt` 'chat' (the chat
    template), 'few-shot' or 'completion' (rag.generation.fewshot, with or without worked examples)."""
    import torch

    from rag.generation.fewshot import cut_answer

    count = lambda t: len(tokenizer(t, add_special_tokens=False)["input_ids"])  # noqa: E731
    device = next(model.parameters()).device
    eos = [i for i in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
           if isinstance(i, int) and i >= 0]
    out: list[str] = []
    was_training = model.training
    model.eval()
    for i, rec in enumerate(tqdm(records, desc=desc, unit="q", disable=not progress, leave=False)):
        messages = record_messages(rec, count, budget)
        if fmt == "chat":
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                return_dict=True, return_tensors="pt")["input_ids"]
            stops = {}
        else:
            ids = torch.tensor([completion_prompt_ids(tokenizer, messages, examples=fmt == "few-shot")])
            stops = {"stop_strings": ["\n\n"], "tokenizer": tokenizer}
        ids = ids.to(device)
        with torch.inference_mode():
            gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, eos_token_id=eos, pad_token_id=eos[0], **stops)
        text = tokenizer.decode(gen[0, ids.shape[1]:], skip_special_tokens=True).strip()
        if fmt != "chat":
            text = cut_answer(text)
        out.append(text)
        if on_answer:
            on_answer(i, text)
    if was_training:
        model.train()
    return out
