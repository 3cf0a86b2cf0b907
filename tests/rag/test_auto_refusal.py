"""Refusal without a tuning step (rag.answering.auto_refusal): `rag index` calibrates a fresh KB's
threshold on its own content and the packaged off-topic questions; off-topic questions are then
refused and the sample questions answered, in English and Chinese; a tuned threshold is kept.

Real encoder: the session's e5+minilm (the default model; MiniLM alone does not read Chinese), on
eight of the sample documents (four English, four Chinese) indexed once for the module."""
import csv
import json
import shutil
from pathlib import Path

import pytest

from rag.answering.auto_refusal import (
    EVIDENCE_KEY,
    GENERATION_KEY,
    HOLDOUT_EVERY,
    OFF_TOPIC_FILE,
    auto_calibrate,
    build_probes,
    choose_threshold,
    choose_thresholds,
    faq_questions,
    off_topic,
    template_question,
    title_question,
)
from rag.answering.refusal import AUTO, LANG_KEY, META_KEY, SOURCE_KEY, TUNED, evidence_scores, threshold_source

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
EVAL = ROOT / "data" / "eval" / "sample"
DOCS = ["en/lost_or_stolen_cards.txt", "en/wire_transfers.html", "en/account_fees.md", "en/branches_and_hours.txt",
        "zh/card_loss_reporting.txt", "zh/transfer_and_remittance.html", "zh/account_fees.md", "zh/branches_and_hours.md"]
# the eval set's passages from those documents (its corpus ids start with the document's key)
IN_KB = ("en-cards-", "en-wire-", "en-fees-", "en-branches-", "zh-cardloss-", "zh-transfer-", "zh-fees-", "zh-branches-")
SAMPLE_QUESTIONS_IN_KB = [0, 1, 2, 3, 6, 7]  # data/sample_questions.txt lines about those documents
FIVE = {"en": ["Who won the 1998 FIFA World Cup?", "What is the capital of Australia?", "How do I bake sourdough bread?",
               "Who painted the Mona Lisa?", "What is the best recipe for lasagna?"],
        "zh": ["1998年世界杯冠军是哪个国家？", "澳大利亚的首都是哪里？", "怎么烤酸面包？", "《蒙娜丽莎》是谁画的？",
               "千层面最好的做法是什么？"]}
KB = "s"


