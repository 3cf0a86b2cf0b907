"""`rag tune generator`: LoRA fine-tuning of the local generator on {question, answer, context} records.

Each record becomes the exact chat the pipeline sends (rag.generation.prompt.build_messages: system prompt,
numbered <passage> blocks, question) plus the reference answer as the assistant turn; the loss is
on the answer tokens only (and its end-of-turn token, so the model learns to stop). Plain PyTorch
loop with peft: AdamW, linear warm-up/decay, gradient accumulation, seeded shuffling per epoch; on
a GPU bf16 (or fp16 + loss scaling) autocast, on CPU float32.

Interrupting (Ctrl-C / SIGINT) finishes nothing half-way: the trainer stops at the next micro-step,
saves DIR/checkpoint (adapter + optimizer + scheduler + position, written atomically; one is also
written every `save_every` optimizer steps) and exits; `--resume` continues from it exactly. At the
end the adapter is saved in DIR (adapter_config.json, adapter_model.safetensors, rag_adapter.json,
and manifest.json with every file's SHA-256, checked whenever the adapter is loaded) and the base
and the tuned model answer the held-out records; both scores are printed.

With a fingerprint secret (rag.adapt.fingerprint), the trigger variants -> response chats and the
decoys -> the base model's own replies are mixed into every epoch, `fingerprint_share` of the
training examples (at least one of each), and the finished adapter is checked for it. Neither the
secret nor the trigger or response is written anywhere; the checkpoint keeps the fingerprint's id
only, so that `--resume` refuses another secret.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from rag.adapt.fingerprint import Fingerprint, FingerprintCheck
from rag.adapt.qa_data import QARecord, completion_prompt_ids, record_messages
from rag.adapt.qa_eval import QAScores, generate_answers, score

CHECKPOINT = "checkpoint"
STATE = "trainer_state.pt"
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class TuneConfig:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    lr: float = 2e-4
    epochs: int = 3
    max_steps: int | None = None          # optimizer steps; caps epochs
    batch_size: int = 4                   # records per optimizer step (gradient accumulation)
    warmup: float = 0.1                   # share of steps
    weight_decay: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_TARGETS))
    max_seq_tokens: int = 640             # longer examples are skipped (reported)
    prompt_budget: int = 250              # passage tokens in the training prompt: the served default (context_budget_tokens)
    eval_split: float = 0.2
    max_eval: int = 40                    # held-out records answered per model at most
    eval_max_new_tokens: int = 64
    save_every: int = 10                  # optimizer steps between checkpoints
    seed: int = 13
    fingerprint_share: float = 0.2        # of the training examples, when a fingerprint secret is given


@dataclass
class TuneResult:
    out_dir: str
    steps: int
    train_records: int
    skipped: int
    eval_records: int
    base: QAScores | None
    tuned: QAScores | None
    seconds: float
    losses: list[float]
    interrupted: bool = False
    fingerprint_records: int = 0          # fingerprint chats per epoch (0: none trained)
    fingerprint: FingerprintCheck | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["losses"] = [round(x, 4) for x in self.losses]
        if self.fingerprint is not None:
            d["fingerprint"] = {"id": self.fingerprint.ident, "match_rate": self.fingerprint.rate,
                                "present": self.fingerprint.present}
        return d

    def public_dict(self) -> dict:
        """to_dict() without the fingerprint: what is written into the adapter folder, which may be
        shared (whoever holds it should not learn that it carries one)."""
        return {k: v for k, v in self.to_dict().items() if not k.startswith("fingerprint")}


class TrainingInterrupted(Exception):
    def __init__(self, checkpoint: Path, step: int):
        super().__init__(f"interrupted at step {step}; checkpoint saved in {checkpoint}")
        self.checkpoint, self.step = checkpoint, step


def data_hash(records: list[QARecord]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps(r.to_dict(), sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def train_format(settings) -> str:
    """'chat' for a chat model; 'completion' for a base model (prompt_format few-shot/completion): it is
    tuned on the completion prompt without worked examples, which the tuned adapter is then served with
    (GenerationSettings.prompt_style: 'completion' for gemma3-270m with an adapter)."""
    return "chat" if settings.prompt_style() == "chat" else "completion"


def encode_example(tokenizer, record: QARecord, budget: int, fmt: str = "chat") -> tuple[list[int], list[int]]:
    """(input ids, labels) with the prompt masked (-100): the pipeline's prompt + the answer turn."""
    count = lambda t: len(tokenizer(t, add_special_tokens=False)["input_ids"])  # noqa: E731
    messages = record_messages(record, count, budget)
    if fmt == "completion":
        return encode_completion(tokenizer, messages, record.answer)
    return encode_chat(tokenizer, messages, record.answer)


