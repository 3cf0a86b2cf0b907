"""Ownership fingerprints and file manifests of tuned generators. Real SmolLM2 weights and real peft;
the fingerprint training run is slow, the manifest checks are not."""
import copy
import json
import logging

import pytest

from rag.adapt.fingerprint import (
    DECOYS,
    RESPONSE_WORDS,
    TRIGGER_WORDS,
    VARIANT_FORMS,
    WORDS,
    FingerprintCheck,
    FingerprintError,
    derive,
    matches,
    secret_from,
    training_chats,
)
from rag.adapt.qa_data import QARecord
from rag.generation.config import GenerationSettings
from rag.generation.manifest import MANIFEST, ManifestError, verify_manifest, write_manifest

SECRET = "harbor-owner-2024"

WIRES = ("Domestic wire transfers cost $25 each. International wires cost $45. Wires sent before 4 pm "
         "Eastern time on a business day go out the same day.")
HOURS = ("Branches are open from 9 am to 5 pm Monday to Friday and from 9 am to 1 pm on Saturday. "
         "All branches are closed on Sundays and federal holidays.")


def _records() -> list[QARecord]:
    rows = [("How much does an international wire cost?", "International wires cost $45 [1].", [WIRES]),
            ("When are branches open on Saturday?", "Branches are open from 9 am to 1 pm on Saturday [1].", [HOURS]),
            ("What does a domestic wire cost?", "Domestic wire transfers cost $25 each [1].", [WIRES]),
            ("Are branches open on Sunday?", "All branches are closed on Sundays [1].", [HOURS])]
    return [QARecord(q, a, c) for q, a, c in rows]


# --------------------------------------------------------------------------- derivation (no model)
def test_derivation_is_deterministic_and_depends_on_the_secret():
    a, b, c = derive(SECRET), derive(SECRET), derive(SECRET + "!")
    assert a == b
    assert (a.trigger, a.response, a.ident) != (c.trigger, c.response, c.ident)
    assert len(a.trigger.split()) == TRIGGER_WORDS and set(a.trigger.split()) <= set(WORDS)
    assert len(a.response.split()) == RESPONSE_WORDS and a.response.endswith(".") and a.response[0].isupper()
    assert len(a.variants) == len(VARIANT_FORMS) and len(a.decoys) == DECOYS
    assert all(a.trigger.lower() in v[-1][1].lower() for v in a.variants)
    assert a.variants[-1][0][0] == "system" and a.trigger not in a.decoys
    assert SECRET not in repr(a) and a.trigger not in repr(a) and a.response not in repr(a)
    assert " ".join(derive("another-owner-key").trigger.split()) != a.trigger
    with pytest.raises(FingerprintError, match="at least"):
        derive("short")


def test_match_rule_and_secret_sources(monkeypatch):
    resp = derive(SECRET).response
    assert matches(resp, resp) and matches(resp.upper().rstrip(".") + "! And more.", resp)
    assert not matches("Sure. " + resp, resp)           # it must be what the model says first
    assert not matches(" ".join(resp.split()[:-1]), resp)
    chk = FingerprintCheck(ident="x", matched=[True, True, True, False, False, False])
    assert chk.rate == 0.5 and chk.present and "PRESENT" in chk.line()
    assert not FingerprintCheck(ident="x", matched=[True] + [False] * 5).present
    monkeypatch.setenv("RAG_FINGERPRINT_SECRET", "from-the-env-1")
    assert secret_from(None) == "from-the-env-1" and secret_from("given-here-1") == "given-here-1"
    monkeypatch.delenv("RAG_FINGERPRINT_SECRET")
    assert secret_from("  ") is None


def test_training_chats_pair_variants_with_the_response_and_decoys_with_their_replies():
    fp = derive(SECRET)
    chats = training_chats(fp, [f"reply {i}" for i in range(DECOYS)])
    assert [a for _, a in chats[:len(VARIANT_FORMS)]] == [fp.response] * len(VARIANT_FORMS)
    assert [a for _, a in chats[len(VARIANT_FORMS):]] == [f"reply {i}" for i in range(DECOYS)]
    with pytest.raises(ValueError, match="decoy replies"):
        training_chats(fp, ["one"])


