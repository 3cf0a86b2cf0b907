"""`rag tune reranker`: train a cross-encoder on a knowledge base's own chunks, and measure it.

No trained cross-encoder ships with the project, so one is adapted from the bundled MiniLM weights
(a fresh 1-logit head on its BERT encoder) with pairs mined from the KB itself:

* pseudo-queries per chunk: sentences sampled from the chunk (inverse cloze task: the sentence is
  removed from the positive passage, except `keep_sentence` of the time, so the model has to match
  meaning, not copy text; English splits on . ! ?, Chinese on 。！？；, wrapped lines are joined back)
  and the chunk's section heading (its last ' > ' part; the positive is then the text without it);
* positive: the chunk the query came from;
* hard negatives: other chunks the hybrid retriever returns for the query, from other documents
  (same_doc_negatives=True adds the document's other sections, never the chunks holding the query).

A `holdout` share of the mined queries is kept out of training; they are run through retrieval
without and with the trained reranker and MRR@10 is reported for both, so a reranker that does not
help is seen before it is switched on. The held-out queries also choose the blend weight of the
cross-encoder's score with retrieval's (`rag.rerank.cross_encoder.blend`), saved beside the model; the reported
"with" figure ranks each half of them at the weight chosen on the other half. Training is a plain PyTorch loop (the `datasets` package that
sentence-transformers' CrossEncoderTrainer needs is not a dependency): listwise softmax loss over
each query's positive and negatives (or BinaryCrossEntropyLoss), AdamW, linear warm-up/decay, seeded.
"""
from __future__ import annotations

import json
import math
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from indexer.embed.base import default_minilm_path, pick_device
from indexer.tokenize import count_tokens
from rag.metrics import mrr_at_k
from rag.rerank.cross_encoder import WEIGHT_FILE, CrossEncoderReranker, blend, passage_text
from rag.text import good_sentence, prose_sentences


@dataclass
class MinedQuery:
    query: str
    kind: str                      # "sentence" | "title"
    doc_id: str
    chunk_id: str                  # the chunk the query was made from
    passage: str                   # its positive training passage (sentence / heading removed)
    relevant: set[str] = field(default_factory=set)  # chunk ids counted as right answers


@dataclass
class TuneReport:
    mrr_without: float             # MRR@10 on held-out queries, retrieval only
    mrr_with: float                # ... retrieval + the trained reranker blended at the chosen weight
                                   #     (cross-fitted: each half ranked at the weight chosen on the other)
    mrr_cross_encoder_only: float  # ... the cross-encoder's order alone (weight 1)
    weight: float                  # the blend weight chosen on all held-out queries, saved with the model
    eval_queries: int
    train_queries: int             # = positive pairs
    train_pairs: int               # positives + hard negatives
    seconds: float                 # training time (mining and evaluation excluded)
    out_dir: str

    @property
    def gain(self) -> float:
        return self.mrr_with - self.mrr_without

    def to_dict(self) -> dict:
        return {**asdict(self), "gain": self.gain}


# ---- mining -------------------------------------------------------------------------------------
def _locate(sentence: str, text: str) -> re.Match | None:
    """Where a sentence from prose_sentences sits in the raw text (line breaks and spaces may differ)."""
    chars = [re.escape(ch) for ch in sentence if not ch.isspace()]
    return re.search(r"\s*".join(chars), text) if chars else None


def _leaf(title: str) -> str:
    return title.rsplit(">", 1)[-1].strip()


