"""`rag synth`: synthetic {question, answer, context} training records from a knowledge base's chunks.

Per chunk (up to n, chunks in a seeded random order):
  1. the generator drafts a question from one of the chunk's sentences (a local model's reply is
     started with "What" / "How": asked plainly, SmolLM2-135M mostly restates the text); drafts that
     are not questions or are generic ("what does this text say?") are dropped, and the next
     sentence / question word is tried, up to 2 x `attempts` drafts per chunk;
  2. round-trip filter: the question is kept only when rag.retrieval.hybrid.HybridRetriever returns its own
     chunk in the top `top_k` (a question retrieval cannot route back is ambiguous or off-topic);
  3. the answer is extractive and grounded: the chunk's sentences sharing the most content words
     with the question, each ending with a [n] citation of the chunk's passage number;
  4. the context is the chunk, sometimes with a retrieved distractor chunk from another document
     (in a random position, so the model has to cite the right number).
Then `unanswerable` of the kept questions (as a share) are paired with a chunk from another document
that retrieval does not rank in its top_k; their answer is the prompt's refusal sentence.
"""
from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from indexer.script import is_cjk
from indexer.tokenize import count_tokens as approx_tokens
from rag.adapt.qa_data import QARecord
from rag.answering.extract import extractive_answer
from rag.generation.prompt import NOT_FOUND, NOT_FOUND_ZH
from rag.text import good_sentence, prose_sentences

QUESTION_PROMPT = "Write a question that this text answers."
# For a base model (few-shot prompt format, e.g. Gemma 3 270M): worked examples in both languages whose
# questions ask in other words than the text, as users do; the model continues "Question:" in the
# text's language, and the line ends the draft.
QUESTION_FEWSHOT = """Write the question a customer would ask that the text answers, in the language of the text.

Text: Call 1-800-555-0199 at any time to block a lost card. A new card arrives in 5 business days.
Question: How long does it take to get a replacement card?

Text: 手机银行转账每日限额为5万元，超出部分请到柜台办理。
Question: 手机银行一天最多能转多少钱？

Text: The mortgage down payment is at least 10% of the purchase price for first-time buyers.
Question: How much do I have to put down to buy my first home?

Text: 定期存款可以提前支取，提前支取部分按活期利率计息。
Question: 定期存款没到期能取出来吗？

Text: {statement}
Question:"""
GENERIC = re.compile(r"\b(this|the) (text|passage|question|answer|sentence)\b|answer to|homemade|recipe", re.I)


@dataclass
class SynthReport:
    chunks: int                    # chunks tried
    drafted: int                   # questions that looked like questions
    kept: int                      # ... whose own chunk came back in the top-k
    unanswerable: int
    records: list[QARecord] = field(default_factory=list)

    def line(self) -> str:
        rate = self.kept / self.drafted if self.drafted else 0.0
        return (f"{self.chunks} chunks -> {self.drafted} questions drafted -> {self.kept} kept by the round-trip "
                f"filter ({rate:.0%}); + {self.unanswerable} unanswerable = {len(self.records)} records")


def clean_question(text: str) -> str | None:
    """The first real question in the model's draft (not a generic one such as "what is the answer
    to this question?"), or None when it did not write one."""
    for line in text.splitlines():
        for m in re.finditer(r"[^?？]*[?？]", line):
            q = re.sub(r"^\s*(question|q)\s*[:：]\s*", "", m.group(0).strip(" \"'*-"), flags=re.IGNORECASE).strip()
            if GENERIC.search(q):
                continue
            if 4 <= approx_tokens(q) <= 40:
                return q
    return None


PREFIXES = ("What", "How")


def _sentences(text: str, k: int) -> list[str]:
    """Up to k statement sentences of a chunk to draft questions from (tables and headings skipped)."""
    return [s for s in prose_sentences(text) if good_sentence(s)][:k]


def writes_few_shot(generator) -> bool:
    """Does the generator draft from a few-shot completion prompt (a base model on llama.cpp)?"""
    return bool(getattr(generator, "few_shot", False)) and hasattr(generator, "complete")