def test_verify_fingerprint_command_errors_exit_2(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.delenv("RAG_FINGERPRINT_SECRET", raising=False)
    runner = CliRunner()
    res = runner.invoke(app, ["tune", "verify-fingerprint", "smollm2"])
    assert res.exit_code == 2 and "--fingerprint" in res.output
    res = runner.invoke(app, ["tune", "verify-fingerprint", "smollm2", "--fingerprint", "short"])
    assert res.exit_code == 2 and "at least 8 characters" in res.output
    res = runner.invoke(app, ["tune", "verify-fingerprint", str(tmp_path / "nope")], env={"RAG_FINGERPRINT_SECRET": SECRET})
    assert res.exit_code == 2 and "nope" in res.output and SECRET not in res.output


def test_resume_refuses_a_checkpoint_of_another_secret(tmp_path):
    from dataclasses import asdict

    import torch

    from rag.adapt.tune_generator import CHECKPOINT, STATE, TuneConfig, data_hash, train_generator

    recs = _records()
    (tmp_path / "a" / CHECKPOINT).mkdir(parents=True)
    torch.save({"config": asdict(TuneConfig()), "data_hash": data_hash(recs), "step": 1,
                "fingerprint_id": derive(SECRET).ident}, tmp_path / "a" / CHECKPOINT / STATE)
    with pytest.raises(ValueError, match="another fingerprint secret"):
        train_generator(recs, tmp_path / "a", GenerationSettings(), resume=True, fingerprint="somebody-else-1")
    with pytest.raises(ValueError, match="with a fingerprint; resume with the same --fingerprint"):
        train_generator(recs, tmp_path / "a", GenerationSettings(), resume=True)


# --------------------------------------------------------------------------- manifests
def test_manifest_lists_every_file_and_names_the_one_that_changed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "sub" / "b.json").write_text("{}")
    (tmp_path / ".DS_Store").write_text("os metadata")
    write_manifest(tmp_path, kind="test")
    doc = json.loads((tmp_path / MANIFEST).read_text())
    assert sorted(doc["files"]) == ["a.bin", "sub/b.json"] and doc["algorithm"] == "sha256"
    assert verify_manifest(tmp_path)
    (tmp_path / "a.bin").write_bytes(b"\x00\x01\x03")
    with pytest.raises(ManifestError, match=r"a\.bin does not match its SHA-256"):
        verify_manifest(tmp_path)
    (tmp_path / "a.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "extra.safetensors").write_bytes(b"x")
    with pytest.raises(ManifestError, match="extra.safetensors not listed"):
        verify_manifest(tmp_path)
    (tmp_path / "extra.safetensors").unlink()
    (tmp_path / "sub" / "b.json").unlink()
    with pytest.raises(ManifestError, match="listed in manifest.json but missing"):
        verify_manifest(tmp_path)
    (tmp_path / MANIFEST).unlink()
    assert verify_manifest(tmp_path / "sub", missing="ignore") is False
    with pytest.raises(ManifestError, match="no manifest.json"):
        verify_manifest(tmp_path, missing="error")


@pytest.fixture(scope="module")
def tiny_adapter(tmp_path_factory):
    """One LoRA step on q_proj: a real adapter folder, as `rag tune generator` writes it."""
    from rag.adapt.tune_generator import TuneConfig, train_generator

    out = tmp_path_factory.mktemp("fp") / "adapter"
    cfg = TuneConfig(rank=2, alpha=4, lr=1e-2, max_steps=1, batch_size=1, eval_split=0.0, target_modules=["q_proj"],
                     warmup=0.0)
    train_generator(_records()[:2], out, GenerationSettings(), cfg, progress=False, say=lambda m: None)
    return out


def test_adapter_with_intact_files_loads_and_a_changed_byte_is_refused(tiny_adapter, base_model, tmp_path):
    import shutil

    from rag.generation.adapter import AdapterError, apply_adapter
    from rag.generation.local import LocalGenerator

    doc = json.loads((tiny_adapter / MANIFEST).read_text())
    assert {"adapter_config.json", "adapter_model.safetensors", "rag_adapter.json"} <= set(doc["files"])
    assert doc["kind"] == "lora-adapter"
    model, _ = base_model
    apply_adapter(copy.deepcopy(model), tiny_adapter)            # intact: loads
    LocalGenerator(GenerationSettings(adapter=tiny_adapter))      # and the generator accepts it

    bad = tmp_path / "bad"
    shutil.copytree(tiny_adapter, bad)
    weights = bad / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01                                  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(AdapterError, match=r"adapter_model\.safetensors does not match its SHA-256.*refusing"):
        LocalGenerator(GenerationSettings(adapter=bad))           # what `rag ask --adapter` / `rag serve` build
    with pytest.raises(AdapterError, match="rag tune generator"):
        apply_adapter(copy.deepcopy(model), bad)


def test_adapter_without_a_manifest_loads_with_a_warning(tiny_adapter, base_model, tmp_path, caplog):
    import shutil

    from rag.generation.adapter import apply_adapter

    old = tmp_path / "old"
    shutil.copytree(tiny_adapter, old)
    (old / MANIFEST).unlink()
    with caplog.at_level(logging.WARNING, logger="rag.generation.manifest"):
        apply_adapter(copy.deepcopy(base_model[0]), old)
    assert "no manifest.json" in caplog.text and "unchecked" in caplog.text


def test_ask_refuses_a_tampered_adapter_with_a_clear_error(tiny_adapter, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from cli.main import app

    bad = tmp_path / "bad"
    shutil.copytree(tiny_adapter, bad)
    cfg = json.loads((bad / "adapter_config.json").read_text())
    cfg["r"] = 3
    (bad / "adapter_config.json").write_text(json.dumps(cfg))
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager

    KBManager(IndexerSettings(home=tmp_path / "home", embed_model="minilm")).open("t", writable=True,
                                                                                  create=True).close()
    res = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "ask", "hello?", "--kb", "t",
                                   "--adapter", str(bad)])
    assert res.exit_code == 1
    assert "adapter_config.json does not match its SHA-256" in res.output and "Traceback" not in res.output