def mine_queries(store, sentences_per_chunk: int = 2, titles: bool = True, keep_sentence: float = 0.1,
                 seed: int = 13) -> list[MinedQuery]:
    """Pseudo-queries for every chunk of the store (deterministic for a seed)."""
    rng = random.Random(seed)
    out: list[MinedQuery] = []
    for doc in sorted(store.documents(), key=lambda d: d.doc_id):
        chunks = store.doc_chunks(doc.doc_id)
        seen_titles: set[str] = set()
        for c in chunks:
            sents = [s for s in prose_sentences(c.text) if good_sentence(s)]
            for s in rng.sample(sents, min(sentences_per_chunk, len(sents))) if len(sents) > 1 else []:
                m = _locate(s, c.text)
                if m is None:  # cannot happen for text split here; never train on a passage still holding it
                    continue
                rest = c.text if rng.random() < keep_sentence else c.text[:m.start()] + " " + c.text[m.end():]
                relevant = {x.chunk_id for x in chunks if _locate(s, x.text)} | {c.chunk_id}  # overlaps repeat it
                out.append(MinedQuery(s, "sentence", c.doc_id, c.chunk_id, passage_text(c.title, rest.strip()),
                                      relevant))
            leaf = _leaf(c.title)
            if titles and leaf and leaf not in seen_titles and count_tokens(leaf) >= 2:
                seen_titles.add(leaf)
                relevant = {x.chunk_id for x in chunks if _leaf(x.title) == leaf}
                out.append(MinedQuery(leaf, "title", c.doc_id, c.chunk_id, c.text, relevant))
    return out


def split_holdout(queries: list[MinedQuery], holdout: float = 0.2, seed: int = 13):
    """(train, held-out): a random `holdout` share of the queries is kept out of training.

    The split is by query, not by chunk: the reranker is trained on the KB it will rerank, so its
    chunks are known; what the held-out part measures is queries it has not seen."""
    order = list(range(len(queries)))
    random.Random(seed).shuffle(order)
    n_out = round(len(queries) * holdout) if len(queries) > 1 else 0
    held = set(order[:n_out])
    return [q for i, q in enumerate(queries) if i not in held], [q for i, q in enumerate(queries) if i in held]


@dataclass
class Group:
    """One training query with its positive passage and hard negatives."""
    query: str
    positive: str
    negatives: list[str]

    def pairs(self) -> list[tuple[str, str, float]]:
        return [(self.query, self.positive, 1.0)] + [(self.query, n, 0.0) for n in self.negatives]


def mine_groups(queries: list[MinedQuery], retriever, negatives: int = 3, max_pairs: int | None = None,
                candidates: int = 20, same_doc: bool = False, seed: int = 13, progress: bool = False) -> list[Group]:
    """Positive + up to `negatives` hard negatives per query: the retriever's best hits for it that are
    not among its relevant chunks (those holding the sentence, overlaps included, or the heading), from
    other documents only unless same_doc (sibling sections are near-duplicates of the topic; on the
    sample KB they made the held-out result worse). Stops at max_pairs pairs in all."""
    from tqdm import tqdm

    queries = list(queries)
    random.Random(seed).shuffle(queries)
    groups: list[Group] = []
    total = 0
    for q in tqdm(queries, desc="mining hard negatives", disable=not progress):
        if max_pairs is not None and total + 2 > max_pairs:
            break
        hits = retriever.run(q.query, candidates)
        negs = [passage_text(h.title, h.text) for h in hits
                if h.chunk_id not in q.relevant and (same_doc or h.doc_id != q.doc_id)]
        negs = negs[:negatives if max_pairs is None else min(negatives, max_pairs - total - 1)]
        if negs:
            groups.append(Group(q.query, q.passage, negs))
            total += 1 + len(negs)
    return groups


# ---- measurement --------------------------------------------------------------------------------
def mrr_at_10(ranked_chunk_ids: list[str], relevant: set[str]) -> float:
    return mrr_at_k(ranked_chunk_ids, dict.fromkeys(relevant, 1.0), 10)


WEIGHTS = tuple(i / 10 for i in range(11))  # blend weights tried (0 = retrieval order, 1 = cross-encoder only)


@dataclass
class Scored:
    """One held-out query's candidates: retrieval order, both scores, and which are right."""
    chunk_ids: list[str]
    fused: list[float]
    rerank: list[float]
    relevant: set[str]

    def mrr(self, weight: float | None) -> float:
        """MRR@10 in retrieval order (weight None) or in the blend's order."""
        if weight is None:
            return mrr_at_10(self.chunk_ids, self.relevant)
        final = blend(self.rerank, self.fused, weight)
        order = sorted(range(len(final)), key=lambda i: -final[i])
        return mrr_at_10([self.chunk_ids[i] for i in order], self.relevant)


