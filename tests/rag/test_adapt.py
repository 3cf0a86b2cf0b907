"""Model adaptation: training-data formats, quantized generators, LoRA training / serving / merging,
synthetic data, and interrupt + resume. Real SmolLM2 weights and real peft throughout."""
import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.adapt.qa_data import DataError, QARecord, read_records, record_messages, write_records
from rag.adapt.qa_eval import citation_hit, score
from rag.adapt.synth import clean_question, split_records
from rag.answering.extract import extractive_answer
from rag.answering.quoting import cite_sentence
from rag.generation.config import GenerationSettings
from rag.metrics import token_f1

ROOT = Path(__file__).resolve().parents[2]

CARDS = ("Report a lost or stolen card straight away. Call the 24-hour Card Services line at 1-800-555-0199. "
         "From outside the United States, call +1-302-555-0188. We accept collect calls to this number.")
WIRES = ("Domestic wire transfers cost $25 each. International wires cost $45. Wires sent before 4 pm "
         "Eastern time on a business day go out the same day.")
HOURS = ("Branches are open from 9 am to 5 pm Monday to Friday and from 9 am to 1 pm on Saturday. "
         "All branches are closed on Sundays and federal holidays.")
FEES = ("The monthly maintenance fee for Everyday Checking is $12. It is waived when you keep a daily "
        "balance of $1,500 or receive direct deposits of $500 a month.")


def _records() -> list[QARecord]:
    rows = [
        ("Which number do I call from abroad to report a stolen card?", "Call +1-302-555-0188 [1].", [CARDS]),
        ("How much does an international wire cost?", "International wires cost $45 [1].", [WIRES]),
        ("When are branches open on Saturday?", "Branches are open from 9 am to 1 pm on Saturday [2].",
         [WIRES, HOURS]),
        ("What is the monthly fee for Everyday Checking?", "The monthly maintenance fee is $12 [1].", [FEES]),
        ("When do wires go out the same day?", "Wires sent before 4 pm Eastern time go out the same day [1].",
         [WIRES]),
        ("How can I avoid the checking fee?", "Keep a daily balance of $1,500 or receive direct deposits of "
                                              "$500 a month [1].", [FEES, CARDS]),
        ("Are branches open on Sunday?", "All branches are closed on Sundays [1].", [HOURS]),
        ("What does a domestic wire cost?", "Domestic wire transfers cost $25 each [1].", [WIRES]),
        ("What is the interest rate on a mortgage?", "This is not in the knowledge base.", [HOURS]),
        ("Can I open an account for my dog?", "This is not in the knowledge base.", [FEES]),
    ]
    return [QARecord(q, a, c) for q, a, c in rows]