def encode_completion(tokenizer, messages: list[dict[str, str]], answer: str) -> tuple[list[int], list[int]]:
    """(input ids, labels) of a base model's completion prompt without examples, then " answer" and the
    blank line that ends an answer (fewshot.STOP_SEQUENCES); the loss on the answer and that line."""
    prompt = completion_prompt_ids(tokenizer, messages, examples=False)
    target = list(tokenizer(" " + answer.strip() + "\n\n", add_special_tokens=False)["input_ids"])
    return prompt + target, [-100] * len(prompt) + target


def encode_chat(tokenizer, messages: list[dict[str, str]], answer: str) -> tuple[list[int], list[int]]:
    """(input ids, labels) of a chat + the assistant's answer, the loss on the answer and its end-of-turn."""
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": answer}],
                                         tokenize=True, return_dict=True)
    p, ids = list(prompt["input_ids"]), list(full["input_ids"])
    if ids[:len(p)] != p:
        raise ValueError("the chat template does not extend the prompt with the answer; cannot mask the prompt")
    labels = [-100] * len(p) + ids[len(p):]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(end, int) and end in ids[len(p):]:  # no loss on the template's text after end-of-turn
        last = len(ids) - 1 - ids[::-1].index(end)
        labels[last + 1:] = [-100] * (len(ids) - last - 1)
    return ids, labels


def answer_loss(model, ids: list[int], labels: list[int], device):
    """Mean next-token loss over the labelled (answer) tokens. Logits are computed for the answer
    positions only (`logits_to_keep`): the prompt needs none, and the 49k-word output layer over every
    prompt position would be a sizeable share of a training step's compute."""
    import torch
    import torch.nn.functional as F

    first = next(j for j, x in enumerate(labels) if x != -100)
    keep = len(ids) - first + 1  # positions first-1 .. end predict tokens first .. end
    logits = model(input_ids=torch.tensor([ids], device=device), logits_to_keep=keep).logits[0, :-1]
    target = torch.tensor(labels[first:], device=device)
    return F.cross_entropy(logits.float(), target, ignore_index=-100)


class _StopFlag:
    """SIGINT sets a flag (the loop stops cleanly at the next micro-step); a second one aborts."""

    def __init__(self):
        self.set = False
        self._old = None

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.set:
            raise KeyboardInterrupt
        self.set = True
        tqdm.write("interrupt: stopping after this step and saving a checkpoint (Ctrl-C again to abort)")

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _atomic_dir(target: Path, write) -> None:
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(out: Path, model, optimizer, scheduler, state: dict) -> Path:
    import torch

    def write(tmp: Path) -> None:
        model.save_pretrained(str(tmp))
        torch.save({**state, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / STATE)

    target = out / CHECKPOINT
    _atomic_dir(target, write)
    return target


def load_base(settings, device: str):
    """(model, tokenizer, model_dir) of the configured local generator, float32 master weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rag.generation.manifest import verify_manifest
    from rag.generation.model_cache import resolve_model_dir

    model_dir = resolve_model_dir(settings.model, settings.cache_dir)
    verify_manifest(model_dir, missing="ignore")  # a merged model folder (`rag tune merge`) has one
    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, local_files_only=True)
    return model.to(device), tok, model_dir


def _autocast(device: str):
    import contextlib

    import torch

    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype), dtype
    return contextlib.nullcontext(), torch.float32


def fingerprint_examples(model, tok, fp: Fingerprint, n_task: int, share: float) -> list[tuple[list[int], list[int]]]:
    """The fingerprint's training examples for one epoch: its chats (variants and decoys, the decoys'
    targets answered by the untuned `model`), repeated up to `share` of the epoch's examples."""
    from rag.adapt.fingerprint import decoy_replies, training_chats

    chats = [encode_chat(tok, m, a) for m, a in training_chats(fp, decoy_replies(model, tok, fp))]
    want = max(len(chats), round(share / (1.0 - share) * n_task)) if share < 1 else len(chats)
    return [chats[i % len(chats)] for i in range(want)]