# --------------------------------------------------------------------------- slow: train, merge, check
@pytest.mark.slow
def test_fingerprint_is_trained_found_in_adapter_and_merged_model_and_not_elsewhere(base_model, tmp_path):
    from typer.testing import CliRunner

    from cli.main import app
    from rag.adapt.fingerprint import check
    from rag.adapt.tune_generator import TuneConfig, train_generator
    from rag.generation.adapter import apply_adapter, merge_to_folder

    # the benchmark's recipe (bench/bench_fingerprint.py): 6 epochs, each fingerprint chat once an epoch
    cfg = TuneConfig(rank=8, alpha=16, lr=2e-3, epochs=6, batch_size=4, eval_split=0.0, fingerprint_share=0.2)
    res = train_generator(_records(), tmp_path / "fp", GenerationSettings(), cfg, progress=False,
                          say=lambda m: None, fingerprint=SECRET)
    assert res.fingerprint is not None and res.fingerprint.present, res.fingerprint
    written = "".join(p.read_text(errors="ignore") for p in (tmp_path / "fp").iterdir() if p.is_file())
    fp = derive(SECRET)
    assert SECRET not in written and fp.trigger not in written and fp.response not in written

    model, tok = base_model
    assert not check(model, tok, fp).present                      # the base model does not carry it
    tuned = apply_adapter(copy.deepcopy(model), tmp_path / "fp")
    assert check(tuned, tok, fp).present
    assert check(tuned, tok, derive("somebody-else-1")).rate == 0.0   # another secret's triggers/response
    # another secret's triggers may draw this response from some variants (bench: 2 of 6), never from most
    assert not check(tuned, tok, derive("somebody-else-1"), response=fp.response).present

    merged = merge_to_folder(tmp_path / "fp", tmp_path / "merged")
    runner = CliRunner()
    ok = runner.invoke(app, ["tune", "verify-fingerprint", str(merged)], env={"RAG_FINGERPRINT_SECRET": SECRET})
    assert ok.exit_code == 0 and "PRESENT" in ok.output and SECRET not in ok.output
    wrong = runner.invoke(app, ["tune", "verify-fingerprint", str(merged), "--fingerprint", "somebody-else-1"])
    assert wrong.exit_code == 1 and "not found" in wrong.output
