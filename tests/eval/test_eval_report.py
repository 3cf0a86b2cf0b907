"""Offline evaluation reports: statistics and answer metrics on hand-computed cases, configuration
files, the regression gate, and a real end-to-end report (MiniLM KB, SmolLM2 answers) that must be
reproducible and resumable."""
import csv
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval.answers import citation_pr, groundedness
from eval.compare import compare, load_metrics
from eval.configs import ladder, load_configs
from eval.stats import bootstrap_ci, paired_test
from rag.answering.types import Citation
from rag.config import Settings
from rag.metrics import answer_tokens, rouge_l, token_f1
from rag.types import Hit

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_EN = ROOT / "data" / "eval" / "sample" / "en"


# ---------------------------------------------------------------------------- statistics
def test_bootstrap_interval_of_two_values_spans_both():
    # resampled means of [0, 1] are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4: the 2.5% and 97.5%
    # quantiles are 0 and 1
    ci = bootstrap_ci([0.0, 1.0], n_resamples=2000, seed=0)
    assert (ci.mean, ci.low, ci.high, ci.n) == (0.5, 0.0, 1.0, 2)


def test_bootstrap_is_seeded_and_ignores_missing_values():
    values = [0.1, 0.9, 0.4, None, 0.7, 0.3, 1.0, 0.0]
    a, b = bootstrap_ci(values, seed=3), bootstrap_ci(values, seed=3)
    assert a == b and a.n == 7 and a.low < a.mean < a.high and a.mean == pytest.approx(3.4 / 7)
    assert bootstrap_ci([0.25] * 5).to_dict() == {"mean": 0.25, "ci_low": 0.25, "ci_high": 0.25, "n": 5}
    assert bootstrap_ci([None]).n == 0 and math.isnan(bootstrap_ci([]).mean)


def test_paired_sign_flip_test_exact_cases():
    # differences (1, 1, 1): of the 8 sign patterns only +++ and --- reach |mean| >= 1 -> p = 2/8
    r = paired_test([0, 0, 0], [1, 1, 1])
    assert (r.diff, r.p_value, r.n, r.exact) == (1.0, 0.25, 3, True)
    # differences (2, 1): |means| are 1.5, 0.5, 0.5, 1.5 -> p = 2/4
    assert paired_test([0, 0], [2, 1]).p_value == 0.5
    # differences (1, -1): observed mean 0, every pattern is as extreme -> p = 1
    assert paired_test([0, 1], [1, 0]).p_value == 1.0
    assert paired_test([0.3, 0.5], [0.3, 0.5]).p_value == 1.0
    # pairs with a missing side are dropped
    assert paired_test([0, None, 0], [1, 1, None]).n == 1


def test_paired_test_monte_carlo_for_many_queries():
    r = paired_test([0.0] * 20, [1.0] * 20, n_resamples=5000, seed=1)
    # only 2 of 2^20 patterns are as extreme; Monte Carlo p = (hits + 1) / (5000 + 1)
    assert not r.exact and r.p_value <= 3 / 5001 and r.diff == 1.0
    assert paired_test([0.0] * 20, [1.0] * 20, n_resamples=5000, seed=1) == r
    worse = paired_test([0.5] * 20, [0.5] * 10 + [0.4] * 10)
    assert worse.diff == pytest.approx(-0.05) and worse.p_value < 0.01 and worse.high < 0


# ---------------------------------------------------------------------------- answer metrics
def test_token_f1_and_rouge_l_hand_computed():
    # prediction tokens: fee is 12 month (articles dropped); gold: 12 month -> P 2/4, R 1 -> F1 2/3
    assert token_f1("The fee is $12 a month [1].", "$12 a month") == pytest.approx(2 / 3)
    assert token_f1("", "x") == 0.0 and token_f1("", "") == 1.0 and token_f1("x y", "z") == 0.0
    # LCS of (x y z w, x z y w) is 3 -> P = R = 3/4
    assert rouge_l("x y z w", "x z y w") == pytest.approx(0.75)
    assert rouge_l("x y", "x y") == 1.0 and rouge_l("x", "y") == 0.0