def answerable(lang: str) -> list[str]:
    """The sample questions in `lang` that the module's KB answers."""
    relevant: dict[str, set[str]] = {}
    for split in ("dev", "test"):
        with open(EVAL / lang / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
            for qid, cid, *_ in list(csv.reader(f, delimiter="\t"))[1:]:
                relevant.setdefault(qid, set()).add(cid)
    rows = [json.loads(line) for line in (EVAL / lang / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    out = [r["text"] for r in rows if any(c.startswith(IN_KB) for c in relevant.get(r["_id"], ()))]
    lines = (ROOT / "data" / "sample_questions.txt").read_text(encoding="utf-8").splitlines()
    out += [q for i, q in enumerate(lines) if i in SAMPLE_QUESTIONS_IN_KB and (("\u4e00" <= q[0] <= "\u9fff") == (lang == "zh"))]
    return out


def _cli(home: Path, ens, *args: str):
    """`rag --home HOME ...` in-process, with the session's encoder (nothing loads twice)."""
    from typer.testing import CliRunner

    import cli.state
    from cli.main import app
    from indexer.kbs import KBManager

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(cli.state.state), "manager",
                   lambda self, **kw: KBManager(self.settings(**kw).indexer, encoders={"e5+minilm": ens}))
        res = CliRunner().invoke(app, ["--home", str(home), *args])
    cli.state.state.home = None
    return res


@pytest.fixture(scope="module")
def built(tmp_path_factory, ens):
    """The eight documents indexed with `rag index` into a fresh KB (no `rag tune refusal`)."""
    root = tmp_path_factory.mktemp("auto_refusal")
    docs = root / "docs"
    for rel in DOCS:
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE / rel, docs / rel)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_REFUSAL_CACHE", str(root / "cache"))  # off-topic vectors: this module's own cache
        res = _cli(root / "home", ens, "index", str(docs), "--kb", KB, "--embed-model", "e5+minilm")
    return root, res


@pytest.fixture
def home(built, tmp_path, monkeypatch):
    """A copy of the module's KB home this test may change."""
    root, _ = built
    monkeypatch.setenv("RAG_REFUSAL_CACHE", str(root / "cache"))
    shutil.copytree(root / "home", tmp_path / "home")
    return tmp_path / "home"


def _manager(home: Path, ens):
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager

    return KBManager(IndexerSettings(home=home, embed_model="e5+minilm"), encoders={"e5+minilm": ens})


def _pipeline(home: Path, ens, **answer):
    from rag.config import Settings
    from rag.pipeline import build_pipeline

    settings = Settings.load(indexer={"home": home, "embed_model": "e5+minilm"}, answer=answer or None)
    return build_pipeline(settings, KB, _manager(home, ens), reranker=None)


# ---- no encoder ---------------------------------------------------------------------------------------
def test_packaged_off_topic_set_is_bilingual_with_a_fixed_held_out_part():
    rows = [json.loads(line) for line in OFF_TOPIC_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    for lang in ("en", "zh"):
        texts = [r["text"] for r in rows if r["lang"] == lang]
        assert len(texts) >= 150 and len(set(texts)) == len(texts)
        assert len({r["topic"] for r in rows if r["lang"] == lang}) >= 10
        held, cal = off_topic("heldout", lang), off_topic("calibration", lang)
        assert held == texts[HOLDOUT_EVERY - 1::HOLDOUT_EVERY]  # every 5th, in file order
        assert not set(held) & set(cal) and len(held) + len(cal) == len(texts) == len(off_topic("all", lang))
        assert not set(FIVE[lang]) & set(texts)  # the measurement's extra questions were never calibrated on
    assert all(("\u4e00" <= q[0] <= "\u9fff" or "《" in q or "“" in q or q[0].isascii()) for q in off_topic("all", "zh"))


def test_questions_are_written_from_titles_statements_and_faq_lines():
    assert template_question("You can lock your card in the mobile app.") == "Can I lock my card in the mobile app?"
    assert template_question("If you lose your card abroad, call the number on the back.") == \
        "What should I do if I lose my card abroad?"
    assert template_question("We will tell you the result in writing.") == "Will you tell me the result in writing?"
    assert template_question("Mortgage payments are due on the 1st of each month.") == \
        "Are Mortgage payments due on the 1st of each month?"
    assert template_question("临时挂失有效期为5天。") == "临时挂失有效期是多少？"
    assert template_question("如果本人不能亲自到网点，可委托他人代办。") == "如果本人不能亲自到网点，该怎么办？"
    assert template_question("您可以通过手机银行办理临时挂失。") == "您可以通过手机银行办理临时挂失吗？"
    assert title_question("Lost or Stolen Cards > 3. Replacement cards") == "What should I know about replacement cards?"
    assert title_question("港湾银行借记卡挂失须知 > 一、临时挂失") == "关于临时挂失，有哪些规定？"
    assert title_question("FAQ > How do I reset my password?") == "How do I reset my password?"
    assert faq_questions("Forgot your PIN?\nCan I change my PIN in the app? Yes, under Cards.") == \
        ["Forgot your PIN?", "Can I change my PIN in the app?"]


def test_threshold_refuses_the_target_share_but_keeps_answerable_ones():
    # separated: the lowest threshold refusing 95% of the unanswerable scores
    c = choose_threshold([0.8, 0.85, 0.9, 0.95], [0.1 * i for i in range(1, 7)] + [0.65] * 14)
    assert c.unanswerable_refused >= 0.95 and c.answerable_kept == 1.0 and 0.6 < c.threshold < 0.8
    # overlapping: the cap keeps 85% (default) of the answerable scores, whatever that refuses
    a = [0.5 + 0.01 * i for i in range(20)]
    c = choose_threshold(a, [0.6] * 20)
    assert c.answerable_kept == 0.85 and c.unanswerable_refused == 0.0 and 0.52 < c.threshold < 0.53
    # per language: Chinese questions score higher (e5 alone), so one threshold for both languages
    # would either answer Chinese off-topic questions or refuse English ones the KB answers
    en, zh = [0.80 + 0.002 * i for i in range(20)], [0.86 + 0.002 * i for i in range(20)]
    off_en, off_zh = [0.70] * 19 + [0.75], [0.80] * 19 + [0.85]
    cal, by = choose_thresholds(en + zh, ["en"] * 20 + ["zh"] * 20, off_en + off_zh, ["en"] * 20 + ["zh"] * 20)
    assert 0.70 < by["en"] < 0.75 and 0.80 < by["zh"] < 0.85 and cal.threshold == by["en"]
    assert cal.answerable_kept == 1.0 and cal.unanswerable_refused == 0.95
    # a language without answerable probes (English questions on a Chinese KB): its off-topic ones alone
    _, by = choose_thresholds(zh, ["zh"] * 20, off_en + off_zh, ["en"] * 20 + ["zh"] * 20)
    assert set(by) == {"en", "zh"} and 0.70 < by["en"] < 0.75
    with pytest.raises(ValueError):
        choose_threshold([float("-inf")], [0.5])


# ---- the module's KB ----------------------------------------------------------------------------------
def test_rag_index_calibrates_a_fresh_kb(built, ens):
    root, res = built
    assert res.exit_code == 0, res.output
    assert "8 indexed" in res.stdout and "calibrating refusal on" in res.stderr
    assert "calibrated automatically" in res.stdout
    store = _manager(root / "home", ens).open(KB)
    try:
        assert threshold_source(store) == AUTO and store.get_meta(SOURCE_KEY) == AUTO
        by_language = json.loads(store.get_meta(LANG_KEY))
        assert set(by_language) == {"en", "zh"} and float(store.get_meta(META_KEY)) == min(by_language.values())
        assert 0 < by_language["en"] < by_language["zh"] < 1  # e5 alone scores Chinese questions higher
        assert store.get_meta(GENERATION_KEY) == str(store.cache_generation())
        probes = build_probes(store)
        assert {p.kind for p in probes} >= {"title", "template"}
        assert any("\u4e00" <= p.text[0] <= "\u9fff" for p in probes) and any(p.text[0].isascii() for p in probes)
    finally:
        store.close()
    assert list((root / "cache").glob("*.npy"))  # the off-topic vectors are kept for the next run


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_off_topic_refused_and_sample_questions_answered(built, ens, lang):
    root, _ = built
    pipe = _pipeline(root / "home", ens, mode="extract")
    try:
        t = pipe.threshold_for(FIVE[lang][0])
        assert t is not None and t == pipe.refusal_by_language[lang] >= pipe.refusal_threshold
        off = off_topic("heldout", lang) + FIVE[lang]
        refused = sum(s < t for s in evidence_scores(pipe, off)) / len(off)
        assert refused >= 0.9, f"{lang}: {refused:.0%} of {len(off)} held-out off-topic questions refused"
        questions = answerable(lang)
        assert len(questions) >= 12
        answered = sum(s >= t for s in evidence_scores(pipe, questions)) / len(questions)
        assert answered >= 0.9, f"{lang}: {answered:.0%} of {len(questions)} sample questions answered"
        # the whole answering path: refused without generating, answered with a citation
        ans = pipe.ask(FIVE[lang][0])
        assert ans.refused and ans.citations == [] and ans.timings["generate_s"] == 0.0
        ans = pipe.ask({"en": "My debit card was stolen while I was abroad. Which number should I call?",
                        "zh": "银行卡丢了怎么挂失？临时挂失的有效期是多久？"}[lang])
        assert not ans.refused and ans.citations
    finally:
        pipe.close()


def test_a_tuned_threshold_is_never_overwritten(home, ens, tmp_path):
    from rag.adapt.tune_refusal import recalibrate, tune_refusal
    from rag.config import Settings

    pipe = _pipeline(home, ens)
    try:
        auto = pipe.refusal_threshold
        rep = tune_refusal(pipe, answerable("en")[:6] + answerable("zh")[:6])
        tuned = rep.calibration.threshold
        assert tuned != auto and threshold_source(pipe.store) == TUNED
        assert pipe.threshold_for(FIVE["en"][0]) == pipe.threshold_for(FIVE["zh"][0]) == tuned  # one for both
        cal = auto_calibrate(pipe)  # computes, does not store
        assert not cal.stored and "tuned" in cal.note and float(pipe.store.get_meta(META_KEY)) == tuned
    finally:
        pipe.close()
    settings = Settings.load(indexer={"home": home, "embed_model": "e5+minilm"})
    assert recalibrate(settings, KB, _manager(home, ens), reranker=None, force=True) is None
    # indexing more documents keeps it
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "atm.md").write_text("# ATM deposits\n\nYou can deposit checks at any Harbor Bank ATM. "
                                              "Deposits made before 9 p.m. are credited the same business day.\n")
    res = _cli(home, ens, "index", str(tmp_path / "more"), "--kb", KB)
    assert res.exit_code == 0 and "1 indexed" in res.stdout and "calibrat" not in res.output
    store = _manager(home, ens).open(KB)
    try:
        assert float(store.get_meta(META_KEY)) == tuned and store.get_meta(SOURCE_KEY) == TUNED
        store.set_meta(SOURCE_KEY, "")  # a threshold stored before sources existed counts as tuned too
        assert threshold_source(store) == TUNED
    finally:
        store.close()
    assert recalibrate(settings, KB, _manager(home, ens), reranker=None, force=True) is None
    # `rag tune refusal --auto` hands it back to the automatic calibration
    res = _cli(home, ens, "tune", "refusal", "--kb", KB, "--auto")
    assert res.exit_code == 0, res.output
    assert "calibrating refusal on" in res.stderr and "stored" in res.stdout
    store = _manager(home, ens).open(KB)
    try:
        assert store.get_meta(SOURCE_KEY) == AUTO and float(store.get_meta(META_KEY)) != tuned
    finally:
        store.close()


def test_recalibrated_only_when_the_kb_changed(home, ens):
    from rag.adapt.tune_refusal import recalibrate
    from rag.config import Settings

    settings = Settings.load(indexer={"home": home, "embed_model": "e5+minilm"})
    mgr = _manager(home, ens)
    assert recalibrate(settings, KB, mgr, reranker=None) is None  # nothing changed since `rag index`
    lines = []
    store = mgr.open(KB)
    doc = next(d for d in store.documents() if d.source.endswith("wire_transfers.html"))
    store.close()
    res = _cli(home, ens, "delete", doc.doc_id, "--kb", KB)
    assert res.exit_code == 0 and "deleted" in res.stdout and "calibrated automatically" in res.stdout
    assert recalibrate(settings, KB, mgr, reranker=None) is None
    # a reranker switched on changes the evidence's scale: calibrated again, on the reranker's scores
    cal = recalibrate(settings, KB, mgr, reranker=_TenfoldReranker(), progress=lines.append)
    assert cal is not None and cal.stored and cal.threshold > 5 and lines[0].startswith("calibrating refusal on")
    store = mgr.open(KB)
    try:
        assert store.get_meta(EVIDENCE_KEY) == "rerank:tenfold" and float(store.get_meta(META_KEY)) == cal.threshold
    finally:
        store.close()
    assert recalibrate(settings, KB, mgr, reranker=_TenfoldReranker()) is None
    assert recalibrate(settings, "no-such-kb", mgr) is None  # the service calls it after deleting a KB


class _TenfoldReranker:
    """A stand-in cross-encoder: ten times the dense score (another scale than the cosine)."""
    top_n, model_path = 8, "tenfold"

    def warm_up(self):
        pass

    def run(self, query, hits, k):
        for h in hits:
            h.scores["rerank"] = 10 * h.scores.get("dense", 0.0)
        return sorted(hits, key=lambda h: -h.scores["rerank"])[:k]
