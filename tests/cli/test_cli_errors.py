"""What a user who gets something wrong sees from the `rag` command: a short `error: ...` naming what was
wrong, where it came from and what is allowed, and exit code 1 (2 for a bad option value) — never a Python
traceback (real subprocesses, as a user runs it)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def rag(home, *args, **env_vars):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_HOME": str(home), "HF_HUB_OFFLINE": "1", **env_vars})
    return subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def error(p, code: int = 1) -> str:
    """The error a failed command printed, checked to be a short message and not a traceback."""
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and "File \"" not in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) <= 6, p.stderr
    return p.stderr


@pytest.mark.parametrize("var, value, allowed", [
    ("RAG_ANSWER_TOP_K", "abc", "valid integer"),
    ("RAG_ANSWER_TOP_K", "0", "greater than or equal to 1"),
    ("RAG_RETRIEVAL_MODE", "foo", "'hybrid', 'dense' or 'bm25'"),
    ("RAG_LLM_TEMPERATURE", "hot", "valid number"),
    ("RAG_CHUNK_MAX_TOKENS", "2", "greater than or equal to 4"),
    ("RAG_STORE", "foo", "'local' or 'milvus'"),  # was a traceback from the store factory
    # settings of the service and the answer cache: the same error for every command, not only `rag serve`
    ("RAG_CACHE_SIMILARITY", "abc", "valid number"),
    ("RAG_PORT", "abc", "valid integer"),
    ("RAG_CORS_ORIGINS", "https://portal.example.com/", "scheme://host[:port], no path or trailing slash"),
])
def test_invalid_environment_setting(tmp_path, var, value, allowed):
    err = error(rag(tmp_path, "ask", "x", "--kb", "school", **{var: value}))
    assert err.startswith("error: invalid setting")
    assert f"environment variable {var}" in err and repr(value) in err and allowed in err


def test_help_is_shown_whatever_the_settings_hold(tmp_path):
    p = rag(tmp_path, "ask", "--help", RAG_ANSWER_TOP_K="abc")
    assert p.returncode == 0 and "ask [OPTIONS]" in p.stdout, p.stderr


@pytest.mark.parametrize("var, value", [("RAG_PORT", "abc"), ("RAG_CACHE_SIMILARITY", "abc")])
def test_invalid_setting_stops_serve_before_it_starts(tmp_path, var, value):
    err = error(rag(tmp_path, "serve", "--port", "0", **{var: value}))
    assert var in err and repr(value) in err


def test_serve_port_option_out_of_range(tmp_path):
    err = error(rag(tmp_path, "serve", "--port", "70000"))
    assert "--port" in err and "70000" in err and "less than or equal to 65535" in err


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[answer]\ntop_k = "abc"\n\n[retrieval]\nmode = "fast"\n')
    err = error(rag(tmp_path, "--config", str(bad), "ask", "x", "--kb", "school"))
    # every invalid setting of the file at once, each with the file it came from
    assert f"[answer] top_k = 'abc' (from config file {bad})" in err and "valid integer" in err
    assert f"[retrieval] mode = 'fast' (from config file {bad})" in err and "'hybrid', 'dense' or 'bm25'" in err

    broken = tmp_path / "broken.toml"
    broken.write_text("[answer\ntop_k = 3\n")
    err = error(rag(tmp_path, "--config", str(broken), "kb", "list"))
    assert f"config file {broken} is not valid TOML" in err and "line 1" in err

    err = error(rag(tmp_path, "--config", str(tmp_path / "missing.toml"), "kb", "list"))
    assert "missing.toml does not exist (given by --config)" in err
    err = error(rag(tmp_path, "kb", "list", RAG_CONFIG=str(tmp_path / "missing.toml")))
    assert "missing.toml does not exist (given by RAG_CONFIG)" in err

    # the config file in RAG_HOME is read as well
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[cache]\nsimilarity = 2\n")
    err = error(rag(home, "kb", "list"))
    assert f"[cache] similarity = 2 (from config file {home / 'config.toml'})" in err
    # and in the folder --home names (it was read only from RAG_HOME's)
    err = error(rag(tmp_path / "elsewhere", "--home", str(home), "kb", "list"))
    assert f"[cache] similarity = 2 (from config file {home / 'config.toml'})" in err


def test_unknown_settings_in_the_config_file_are_named_with_the_closest_key(tmp_path):
    """A misspelt key or section was ignored without a word (the setting kept its default); the command
    still runs, with a warning per unknown name."""
    cfg = tmp_path / "config.toml"
    cfg.write_text('[service]\nrate_limt = 5\n\n[retreival]\nmode = "bm25"\n\n[indexer.chunk]\nmax_tokenz = 90\n'
                   '\n[answer]\ntop_k = 3\n')
    p = rag(tmp_path, "--config", str(cfg), "kb", "list")
    assert p.returncode == 0, p.stderr
    warnings = [line for line in p.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: config file {cfg}: unknown setting [service] rate_limt (did you mean rate_limit?); ignored",
                        f"warning: config file {cfg}: unknown section [retreival] (did you mean retrieval?); ignored",
                        f"warning: config file {cfg}: unknown setting [indexer.chunk] max_tokenz (did you mean "
                        "max_tokens?); ignored"]
    cfg.write_text('[answer]\ntop_k = 3\n[indexer.chunk]\nmax_tokens = 90\n')  # known keys: no warning
    assert "warning" not in rag(tmp_path, "--config", str(cfg), "kb", "list").stderr


def test_home_that_is_a_file(tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("x")
    err = error(rag(tmp_path, "--home", str(file), "kb", "list"))
    assert f"--home {file} is a file, not a folder" in err
    err = error(rag(file / "kbs", "kb", "list"))
    assert f"RAG_HOME {file / 'kbs'}: {file} is a file, not a folder" in err


# one process start each (~6 s): the first in the default suite, the other two kinds of name slow
@pytest.mark.parametrize("model", ["nonsense", pytest.param("e5+nonsense", marks=pytest.mark.slow),
                                   pytest.param("sentence-transformers/all-mpnet-base-v2", marks=pytest.mark.slow)])
def test_unknown_embedding_model_is_refused_before_anything_is_created(tmp_path, model):
    home = tmp_path / "home"
    err = error(rag(home, "kb", "create", "bank", "--embed-model", model))
    assert "unknown embedding model" in err and "e5+minilm" in err and "minilm" in err and "folder" in err
    assert "huggingface" not in err.lower()
    assert not (home / "bank").exists()
    assert "no knowledge bases" in rag(home, "kb", "list").stdout
    # the same through the setting, and through `rag index` into a new KB
    err = error(rag(home, "index", str(ROOT / "README.md"), "--kb", "bank", RAG_EMBED_MODEL=model))
    assert "unknown embedding model" in err and not (home / "bank").exists()


def test_kb_name_rule(tmp_path):
    err = error(rag(tmp_path, "kb", "create", "_a"))
    assert "'_a'" in err and "the first a letter or digit" in err


def test_missing_files_given_as_options(tmp_path):
    nofile = str(tmp_path / "nofile")
    assert f"--questions {nofile}: no such file" in error(rag(tmp_path, "ask", "--kb", "school", "--questions", nofile))
    assert "is a folder" in error(rag(tmp_path, "ask", "--kb", "school", "--questions", str(tmp_path)))
    assert "corpus.jsonl is missing" in error(rag(tmp_path, "tune", "refusal", "--kb", "school", "--beir", nofile))
    assert f"--answerable {nofile}: no such file" in error(rag(tmp_path, "tune", "refusal", "--kb", "school",
                                                               "--answerable", nofile))
    assert f"--from {nofile}: no such file" in error(rag(tmp_path, "experiment", "create", "e1", "--kb", "school",
                                                         "--from", nofile))
    assert f"--base-model {nofile}: no such folder" in error(rag(tmp_path, "tune", "reranker", "--kb", "school",
                                                                 "--out", str(tmp_path / "rr"),
                                                                 "--base-model", nofile))
    # checked before the report's first configurations run
    err = error(rag(tmp_path, "eval", "report", "--beir", str(ROOT / "data/eval/sample/en"), "--adapter", nofile,
                    "--out", str(tmp_path / "report")), 2)
    assert f"--adapter {nofile}: no such folder" in err and not (tmp_path / "report").exists()


@pytest.mark.parametrize("args, said", [
    (["--mode", "foo"], "'foo' is not one of 'hybrid', 'dense', 'bm25'"),
    (["-k", "-5"], "greater than or equal to 1"),
    (["-k", "0"], "greater than or equal to 1"),
])
def test_search_checks_its_options(tmp_path, args, said):
    err = error(rag(tmp_path, "search", "hi", "--kb", "school", *args), 2)
    assert said in " ".join(err.replace("│", " ").split())


def test_eval_retrieval_checks_its_modes(tmp_path):
    err = error(rag(tmp_path, "eval", "retrieval", "--beir", str(ROOT / "data/eval/sample/en"),
                    "--modes", "bm25,fast"), 2)
    assert "--modes" in err and "hybrid, dense, bm25, rerank" in err and "'bm25,fast'" in err
    assert not (tmp_path / "beir-en").exists()  # nothing indexed


@pytest.mark.slow  # ~11 s: an index and three searches as processes (tests/cli/test_cli.py covers search)
def test_search_takes_the_valid_values(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cards.md").write_text("# Lost cards\n\nCall 800-555-0199 at once to block a lost card.\n")
    (docs / "fees.md").write_text("# Fees\n\nA replacement card costs 5 dollars.\n")
    home = tmp_path / "home"
    p = rag(home, "index", str(docs), "--kb", "bank", "--embed-model", "e5", "--no-calibrate", "-q")
    assert p.returncode == 0, p.stderr
    for mode in ("bm25", "dense", "hybrid"):
        p = rag(home, "search", "replacement card fee", "--kb", "bank", "--mode", mode, "-k", "1")
        assert p.returncode == 0, p.stderr
        assert "fees.md" in p.stdout and "cards.md" not in p.stdout


@pytest.mark.slow  # ~25 s: three indexing processes
def test_index_embed_model_other_than_the_kbs_is_refused_not_ignored(tmp_path):
    """`rag index --embed-model` on an existing KB with another model was ignored without a word (the files were
    embedded with the KB's own model); now it stops before indexing anything and names `rag kb reembed`."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fees.md").write_text("# Fees\n\nA replacement card costs 5 dollars.\n")
    (docs / "挂失.md").write_text("# 挂失\n\n银行卡丢失请拨打95555挂失。\n", encoding="utf-8")
    home = tmp_path / "home"
    p = rag(home, "index", str(docs / "fees.md"), "--kb", "bank", "--embed-model", "e5", "--no-calibrate", "-q")
    assert p.returncode == 0, p.stderr
    err = error(rag(home, "index", str(docs / "挂失.md"), "--kb", "bank", "--embed-model", "minilm", "--no-calibrate"))
    assert "embeds with e5" in err and "rag kb reembed bank --embed-model minilm" in err
    listed = rag(home, "docs", "--kb", "bank", "--json")
    assert [Path(d["source"]).name for d in json.loads(listed.stdout)] == ["fees.md"]  # nothing indexed
    # another name of the KB's own model is that model
    p = rag(home, "index", str(docs / "挂失.md"), "--kb", "bank", "--embed-model", "multilingual-e5-small",
            "--no-calibrate", "-q")
    assert p.returncode == 0, p.stderr


@pytest.mark.slow
def test_eval_retrieval_embed_model_other_than_the_reused_kbs_is_refused(tmp_path):
    """`rag eval retrieval --embed-model` reuses the KB of an earlier run; one made with another model was measured
    as if it were the model asked for."""
    beir = str(ROOT / "data/eval/sample/en")
    p = rag(tmp_path, "eval", "retrieval", "--beir", beir, "--split", "dev", "--modes", "bm25", "--embed-model", "e5")
    assert p.returncode == 0, p.stderr
    err = error(rag(tmp_path, "eval", "retrieval", "--beir", beir, "--split", "dev", "--modes", "bm25",
                    "--embed-model", "minilm"))
    assert "'beir-en' embeds with e5" in err and "--kb beir-en-minilm" in err