def test_chinese_is_scored_per_character():
    assert answer_tokens("年费10元【1】") == ["年", "费", "10", "元"]
    assert answer_tokens("ATM取款2元") == ["atm", "取", "款", "2", "元"]
    # 年 费 10 元 vs 年 费 十 元: 3 shared of 4 each side
    assert token_f1("年费10元", "年费十元") == pytest.approx(0.75)
    # LCS of 我爱北京 / 北京我爱 is 2 characters
    assert rouge_l("我爱北京", "北京我爱") == pytest.approx(0.5)


def test_citation_precision_recall_against_qrels():
    assert citation_pr(["d1", "d2", "d1"], {"d1": 1, "d3": 1}) == (0.5, 0.5)
    assert citation_pr([], {"d1": 1}) == (None, 0.0)
    assert citation_pr(["d1"], {"d1": 1, "d2": 0}) == (1.0, 1.0)


def _hit(i: int, text: str) -> Hit:
    return Hit(doc_id=f"d{i}", chunk_id=f"d{i}#0", source=f"s{i}", text=text, score=1.0)


def test_groundedness_counts_sentences_supported_by_their_cited_passage():
    hits = [_hit(1, "Outgoing wire transfers cost 25 dollars and arrive the next business day."),
            _hit(2, "You can lock a lost card in the mobile app at any time.")]
    answer = ("Wire transfers cost 25 dollars [1]. You can lock a lost card in the app [2]. "
              "The moon is made of green cheese.")
    both = [Citation(1, "d1", "d1#0", "s1", "", True, passage=1), Citation(2, "d2", "d2#0", "s2", "", True, passage=2)]
    assert groundedness(answer, both, hits) == pytest.approx(2 / 3)
    wrong = [Citation(1, "d1", "d1#0", "s1", "", True, passage=1), Citation(2, "d1", "d1#0", "s1", "", True, passage=1)]
    assert groundedness(answer, wrong, hits) == pytest.approx(1 / 3)  # [2] points at the wire passage
    assert groundedness("I could not find the answer to that in the knowledge base.", [], hits) is None


def test_answered_correctly_needs_an_answer_a_relevant_citation_and_no_dropped_sentence():
    from eval.answers import answered_correctly

    qrels = {"d1": 1, "d2": 0}
    assert answered_correctly(False, ["d1"], qrels, 0) == 1.0
    assert answered_correctly(False, ["d3", "d1"], qrels, 0, "extractive") == 1.0
    assert answered_correctly(True, ["d1"], qrels, 0) == 0.0              # refused
    assert answered_correctly(False, ["d2"], qrels, 0) == 0.0             # cites no relevant document
    assert answered_correctly(False, [], qrels, 0) == 0.0
    assert answered_correctly(False, ["d1"], qrels, 1) == 0.0             # a sentence was dropped
    assert answered_correctly(False, ["d1"], qrels, 0, "unsupported") == 0.0


def test_answer_row_records_dropped_sentences_and_answered_correctly():
    from eval.evalset import Question
    from eval.runner import Runner
    from rag.answering.cite import cite
    from rag.answering.types import Answer

    hits = [_hit(1, "Everyday Checking has a $12 monthly fee."), _hit(2, "Domestic wire transfers cost $25.")]
    cited = cite("Everyday Checking has a $12 monthly fee [1]. Everyday Checking also has a $15 monthly fee [1].",
                 hits)

    class Pipe:
        settings = Settings.load()
        generator = None

        def ask(self, question):
            return Answer(cited.answer, cited.citations, False, {"generate_s": 0.1}, hits, cited.dropped)

    q = Question(qid="q1", text="What is the monthly fee?", answerable=True, qrels={"d1": 1}, gold="$12 a month.")
    row = Runner._answer_row(None, Pipe(), q)
    assert row["answer"] == "Everyday Checking has a $12 monthly fee [1]." and row["cited"] == ["d1"]
    assert row["dropped"] == [{"sentence": "Everyday Checking also has a $15 monthly fee [1].",
                               "reason": "the amount $15 is not in passage [1]", "outcome": "removed"}]
    assert row["answered_correctly"] == 0.0 and row["fallback"] == ""
    clean = cite("Everyday Checking has a $12 monthly fee [1].", hits)
    Pipe.ask = lambda self, question: Answer(clean.answer, clean.citations, False, {}, hits, clean.dropped)
    assert Runner._answer_row(None, Pipe(), q)["answered_correctly"] == 1.0
    unanswerable = Question(qid="q2", text="Who won the cup?", answerable=False, qrels={}, gold=None)
    assert "answered_correctly" not in Runner._answer_row(None, Pipe(), unanswerable)