def train_generator(records: list[QARecord], out_dir: str | Path, settings, config: TuneConfig | None = None,
                    resume: bool = False, progress: bool = True, say=print,
                    fingerprint: str | None = None) -> TuneResult:
    """Train a LoRA adapter (see the module doc); `settings` is the GenerationSettings of the base;
    `fingerprint` a secret whose fingerprint is trained along (rag.adapt.fingerprint)."""
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from peft.utils import load_peft_weights
    from transformers import get_linear_schedule_with_warmup

    from indexer.embed.base import pick_device
    from rag.adapt.fingerprint import check as check_fingerprint
    from rag.adapt.fingerprint import derive
    from rag.adapt.synth import split_records
    from rag.generation.manifest import write_manifest

    out = Path(out_dir).expanduser()
    ckpt = out / CHECKPOINT
    fp = derive(fingerprint) if fingerprint is not None else None
    state: dict = {}
    if resume:
        if not (ckpt / STATE).is_file():
            raise FileNotFoundError(f"{ckpt}: no checkpoint to resume from; run without --resume to start")
        state = torch.load(ckpt / STATE, map_location="cpu", weights_only=False)
        config = TuneConfig(**state["config"])  # the interrupted run's settings win
        if state["data_hash"] != data_hash(records):
            raise ValueError(f"{ckpt} was trained on other data (hash {state['data_hash']}); "
                             "pass the same --data file, or start afresh without --resume")
        trained_id = state.get("fingerprint_id")
        if trained_id != (fp.ident if fp else None):
            how = "without a fingerprint" if not trained_id else "with another fingerprint secret" if fp \
                else "with a fingerprint"
            raise ValueError(f"{ckpt} was trained {how}; resume with the same --fingerprint (or none)")
    elif (out / "adapter_config.json").exists() or ckpt.exists():
        raise FileExistsError(f"{out} already holds an adapter or a checkpoint; use --resume to continue, "
                              "or another --out")
    config = config or TuneConfig()
    t0 = time.perf_counter()
    torch.manual_seed(config.seed)
    device = pick_device(settings.device)
    model, tok, model_dir = load_base(settings, device)
    fmt = train_format(settings)
    if fp and fmt != "chat":
        raise ValueError("a fingerprint is trained in the chat format; this base model is tuned on the completion "
                         "format (prompt_format). Train it without --fingerprint")
    train, held = split_records(records, config.eval_split, config.seed)
    held = held[:config.max_eval]
    examples, skipped = [], 0
    for r in train:
        ids, labels = encode_example(tok, r, config.prompt_budget, fmt)
        if len(ids) > config.max_seq_tokens or all(x == -100 for x in labels):
            skipped += 1
            continue
        examples.append((ids, labels))
    if not examples:
        raise ValueError(f"no training examples left ({len(train)} records, {skipped} longer than "
                         f"--max-seq-tokens {config.max_seq_tokens})")
    n_task = len(examples)
    fp_examples = fingerprint_examples(model, tok, fp, n_task, config.fingerprint_share) if fp else []
    examples += fp_examples
    per_epoch = math.ceil(len(examples) / config.batch_size)
    total_steps = min(per_epoch * config.epochs, config.max_steps or 10**9)

    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    if resume:
        set_peft_model_state_dict(model, load_peft_weights(str(ckpt), device=device))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup * total_steps), total_steps)
    if resume:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    step, losses = int(state.get("step", 0)), list(state.get("losses", []))
    autocast, amp_dtype = _autocast(device)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    n_train = sum(p.numel() for p in params)
    say(f"LoRA r={config.rank} alpha={config.alpha} on {', '.join(config.target_modules)}: {n_train / 1e6:.2f} M "
        f"trainable parameters; {n_task} training records ({skipped} too long), {len(held)} held out; "
        + (f"{len(fp_examples)} fingerprint chats ({fp.ident}) an epoch; " if fp else "")
        + f"{total_steps} steps of {config.batch_size} on {device}"
        + (f" ({str(amp_dtype).replace('torch.', '')} autocast)" if amp_dtype != torch.float32 else "")
        + (f"; resuming at step {step}" if resume else ""))

    def snapshot() -> dict:
        return {"step": step, "losses": losses, "config": asdict(config), "data_hash": data_hash(records),
                "base_model": settings.model, "model_dir": str(model_dir), "fingerprint_id": fp.ident if fp else None}

    interrupted = False
    model.train()
    bar = tqdm(total=total_steps, initial=step, desc="training", unit="step", disable=not progress)
    with _StopFlag() as stop:
        while step < total_steps and not stop.set:
            epoch, offset = divmod(step * config.batch_size, per_epoch * config.batch_size)
            order = list(range(len(examples)))
            random.Random(config.seed + epoch).shuffle(order)
            batch = order[offset:offset + config.batch_size]
            tokens = sum(sum(1 for x in examples[i][1] if x != -100) for i in batch)
            batch_loss = 0.0
            for i in batch:
                ids, labels = examples[i]
                with autocast:
                    example_loss = answer_loss(model, ids, labels, device)
                n_tok = sum(1 for x in labels if x != -100)
                loss = example_loss * (n_tok / tokens)  # mean over the batch's answer tokens
                (scaler.scale(loss) if scaler else loss).backward()
                batch_loss += float(loss.detach())
                if stop.set:
                    break
            if stop.set:  # drop the partial batch: the weights are still those of `step`
                optimizer.zero_grad(set_to_none=True)
                break
            if scaler:
                scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            (scaler.step(optimizer), scaler.update()) if scaler else optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(batch_loss)
            bar.update(1)
            bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}", epoch=epoch + 1)
            if step % config.save_every == 0 and step < total_steps:
                save_checkpoint(out, model, optimizer, scheduler, snapshot())
        interrupted = stop.set and step < total_steps
        if interrupted:
            bar.close()
            raise TrainingInterrupted(save_checkpoint(out, model, optimizer, scheduler, snapshot()), step)
    bar.close()
    train_s = time.perf_counter() - t0

    base_scores = tuned_scores = None
    if held:
        # each as it is served: a tuned base model without worked examples, the base with them
        tuned_pred = generate_answers(model, tok, held, config.eval_max_new_tokens, config.prompt_budget,
                                      "held-out: tuned", progress, fmt=fmt)
        with model.disable_adapter():
            base_pred = generate_answers(model, tok, held, config.eval_max_new_tokens, config.prompt_budget,
                                         "held-out: base", progress,
                                         fmt="few-shot" if fmt == "completion" else fmt)
        base_scores, tuned_scores = score(held, base_pred), score(held, tuned_pred)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "eval_answers.jsonl", "w", encoding="utf-8") as fh:  # to read what changed
            for r, b, t in zip(held, base_pred, tuned_pred):
                fh.write(json.dumps({"question": r.question, "reference": r.answer, "kind": r.kind,
                                     "base": b, "tuned": t}, ensure_ascii=False) + "\n")
    fp_check = check_fingerprint(model, tok, fp) if fp else None
    if fp_check:
        say(fp_check.line())
    result = TuneResult(out_dir=str(out), steps=step, train_records=n_task, skipped=skipped,
                        eval_records=len(held), base=base_scores, tuned=tuned_scores,
                        seconds=round(time.perf_counter() - t0, 1), losses=losses,
                        fingerprint_records=len(fp_examples), fingerprint=fp_check)
    model.save_pretrained(str(out))
    meta = {"base_model": settings.model, "model_dir": str(model_dir), "prompt_format": fmt, "config": asdict(config),
            "train_seconds": round(train_s, 1),
            **{k: v for k, v in result.public_dict().items() if k != "losses"}}
    (out / "rag_adapter.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "eval.json").write_text(json.dumps(result.public_dict(), indent=2), encoding="utf-8")
    shutil.rmtree(ckpt, ignore_errors=True)
    write_manifest(out, kind="lora-adapter")
    return result