# --------------------------------------------------------------------------- data formats
def test_records_read_in_every_accepted_format(tmp_path):
    recs = _records()
    jsonl = write_records(recs, tmp_path / "qa.jsonl")
    assert [r.to_dict() for r in read_records(jsonl)] == [r.to_dict() for r in recs]
    assert recs[0].kind == "answerable" and recs[-1].kind == "unanswerable" and recs[2].cited == [2]

    header = tmp_path / "fields.jsonl"  # the seed's field list: header line, then lists in that order
    header.write_text(json.dumps({"fields": ["context", "question", "answer"]}) + "\n"
                      + json.dumps([CARDS, "Who do I call?", "Call 1-800-555-0199 [1]."]) + "\n")
    (r,) = read_records(header)
    assert (r.question, r.context, r.answer) == ("Who do I call?", [CARDS], "Call 1-800-555-0199 [1].")

    js = tmp_path / "qa.json"
    js.write_text(json.dumps({"fields": ["question", "answer", "context"], "records": [["q?", "a [1].", "ctx"]]}))
    yml = tmp_path / "qa.yaml"
    yml.write_text("- question: q?\n  answer: a [1].\n  context: [one, two]\n")
    assert read_records(js)[0].context == ["ctx"] and read_records(yml)[0].context == ["one", "two"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q?", "answer": "a"}) + "\n")
    with pytest.raises(DataError, match="missing context"):
        read_records(bad)
    with pytest.raises(DataError, match="rag synth"):
        read_records(tmp_path / "nope.jsonl")


def test_training_prompt_is_the_pipeline_prompt():
    from rag.generation.prompt import SYSTEM_PROMPT

    msgs = record_messages(_records()[2])
    assert msgs[0] == {"role": "system", "content": SYSTEM_PROMPT}
    user = msgs[-1]["content"]
    assert "<passage id=1>" in user and "<passage id=2>" in user and user.index(WIRES[:20]) < user.index(HOURS[:20])
    assert user.rstrip().endswith("Question: When are branches open on Saturday?")


def test_answer_metrics():
    rec = _records()[0]
    assert token_f1("Call +1-302-555-0188 [1].", rec.answer) == 1.0
    assert 0 < token_f1("You should call +1-302-555-0188.", rec.answer) < 1
    assert token_f1("Branches open at nine.", rec.answer) == 0.0
    assert citation_hit("From abroad, call +1-302-555-0188 [1].", rec)
    assert not citation_hit("From abroad, call +1-302-555-0188.", rec)  # no marker of its own: no hit
    assert not citation_hit("Branches open at 9 am [1].", rec)        # marker without support: dropped
    recs = [rec, _records()[-1]]
    s = score(recs, ["Call +1-302-555-0188 [1].", "This is not in the knowledge base."])
    assert (s.token_f1, s.citation_hit, s.refusal_acc, s.answerable, s.unanswerable) == (1.0, 1.0, 1.0, 1, 1)
    s = score(recs, ["This is not in the knowledge base.", "It is 5% [1]."])
    assert (s.citation_hit, s.refusal_acc) == (0.0, 0.0)


def test_synth_helpers():
    assert clean_question("Question: When are branches open on Saturday?\nAnswer: ...") == \
        "When are branches open on Saturday?"
    assert clean_question("Branches are open on Saturday.") is None
    assert cite_sentence("Call 1-800-555-0199.", 2) == "Call 1-800-555-0199 [2]."
    assert cite_sentence("请立即致电。", 1) == "请立即致电[1]。"
    ans = extractive_answer("Which number do I call from outside the United States?", CARDS, 1)
    assert ans.startswith("From outside the United States, call +1-302-555-0188 [1].")
    assert extractive_answer("What is the mortgage rate?", CARDS, 1) is None
    train, held = split_records(_records(), 0.2, seed=1)
    assert len(train) + len(held) == 10 and {r.kind for r in held} == {"answerable", "unanswerable"}


# --------------------------------------------------------------------------- quantization
def _transcript_ids(tok):
    rec = _records()[0]
    msgs = record_messages(rec) + [{"role": "assistant", "content": "From abroad, call +1-302-555-0188 [1]. "
                                                                      "The line is open 24 hours."}]
    return tok.apply_chat_template(msgs, tokenize=True, return_dict=True, return_tensors="pt")["input_ids"]


@pytest.mark.slow
def test_int8_quantizes_linears_and_untied_head_and_keeps_predictions(base_model):
    import torch

    from rag.generation.quantize import quantize_model, weight_bytes

    model, tok = base_model
    q = quantize_model(copy.deepcopy(model), "int8")
    dyn = torch.ao.nn.quantized.dynamic.Linear
    assert isinstance(q.lm_head, dyn) and isinstance(q.model.layers[0].self_attn.q_proj, dyn)
    assert isinstance(q.model.layers[0].mlp.down_proj, torch.nn.Linear)          # kept float (outliers)
    assert q.model.embed_tokens.weight.dtype == torch.float32                    # embedding untouched
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # original still tied
    assert weight_bytes(q) < 0.75 * weight_bytes(model)
    ids = _transcript_ids(tok)
    with torch.inference_mode():
        ref, got = model(ids).logits[0].argmax(-1), q(ids).logits[0].argmax(-1)
    assert (ref == got).float().mean().item() >= 0.6


def test_int4_linear_matches_its_dequantised_weights():
    import torch

    from rag.generation.quantize import _int4_linear_class

    torch.manual_seed(0)
    lin = torch.nn.Linear(128, 96)
    q = _int4_linear_class()(lin, group=64)
    x = torch.randn(3, 128)
    err = (q(x) - lin(x)).abs().max().item()
    assert err < 0.15 * lin(x).abs().max().item()
    assert q.packed.numel() * q.packed.element_size() <= 128 * 96 // 2 + 64  # 4 bits a weight


def test_quantized_generator_serves_from_config(base_model):
    from rag.generation.local import LocalGenerator

    gen = LocalGenerator(GenerationSettings(quant="int8", max_new_tokens=12))
    gen.warm_up()
    out = gen.generate(record_messages(_records()[0]))
    assert out.strip() and gen.last_stats["new_tokens"] >= 1
    with pytest.raises(Exception, match="unknown quant"):
        from rag.generation.quantize import quantize_model

        quantize_model(base_model[0], "int3")


def test_settings_read_quant_and_adapter_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_LLM_ADAPTER", str(tmp_path))
    monkeypatch.setenv("RAG_LLM_QUANT", "int4")
    s = GenerationSettings.load(None)
    assert s.adapter == tmp_path and s.quant == "int4"
    assert GenerationSettings.load(None, quant="none").quant == "none"  # CLI flag wins


# --------------------------------------------------------------------------- LoRA
def test_encode_example_masks_the_prompt(base_model):
    from rag.adapt.tune_generator import encode_example

    _, tok = base_model
    rec = _records()[0]
    ids, labels = encode_example(tok, rec, 400)
    answer = [t for t, lab in zip(ids, labels) if lab != -100]
    assert tok.decode(answer) == rec.answer + "<|im_end|>"
    assert labels[0] == -100 and len(ids) == len(labels)


def test_answer_loss_equals_the_full_models_loss(base_model):
    """The training loss computes logits for the answer positions only; it must be the loss the model
    itself computes over the whole sequence with the prompt masked."""
    import torch

    from rag.adapt.tune_generator import answer_loss, encode_example

    model, tok = base_model
    ids, labels = encode_example(tok, _records()[0], 400)
    with torch.no_grad():
        full = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
        ours = answer_loss(model, ids, labels, "cpu")
    assert float(full) > 0.05 and abs(float(ours) - float(full)) < 1e-5


def test_one_lora_step_saves_an_adapter_that_changes_the_model(base_model, tmp_path):
    import torch

    from rag.adapt.tune_generator import TuneConfig, train_generator
    from rag.generation.adapter import apply_adapter, check_adapter

    cfg = TuneConfig(rank=2, alpha=4, lr=1e-2, max_steps=1, batch_size=1, eval_split=0.0,
                     target_modules=["q_proj"], warmup=0.0)
    res = train_generator(_records()[:3], tmp_path / "a", GenerationSettings(), cfg, progress=False,
                          say=lambda m: None)
    assert res.steps == 1 and res.base is None and res.eval_records == 0
    assert check_adapter(tmp_path / "a").target_modules == ["q_proj"]
    model, _ = base_model
    merged = apply_adapter(copy.deepcopy(model), tmp_path / "a")
    q0, q1 = model.model.layers[0].self_attn.q_proj.weight, merged.model.layers[0].self_attn.q_proj.weight
    assert q0.shape == q1.shape and not torch.equal(q0, q1)
    assert torch.equal(model.model.layers[0].self_attn.k_proj.weight, merged.model.layers[0].self_attn.k_proj.weight)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from rag.adapt.tune_generator import TuneConfig, train_generator

    out = tmp_path_factory.mktemp("adapter") / "a"
    cfg = TuneConfig(rank=4, alpha=8, lr=2e-3, max_steps=3, batch_size=2, eval_split=0.2, max_eval=2,
                     eval_max_new_tokens=6, target_modules=["q_proj", "v_proj"], save_every=1)
    res = train_generator(_records(), out, GenerationSettings(), cfg, progress=False, say=lambda m: None)
    return out, res


@pytest.mark.slow
def test_lora_training_saves_an_adapter_and_scores_base_and_tuned(trained):
    from rag.generation.adapter import check_adapter

    out, res = trained
    assert res.steps == 3 and len(res.losses) == 3 and all(x > 0 for x in res.losses)
    assert res.eval_records == 2 and res.base is not None and res.tuned is not None
    assert res.train_records == 7 and res.skipped == 0  # 10 records: 2 + 1 held out (stratified)
    info = check_adapter(out)
    assert (info.rank, info.alpha, info.base_model) == (4, 8, "smollm2")
    assert info.target_modules == ["q_proj", "v_proj"]
    assert not (out / "checkpoint").exists()  # finished: no stale checkpoint
    meta = json.loads((out / "rag_adapter.json").read_text())
    assert meta["tuned"]["n"] == 2 and "token_f1" in meta["base"]
    rows = [json.loads(x) for x in (out / "eval_answers.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and {"question", "reference", "base", "tuned"} <= set(rows[0])


@pytest.mark.slow
def test_adapter_is_served_and_merge_writes_an_equivalent_model_folder(trained, tmp_path):
    import torch

    from rag.generation.adapter import AdapterError, merge_to_folder
    from rag.generation.local import LocalGenerator

    out, _ = trained
    msgs = record_messages(_records()[1])
    tuned = LocalGenerator(GenerationSettings(adapter=out, max_new_tokens=10))
    tuned.warm_up()
    base = LocalGenerator(GenerationSettings(max_new_tokens=10))
    base.warm_up()
    w_t = tuned.model.model.layers[0].self_attn.q_proj.weight
    w_b = base.model.model.layers[0].self_attn.q_proj.weight
    assert not torch.equal(w_t, w_b)  # merged into the weights
    assert torch.equal(tuned.model.model.layers[0].mlp.up_proj.weight, base.model.model.layers[0].mlp.up_proj.weight)

    merged = merge_to_folder(out, tmp_path / "merged")
    assert (merged / "config.json").is_file() and (merged / "model.safetensors").is_file()
    folder = LocalGenerator(GenerationSettings(model=str(merged), max_new_tokens=10))
    folder.warm_up()
    assert torch.allclose(folder.model.model.layers[0].self_attn.q_proj.weight, w_t, atol=1e-6)
    assert folder.generate(msgs) == tuned.generate(msgs)
    with pytest.raises(AdapterError, match="not empty"):
        merge_to_folder(out, tmp_path / "merged")
    with pytest.raises(AdapterError, match="no such folder"):
        LocalGenerator(GenerationSettings(adapter=tmp_path / "missing")).warm_up()


@pytest.mark.slow
def test_training_refuses_to_overwrite_and_resume_needs_a_checkpoint(trained, tmp_path):
    from rag.adapt.tune_generator import train_generator

    out, _ = trained
    with pytest.raises(FileExistsError, match="--resume"):
        train_generator(_records(), out, GenerationSettings(), progress=False, say=lambda m: None)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_generator(_records(), tmp_path / "fresh", GenerationSettings(), resume=True, progress=False)


# --------------------------------------------------------------------------- slow: interrupt, synth, CLI
@pytest.mark.slow
def test_sigint_leaves_a_checkpoint_and_resume_finishes(tmp_path):
    data = write_records(_records(), tmp_path / "qa.jsonl")
    out = tmp_path / "adapter"
    cmd = [sys.executable, "-m", "cli", "tune", "generator", "--data", str(data), "--out", str(out),
           "--rank", "4", "--alpha", "8", "--max-steps", "6", "--batch-size", "1", "--save-every", "1",
           "--target-modules", "q_proj,v_proj", "--max-eval", "1", "--eval-split", "0.1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (out / "checkpoint" / "trainer_state.pt").exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err
    import torch

    state = torch.load(out / "checkpoint" / "trainer_state.pt", weights_only=False)
    assert 1 <= state["step"] < 6 and len(state["losses"]) == state["step"]
    assert (out / "checkpoint" / "adapter_model.safetensors").is_file()
    assert not (out / "adapter_config.json").exists()

    done = subprocess.run(cmd + ["--resume", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    res = json.loads(done.stdout)
    assert res["steps"] == 6 and len(res["losses"]) == 6
    assert res["losses"][:state["step"]] == [round(x, 4) for x in state["losses"]]
    assert f"resuming at step {state['step']}" in done.stderr
    assert (out / "adapter_config.json").is_file() and not (out / "checkpoint").exists()


@pytest.mark.slow
def test_synth_on_the_sample_kb(manager, sample_copy, tmp_path):
    from rag.adapt.synth import synthesize
    from rag.generation.factory import make_generator
    from rag.retrieval.hybrid import HybridRetriever

    store = manager.open("t")
    retriever = HybridRetriever(store, manager.encoder(store.embed_model))
    gen = make_generator(GenerationSettings())
    gen.warm_up()
    rep = synthesize(store, retriever, gen, n=8, unanswerable=0.5, progress=False)
    store.close()
    assert rep.chunks == 8 and rep.kept <= rep.drafted <= 16
    assert len(rep.records) == rep.kept + rep.unanswerable
    for r in rep.records:
        if r.answerable:
            n = r.cited[0]
            assert r.meta["chunk_id"] and r.context[n - 1]
            assert citation_hit(r.answer, r)  # the reference answer passes the citation check itself
        else:
            assert r.answer == "This is not in the knowledge base." and len(r.context) == 1


def test_auto_quant_is_int8_on_cpu_and_none_on_gpu():
    import torch

    from rag.generation.quantize import INT8_ENGINES, resolve_quant

    assert resolve_quant("auto", "cuda") == "none"  # dynamic int8 linears are CPU kernels
    assert resolve_quant("auto", "cpu") == ("int8" if torch.backends.quantized.engine in INT8_ENGINES else "none")
    assert [resolve_quant(m, "cpu") for m in ("none", "int8", "int4")] == ["none", "int8", "int4"]
    assert GenerationSettings().quant == "none"  # float32 stays the default (README: Model adaptation)


def test_recorded_reads_what_an_adapter_folder_says_and_check_adapter_refuses_a_broken_config(tmp_path):
    """One reader of an adapter's records: the backend choice (`recorded`, nothing verified) and
    `check_adapter` (after its checks) see the same base model, folder and prompt format."""
    import json

    from rag.generation.adapter import AdapterError, check_adapter, recorded

    folder = tmp_path / "a"
    folder.mkdir()
    assert recorded(folder).base_model == "" and recorded(folder).config == {}  # nothing there: empty
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "lora_alpha": 16, "target_modules": ["v", "q"],
                                                            "base_model_name_or_path": "peft-base"}))
    assert recorded(folder).base_model == "peft-base" and recorded(folder).target_modules == ["q", "v"]
    (folder / "rag_adapter.json").write_text(json.dumps({"base_model": "smollm2", "model_dir": "/m",
                                                         "prompt_format": "completion"}))
    info = recorded(folder)
    assert (info.base_model, info.model_dir, info.prompt_format, info.rank) == ("smollm2", "/m", "completion", 8)
    assert check_adapter(folder) == info
    (folder / "adapter_config.json").write_text("{not json")
    with pytest.raises(AdapterError, match="adapter_config.json is unreadable"):
        check_adapter(folder)
    assert recorded(folder).config == {}