def draft_question(generator, statement: str, prefix: str, max_new_tokens: int = 24) -> str:
    """The generator's question for one statement. A base model continues QUESTION_FEWSHOT (in the
    statement's language; `prefix` unused). A chat model gets its answer started with a question word
    (`prefix`): a 135M model asked plainly mostly restates the text instead."""
    if writes_few_shot(generator):
        return generator.complete(QUESTION_FEWSHOT.format(statement=" ".join(statement.split())),
                                  max_new_tokens=max(max_new_tokens, 40), stops=("\n",))
    messages = [{"role": "user", "content": f"Text: {statement}\n\n{QUESTION_PROMPT}"}]
    tok, model = getattr(generator, "tokenizer", None), getattr(generator, "model", None)
    if tok is None or model is None or not getattr(tok, "chat_template", None):
        return generator.generate(messages, max_new_tokens=max_new_tokens)
    import torch

    ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                  return_tensors="pt")["input_ids"]
    ids = torch.cat([ids, tok(prefix, add_special_tokens=False, return_tensors="pt")["input_ids"]], 1)
    ids = ids.to(next(model.parameters()).device)
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, eos_token_id=generator.eos_ids, pad_token_id=generator.pad_id)
    return prefix + tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def synthesize(store, retriever, generator, n: int = 500, top_k: int = 4, unanswerable: float = 0.2,
               attempts: int = 2, max_minutes: float | None = None,
               distractor: float = 0.4, max_context_tokens: int = 300, seed: int = 13,
               progress: bool = True) -> SynthReport:
    """Training records from the store's chunks (see the module doc)."""
    rng = random.Random(seed)
    chunks = [c for d in sorted(store.documents(), key=lambda d: d.doc_id) for c in store.doc_chunks(d.doc_id)
              if approx_tokens(c.text) >= 12]
    rng.shuffle(chunks)
    chunks = chunks[:n]
    report = SynthReport(chunks=len(chunks), drafted=0, kept=0, unanswerable=0)
    kept: list[tuple] = []  # (question, chunk, hits)
    bar = tqdm(chunks, desc="drafting questions", unit="chunk", disable=not progress)
    deadline = time.monotonic() + 60 * max_minutes if max_minutes else None
    few_shot = writes_few_shot(generator)
    for c in bar:
        if deadline and time.monotonic() > deadline:
            report.chunks = bar.n
            bar.write(f"time budget of {max_minutes:g} min used up after {bar.n} chunks")
            break
        prefixes = ("",) if few_shot else PREFIXES
        tries = [(st, p) for st in _sentences(c.text, attempts) for p in prefixes][:2 * attempts]
        for statement, prefix in tries:
            q = clean_question(draft_question(generator, statement, prefix))
            if q is None:
                continue
            report.drafted += 1
            hits = retriever.run(q, max(top_k, 8))
            if c.chunk_id in [h.chunk_id for h in hits[:top_k]] and extractive_answer(q, c.text, 1):
                report.kept += 1
                kept.append((q, c, hits))
                bar.set_postfix(kept=report.kept)
                break
    for q, c, hits in kept:
        context, pos = [c.text], 0
        other = [h for h in hits if h.doc_id != c.doc_id]
        if other and rng.random() < distractor and approx_tokens(c.text + other[0].text) <= max_context_tokens:
            pos = rng.randrange(2)
            context.insert(1 - pos, other[0].text)
        report.records.append(QARecord(question=q, answer=extractive_answer(q, c.text, pos + 1), context=context,
                                       kind="answerable", meta={"chunk_id": c.chunk_id, "doc_id": c.doc_id}))
    n_neg = round(unanswerable * len(kept))
    for q, c, hits in rng.sample(kept, min(n_neg, len(kept))):
        near = {h.chunk_id for h in hits[:max(top_k, 8)]}
        pool = [o for o in chunks if o.doc_id != c.doc_id and o.chunk_id not in near]
        if not pool:
            continue
        wrong = rng.choice(pool)
        report.records.append(QARecord(question=q, answer=NOT_FOUND_ZH if is_cjk(q) else NOT_FOUND,
                                       context=[wrong.text], kind="unanswerable",
                                       meta={"chunk_id": wrong.chunk_id, "question_from": c.chunk_id}))
        report.unanswerable += 1
    rng.shuffle(report.records)
    return report


def split_records(records: Sequence[QARecord], eval_split: float, seed: int = 13
                  ) -> tuple[list[QARecord], list[QARecord]]:
    """(train, held-out): a seeded split stratified by kind, at least one held out of each kind when
    eval_split > 0 and the kind has 2+ records."""
    rng = random.Random(seed)
    train, held = [], []
    for kind in ("answerable", "unanswerable"):
        group = [r for r in records if r.kind == kind]
        rng.shuffle(group)
        k = round(eval_split * len(group))
        if eval_split > 0 and k == 0 and len(group) >= 2:
            k = 1
        held += group[:k]
        train += group[k:]
    rng.shuffle(train)
    rng.shuffle(held)  # kinds interleaved: a cap on held-out records keeps both
    return train, held