# ---------------------------------------------------------------------------- eval sets
def test_evalset_reads_marked_unanswerable_or_generates_off_topic_ones(tmp_path):
    import shutil

    from eval.evalset import load_evalset

    es = load_evalset(SAMPLE_EN, "test")
    assert len(es.answerable) == 15 and all(q.gold and q.qrels for q in es.answerable)
    assert [q.qid for q in es.unanswerable] == [f"unans-en-0{i}" for i in range(1, 6)]
    for lang in ("en", "zh"):
        shutil.copytree(SAMPLE_EN.parent / lang, tmp_path / lang)
        (tmp_path / lang / "unanswerable.txt").unlink()
        gen = load_evalset(tmp_path / lang, "test")
        assert gen.unanswerable_source == "generated: off-topic"
        assert len(gen.unanswerable) == len(gen.answerable) // 5 and not any(q.qrels for q in gen.unanswerable)
        assert all(any("\u4e00" <= c <= "\u9fff" for c in q.text) == (lang == "zh") for q in gen.unanswerable)
    assert gen.fingerprint != es.fingerprint
    with pytest.raises(FileNotFoundError, match="answers file"):
        load_evalset(SAMPLE_EN, "test", answers=tmp_path / "none.jsonl")


# ---------------------------------------------------------------------------- configurations
def test_configs_yaml_validates_sections_and_settings(tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text("reference: hybrid\nconfigs:\n  - name: bm25\n    retrieval: {mode: bm25}\n    answers: false\n"
                    "  - name: hybrid\n    indexer: {embed_model: minilm, chunk: {max_tokens: 120}}\n")
    cs = load_configs(good)
    assert [c.name for c in cs.configs] == ["bm25", "hybrid"] and cs.reference == "hybrid"
    s = cs.configs[1].settings(None, tmp_path / "home")
    assert s.indexer.embed_model == "minilm" and s.indexer.chunk.max_tokens == 120
    assert s.indexer.home == tmp_path / "home"
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: x\n  generation: {no_such_setting: 1}\n")
    with pytest.raises(ValueError, match="no_such_setting"):
        load_configs(bad).configs[0].settings(None, tmp_path)
    bad.write_text("- name: x\n  retrievl: {mode: bm25}\n")
    with pytest.raises(ValueError, match="retrievl"):
        load_configs(bad)
    bad.write_text("- name: a\n- name: a\n")
    with pytest.raises(ValueError, match="unique"):
        load_configs(bad)


def test_ladder_follows_the_settings(tmp_path):
    from rag.generation.config import GenerationSettings

    s = Settings.load(indexer={"home": str(tmp_path)})
    names = [c.name for c in ladder(s).configs]
    assert names[:3] == ["bm25", "dense", "hybrid"] and "hybrid+rerank" not in names
    # the generator variant is the other side of the configured quantization ('auto' = int8 on CPU)
    assert names[3:] == ["hybrid+int8"]
    s.generation = s.generation.model_copy(update={"quant": "auto"})
    assert [c.name for c in ladder(s).configs][3:] == ["hybrid+fp32"]
    assert [c.generation for c in ladder(s).configs[3:]] == [{"quant": "none"}]
    s.rerank = s.rerank.model_copy(update={"model": "/models/ce"})
    cs = ladder(s)
    assert "hybrid+rerank" in [c.name for c in cs.configs]
    # the other rungs switch the configured reranker off
    assert cs.configs[2].settings(None, tmp_path).rerank.model is None
    if "adapter" not in GenerationSettings.model_fields:
        with pytest.raises(ValueError, match="adapter"):
            ladder(s, adapter=str(tmp_path))
    else:
        assert "hybrid+adapter" in [c.name for c in ladder(s, adapter=str(tmp_path)).configs]


# ---------------------------------------------------------------------------- regression gate
def _metrics(**means) -> dict:
    return {"dataset": {"fingerprint": "f", "split": "test", "answerable": 3, "unanswerable": 1},
            "configs": [{"name": "hybrid", "latency": {"retrieve_ms": {"p50": 5.0}},
                         "quality": {m: {"mean": v} for m, v in means.items()}}]}


def test_compare_flags_drops_beyond_tolerance_only():
    base = _metrics(**{"ndcg@10": 0.80, "answer_f1": 0.30, "groundedness": 0.5})
    cand = _metrics(**{"ndcg@10": 0.796, "answer_f1": 0.29, "groundedness": 0.9})
    cmp = compare(base, cand, tolerance=0.005)
    status = {r.metric: r.status for r in cmp.rows}
    assert status == {"ndcg@10": "ok", "answer_f1": "REGRESSION", "groundedness": "better"}
    assert [r.metric for r in compare(base, _metrics(**{"ndcg@10": 0.8}), 0.005).regressions] == \
        ["answer_f1", "groundedness"]  # missing figures fail the gate
    assert compare(base, base, 0.0).regressions == []


def test_compare_reports_a_metric_missing_from_the_baseline_as_new():
    from eval.compare import format_comparison

    base = _metrics(**{"ndcg@10": 0.80, "answer_f1": 0.30})
    cand = _metrics(**{"ndcg@10": 0.80, "answer_f1": 0.30, "answered_correctly": 0.25})
    cmp = compare(base, cand, tolerance=0.005)
    assert {r.metric: r.status for r in cmp.rows} == {"ndcg@10": "ok", "answer_f1": "ok", "answered_correctly": "new"}
    assert cmp.regressions == []
    text = format_comparison(cmp, 0.005)
    assert "answered_correctly" in text and "new" in text
    assert "no regression beyond tolerance 0.005 (2 figures compared; 1 new figure not in A, not gated)" in text
    # the other way round, a figure the candidate lost still fails the gate
    assert [r.metric for r in compare(cand, base, 0.005).regressions] == ["answered_correctly"]


# ---------------------------------------------------------------------------- end to end
CONFIGS = """reference: hybrid
configs:
  - name: bm25
    indexer: {embed_model: minilm}
    retrieval: {mode: bm25}
    answers: false
  - name: hybrid
    indexer: {embed_model: minilm}
    generation: {max_new_tokens: 8, languages: [en]}
"""


def _report(minilm, out: Path, kb_home: Path, configs: Path, resume: bool = False):
    from eval.evalset import load_evalset
    from eval.report import write_report
    from eval.runner import Runner

    es = load_evalset(SAMPLE_EN, "test", limit=2)
    cs = load_configs(configs)
    runs = Runner(es, cs, out, kb_home, resume=resume, progress=False, encoders={"minilm": minilm},
                  calibrate_split="dev").run()
    return es, runs, write_report(out, es, cs, runs, calibrate_split="dev")


def _quality(metrics: dict) -> dict:
    return {c["name"]: c["quality"] for c in metrics["configs"]}


@pytest.fixture(scope="module")
def report_a(tmp_path_factory, minilm):
    root = tmp_path_factory.mktemp("report")
    configs = root / "configs.yaml"
    configs.write_text(CONFIGS)
    es, runs, m = _report(minilm, root / "a", root / "kbs", configs)
    return root, configs, es, runs, m


@pytest.mark.slow
def test_report_end_to_end(report_a, minilm):
    from eval.retrieval import evaluate
    from eval.runner import Runner
    from indexer.kbs import KBManager

    root, _, es, runs, m = report_a
    assert len(es.answerable) == 2 and len(es.unanswerable) == 2 and es.unanswerable_source == "unanswerable.txt"
    q = _quality(m)
    assert set(q["bm25"]) == {"ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10"}
    assert {"answer_f1", "rouge_l", "citation_recall", "refusal_unanswerable", "answered_answerable"} \
        <= set(q["hybrid"])
    assert q["hybrid"]["refusal_unanswerable"]["n"] == 2 and q["hybrid"]["answer_f1"]["n"] == 2
    for figures in q.values():
        for f in figures.values():
            assert 0 <= f["ci_low"] <= f["mean"] <= f["ci_high"] <= 1
    hybrid = m["configs"][1]
    assert hybrid["latency"]["ttft_ms"]["p50"] > 0 and hybrid["latency"]["retrieve_ms"]["p95"] > 0
    assert hybrid["settings"]["generation"]["max_new_tokens"] == 8 and hybrid["overrides"]["indexer"]
    # refusal calibrated on the dev split's questions (never the evaluated ones), as `rag tune refusal` does
    assert 0 < hybrid["refusal_threshold"] < 1 and m["refusal_calibration_split"] == "dev"
    refused = [a for a in runs[1].answers if a["refused"]]
    assert all(a["generate_s"] == 0 for a in refused)
    with pytest.raises(ValueError, match="another split"):
        Runner(es, load_configs(root / "configs.yaml"), root / "x", root / "k", calibrate_split="test")
    assert m["versions"]["code_hash"] and any(s.startswith("generator=") for s in m["versions"]["models"])
    assert [s["metric"] for s in m["significance"]] == ["ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10"]

    # the figures are those of `rag eval retrieval` on the same KB
    settings = runs[0].settings
    mgr = KBManager(settings.indexer, encoders={"minilm": minilm})
    ref = evaluate(es.ds, settings, runs[0].kb, "bm25", progress=False, mgr=mgr)
    by_q = {r["query_id"]: r for r in ref["per_query"]}
    assert [r["ndcg@10"] for r in runs[0].retrieval] == [by_q[q.qid]["ndcg@10"] for q in es.answerable]

    out = root / "a"
    with (out / "per_query.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["config"] for r in rows] == ["bm25"] * 2 + ["hybrid"] * 4  # hybrid: + the unanswerable
    assert all(r["answer"] for r in rows[2:]) and rows[0]["ndcg@10"] != ""
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 5 and "Worst questions" in page and es.questions[0].text in page
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_report_has_answered_correctly_and_dropped_sentences(report_a, tmp_path):
    from cli.main import app

    root, _, es, runs, m = report_a
    q = _quality(m)["hybrid"]
    assert q["answered_correctly"]["n"] == 2 and 0 <= q["answered_correctly"]["mean"] <= q["answered_answerable"]["mean"]
    answerable = [a for a in runs[1].answers if a["answerable"]]
    assert all(a["answered_correctly"] in (0.0, 1.0) and isinstance(a["dropped"], list) for a in answerable)
    assert all("answered_correctly" not in a for a in runs[1].answers if not a["answerable"])
    with (root / "a" / "per_query.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert "answered_correctly" in rows[0] and "dropped" in rows[0]
    assert "answered_correctly" in (root / "a" / "report.html").read_text(encoding="utf-8")
    # a baseline written before the metric existed still passes the gate: the figure is new
    old = load_metrics(root / "a")
    for c in old["configs"]:
        c["quality"].pop("answered_correctly", None)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "metrics.json").write_text(json.dumps(old))
    res = CliRunner().invoke(app, ["eval", "compare", str(tmp_path / "old"), str(root / "a")])
    assert res.exit_code == 0 and "answered_correctly" in res.output and " new" in res.output, res.output


def test_compare_cli_gates_on_a_real_report(report_a, tmp_path):
    from cli.main import app

    out = report_a[0] / "a"
    cli = CliRunner()
    res = cli.invoke(app, ["eval", "compare", str(out), str(out)])
    assert res.exit_code == 0 and "no regression" in res.output, res.output
    better = load_metrics(out)
    better["configs"][0]["quality"]["mrr@10"]["mean"] += 0.05
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "metrics.json").write_text(json.dumps(better))
    res = cli.invoke(app, ["eval", "compare", str(tmp_path / "base"), str(out), "--tolerance", "0.01"])
    assert res.exit_code == 1 and "bm25" in res.output and "mrr@10" in res.output and "REGRESSION" in res.output
    res = cli.invoke(app, ["eval", "compare", str(tmp_path / "nowhere"), str(out)])
    assert res.exit_code == 2


@pytest.mark.slow
def test_report_is_reproducible_and_resumable(report_a, minilm):
    root, configs, _, runs, m = report_a
    # reproducible: a fresh run (new KB, new model load) gives the same quality figures
    _, _, m2 = _report(minilm, root / "b", root / "kbs2", configs)
    if m2["versions"]["code_hash"] == m["versions"]["code_hash"]:  # (unless someone edited the code meanwhile)
        assert _quality(m2) == _quality(m)

    # resumable: drop the last answer record; a resumed run redoes only that question
    out = root / "a"
    answers_file = next((out / "runs").glob("answers-*.jsonl"))
    lines = answers_file.read_text(encoding="utf-8").splitlines()
    answers_file.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    kept = [json.loads(x) for x in lines[:-1]]
    _, runs3, _ = _report(minilm, out, root / "kbs3", configs, resume=True)
    assert runs3[1].answers[:-1] == kept and len(runs3[1].answers) == 4
    assert runs3[0].retrieval == runs[0].retrieval


def test_compare_allows_one_questions_share_as_noise_but_not_two():
    from eval.compare import compare

    def report(v):
        return {"dataset": {}, "configs": [{"name": "hybrid", "quality": {"citation_precision": {"mean": v, "n": 14}}}]}

    base = report(1.0)
    one, two = report(1.0 - 1 / 14), report(1.0 - 2 / 14)
    assert [r.status for r in compare(base, one).rows] == ["REGRESSION"]
    assert [r.status for r in compare(base, one, noise_questions=1).rows] == ["ok"]
    assert [r.status for r in compare(base, two, noise_questions=1).rows] == ["REGRESSION"]


@pytest.mark.slow  # a long robustness or end-to-end run: make test-all
def test_report_refuses_as_the_kb_does_by_default(minilm, tmp_path):
    """Without --calibrate-refusal a report measures what a user gets: the refusal thresholds `rag index`
    calibrates for every KB (per question language), the same answers `rag ask` gives on that KB; 'none'
    is the old figure, with no refusal on evidence."""
    from eval.evalset import load_evalset
    from eval.report import write_report
    from eval.runner import NONE, Runner
    from indexer.kbs import KBManager
    from rag.adapt.tune_refusal import recalibrate
    from rag.pipeline import build_pipeline

    configs = tmp_path / "configs.yaml"
    configs.write_text("configs:\n  - name: hybrid\n    indexer: {embed_model: minilm}\n")
    es = load_evalset(SAMPLE_EN, "test", limit=3)
    cs = load_configs(configs)
    kb_home = tmp_path / "kbs"
    [auto] = Runner(es, cs, tmp_path / "auto", kb_home, progress=False, encoders={"minilm": minilm}).run()
    m = write_report(tmp_path / "auto", es, cs, [auto])
    assert m["refusal_calibration"] == "auto" and m["refusal_calibration_split"] is None
    assert set(auto.refusal_by_language) == {"en", "zh"} and auto.refusal_threshold == min(auto.refusal_by_language.values())
    assert m["configs"][0]["refusal_threshold_by_language"] == auto.refusal_by_language

    # the thresholds are those `rag index` stores in the KB, and `rag ask` then answers exactly as the report did
    settings = auto.settings
    mgr = KBManager(settings.indexer, encoders={"minilm": minilm})
    cal = recalibrate(settings, auto.kb, mgr, reranker=None, force=True)
    assert cal.stored and cal.by_language == auto.refusal_by_language
    pipe = build_pipeline(settings, auto.kb, mgr, reranker=None)
    try:
        asked = [pipe.ask(q.text) for q in es.questions]
    finally:
        pipe.close()
    assert [(a.refused, a.answer) for a in asked] == [(r["refused"], r["answer"]) for r in auto.answers]
    assert any(r["refused"] for r in auto.answers)  # unans-en-02 (stock tips) is refused on evidence

    [none] = Runner(es, cs, tmp_path / "none", tmp_path / "kbs2", progress=False, encoders={"minilm": minilm},
                    calibrate_split=NONE).run()
    assert none.refusal_threshold is None
    assert sum(r["refused"] for r in none.answers) < sum(r["refused"] for r in auto.answers)
    assert write_report(tmp_path / "none", es, cs, [none], calibrate_split=NONE)["refusal_calibration"] == "none"