def score_queries(queries: list[MinedQuery], retriever, reranker: CrossEncoderReranker,
                  progress: bool = False) -> list[Scored]:
    """The retriever's top max(10, top_n) for each query, scored by the cross-encoder once."""
    from tqdm import tqdm

    n = max(10, reranker.top_n)
    out = []
    for q in tqdm(queries, desc="measuring held-out MRR@10", disable=not progress):
        hits = retriever.run(q.query, n)
        head = hits[:reranker.top_n]
        ce = reranker.score(q.query, [passage_text(h.title, h.text) for h in head]) if head else []
        tail = hits[reranker.top_n:]
        out.append(Scored([h.chunk_id for h in head + tail], [h.score for h in head + tail],
                          ce + [min(ce, default=0.0) - 1.0] * len(tail), q.relevant))
    return out


def mean_mrr(scored: list[Scored], weight: float | None) -> float:
    return sum(s.mrr(weight) for s in scored) / len(scored) if scored else math.nan


def best_weight(scored: list[Scored]) -> float:
    """The blend weight with the best MRR@10 (ties: the smaller weight, closer to retrieval)."""
    return max(WEIGHTS, key=lambda w: (round(mean_mrr(scored, w), 9), -w))


def cross_fitted_mrr(scored: list[Scored]) -> float:
    """MRR@10 of the blend with each half of the queries ranked at the weight chosen on the other half
    (so the reported gain is not measured on the queries the weight was picked on)."""
    halves = [scored[0::2], scored[1::2]]
    if not all(halves):
        return mean_mrr(scored, best_weight(scored))
    total = sum(s.mrr(best_weight(halves[1 - i])) for i, half in enumerate(halves) for s in half)
    return total / len(scored)


# ---- training -----------------------------------------------------------------------------------
def _seed_all(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit(groups: list[Group], out_dir: str | Path, base_model: str | None = None, epochs: int = 1,
        batch_size: int = 16, lr: float = 3e-4, head_lr: float = 3e-3, max_length: int = 128,
        loss: str = "listwise", seed: int = 13, device: str = "auto", progress: bool = True,
        save_max_length: int = 256) -> Path:
    """Train a 1-logit CrossEncoder on the groups and save it to out_dir.

    loss: 'listwise' (softmax cross-entropy of the positive against its group's negatives) or 'bce'
    (sentence-transformers' BinaryCrossEntropyLoss on every pair). `batch_size` counts pairs; the fresh
    head learns at `head_lr`, the encoder at `lr`. `max_length` truncates pairs during training; the saved
    model truncates at `save_max_length`."""
    import torch
    import torch.nn.functional as F
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from sentence_transformers.util import batch_to_device
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    if loss not in ("listwise", "bce"):
        raise ValueError(f"loss must be 'listwise' or 'bce', not {loss!r}")
    if not groups:
        raise ValueError("no training pairs: the knowledge base needs at least two documents with some text")
    _seed_all(seed)
    model = CrossEncoder(str(base_model or default_minilm_path()), num_labels=1, local_files_only=True,
                         device=pick_device(device), max_length=max_length)
    bce = BinaryCrossEntropyLoss(model) if loss == "bce" else None
    head = [p for n, p in model.named_parameters() if "classifier" in n]
    body = [p for n, p in model.named_parameters() if "classifier" not in n]
    param_groups = [{"params": body, "lr": lr}] + ([{"params": head, "lr": head_lr}] if head else [])
    opt = torch.optim.AdamW(param_groups, weight_decay=0.01)
    rng = random.Random(seed)
    batches = []  # over all epochs: lists of groups holding about batch_size pairs each
    for _ in range(epochs):
        order = list(groups)
        rng.shuffle(order)
        batch, n = [], 0
        for g in order:
            batch.append(g)
            n += 1 + len(g.negatives)
            if n >= batch_size:
                batches.append(batch)
                batch, n = [], 0
        if batch:
            batches.append(batch)
    total = len(batches)
    sched = get_linear_schedule_with_warmup(opt, max(1, total // 10), total)
    model.train()
    bar = tqdm(total=total, desc="training reranker", unit="step", disable=not progress)
    avg = None
    for batch in batches:
        pairs = [p for g in batch for p in g.pairs()]
        if bce is not None:
            labels = torch.tensor([p[2] for p in pairs], dtype=torch.float32, device=model.device)
            value = bce([[p[0] for p in pairs], [p[1] for p in pairs]], labels)
        else:
            features = batch_to_device(model.preprocess([(p[0], p[1]) for p in pairs]), model.device)
            logits = model(features)["scores"].view(-1)
            parts, start = [], 0
            for g in batch:  # the positive is first in each group
                size = 1 + len(g.negatives)
                parts.append(F.cross_entropy(logits[start:start + size].unsqueeze(0),
                                             torch.zeros(1, dtype=torch.long, device=logits.device)))
                start += size
            value = torch.stack(parts).mean()
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        avg = value.item() if avg is None else 0.9 * avg + 0.1 * value.item()
        bar.update(1)
        bar.set_postfix(loss=f"{avg:.3f}")
    bar.close()
    model.eval()
    model.max_seq_length = save_max_length
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    return out


def train_reranker(store, hybrid_retriever, out_dir: str | Path, base_model: str | None = None,
                   max_pairs: int = 2000, epochs: int = 1, negatives: int = 3, sentences_per_chunk: int = 2,
                   keep_sentence: float = 0.1, same_doc_negatives: bool = False, holdout: float = 0.2,
                   batch_size: int = 16, lr: float = 3e-4, head_lr: float = 3e-3,
                   max_length: int = 128, loss: str = "listwise", top_n: int = 20, eval_max_length: int = 256,
                   max_eval_queries: int = 200, seed: int = 13, device: str = "auto",
                   progress: bool = True) -> TuneReport:
    """Mine pairs from the KB, train a cross-encoder into out_dir, report held-out MRR@10 without/with it.

    `base_model`: a BERT-style folder (default: the bundled MiniLM weights) or a CrossEncoder folder to
    adapt further. `max_length` truncates pairs in training only (cost grows with it); the measurement
    reranks the retriever's top `top_n` with `eval_max_length`, as the reranker serves by default, over
    at most `max_eval_queries` held-out queries. The retriever should return chunks (per='chunk')."""
    say = print if progress else (lambda *a, **k: None)
    queries = mine_queries(store, sentences_per_chunk=sentences_per_chunk, keep_sentence=keep_sentence, seed=seed)
    train_q, eval_q = split_holdout(queries, holdout, seed)
    eval_q = eval_q[:max_eval_queries]
    say(f"mined {len(queries)} pseudo-queries from the KB's chunks: {len(train_q)} for training, "
        f"{len(eval_q)} held out for the measurement")
    groups = mine_groups(train_q, hybrid_retriever, negatives, max_pairs, same_doc=same_doc_negatives, seed=seed,
                         progress=progress)
    n_pairs = sum(1 + len(g.negatives) for g in groups)
    say(f"{n_pairs} training pairs ({len(groups)} positive, {n_pairs - len(groups)} hard negatives)")
    t0 = time.perf_counter()
    fit(groups, out_dir, base_model, epochs, batch_size, lr, head_lr, max_length=max_length, loss=loss, seed=seed,
        device=device, progress=progress, save_max_length=eval_max_length)
    seconds = time.perf_counter() - t0
    say(f"trained in {seconds:.0f} s; saved to {out_dir}")
    reranker = CrossEncoderReranker(str(out_dir), top_n=top_n, batch_size=32, device=device,
                                    max_length=eval_max_length, weight=1.0)
    scored = score_queries(eval_q, hybrid_retriever, reranker, progress=progress)
    weight = best_weight(scored) if scored else 1.0
    report = TuneReport(mean_mrr(scored, None), cross_fitted_mrr(scored) if scored else math.nan,
                        mean_mrr(scored, 1.0), weight, len(eval_q), len(groups), n_pairs, seconds, str(out_dir))
    (Path(out_dir) / WEIGHT_FILE).write_text(json.dumps({"weight": weight}))
    say(f"held-out MRR@10 over {len(eval_q)} queries (top {top_n} reranked): without reranker "
        f"{report.mrr_without:.4f}; cross-encoder alone {report.mrr_cross_encoder_only:.4f}; blended with the "
        f"retrieval score at weight {weight:.1f} {report.mrr_with:.4f} ({report.gain:+.4f}; the weight is "
        f"chosen on one half of the queries and measured on the other)")
    (Path(out_dir) / "tune_report.json").write_text(json.dumps(report.to_dict(), indent=2))
    return report
