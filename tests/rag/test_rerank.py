"""Cross-encoder reranking: loading local models offline, reordering, config, mining, training + measurement."""
import json
import math
from types import SimpleNamespace

import pytest

from rag.rerank.config import RerankSettings
from rag.rerank.cross_encoder import CrossEncoderReranker, passage_text
from rag.rerank.factory import make_reranker
from rag.types import Hit


@pytest.fixture(scope="session")
def untrained_ce(tmp_path_factory):
    """A CrossEncoder folder built from the bundled MiniLM weights with a fresh (seeded) 1-logit head."""
    import torch
    from sentence_transformers import CrossEncoder

    from indexer.embed.base import default_minilm_path

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ce") / "untrained"
    CrossEncoder(default_minilm_path(), num_labels=1, local_files_only=True, device="cpu").save(str(folder))
    return folder


def _hits(n: int) -> list[Hit]:
    return [Hit(doc_id=f"d{i}", chunk_id=f"c{i}", source=f"s{i}", text=f"passage {i}", score=1.0 - i / 100,
                title=f"T{i}", scores={"dense": 0.5, "bm25": float(i)}) for i in range(n)]


def test_loads_any_local_cross_encoder_folder_offline(untrained_ce, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = CrossEncoderReranker(str(untrained_ce), device="cpu")
    r.warm_up()
    scores = r.score("how do I report a lost card", ["Call 1-800-555-0199 to report it.", "Wire cut-off is 4 pm."])
    assert len(scores) == 2 and all(isinstance(s, float) and math.isfinite(s) for s in scores)
    assert scores == r.score("how do I report a lost card", ["Call 1-800-555-0199 to report it.",
                                                             "Wire cut-off is 4 pm."])  # deterministic
    with pytest.raises(RuntimeError, match="rag tune reranker"):
        CrossEncoderReranker(str(untrained_ce.parent / "missing")).warm_up()


def test_run_reorders_top_n_and_keeps_the_rest(monkeypatch):
    r = CrossEncoderReranker("unused", top_n=4)
    seen = {}

    def fake_score(query, passages):
        seen["passages"] = passages
        return [float(p.endswith(("2", "3"))) + int(p[-1]) / 10 for p in passages]  # 3 > 2 > 1 > 0

    monkeypatch.setattr(r, "score", fake_score)
    hits = _hits(6)
    out = r.run("q", hits, k=5)
    assert seen["passages"] == [passage_text(h.title, h.text) for h in hits[:4]] == [f"T{i}\npassage {i}" for i in range(4)]
    assert [h.chunk_id for h in out] == ["c3", "c2", "c1", "c0", "c4"]  # reranked head, then the tail, cut at k
    assert out[0].score == out[0].scores["rerank"] == pytest.approx(1.3)
    assert out[0].scores["fused"] == pytest.approx(0.97) and out[0].scores["bm25"] == 3.0
    assert "rerank" not in out[4].scores and out[4].score == hits[4].score  # beyond top_n: untouched
    assert hits[0].score == 1.0 and "rerank" not in hits[0].scores  # the caller's hits are not modified
    assert r.run("q", [], 5) == [] and len(r.run("q", hits, 2)) == 2


def test_run_with_a_real_model_follows_its_scores(untrained_ce):
    r = CrossEncoderReranker(str(untrained_ce), top_n=3, device="cpu")
    hits = _hits(4)
    hits[1].text = "Report a lost or stolen card by calling 1-800-555-0199."
    out = r.run("lost card", hits, 10)
    expected = r.score("lost card", [passage_text(h.title, h.text) for h in hits[:3]])
    assert [h.scores["rerank"] for h in out[:3]] == sorted(expected, reverse=True)
    assert {h.chunk_id for h in out[:3]} == {"c0", "c1", "c2"} and out[3].chunk_id == "c3"


def test_make_reranker_is_off_unless_a_model_is_configured(monkeypatch, tmp_path):
    monkeypatch.delenv("RAG_RERANK_MODEL", raising=False)
    assert make_reranker() is None
    assert make_reranker(RerankSettings()) is None
    assert make_reranker(SimpleNamespace(indexer=None, retrieval=None)) is None  # Settings without .rerank yet
    monkeypatch.setenv("RAG_RERANK_MODEL", str(tmp_path / "ce"))
    monkeypatch.setenv("RAG_RERANK_TOP_N", "7")
    r = make_reranker()
    assert isinstance(r, CrossEncoderReranker) and r.model_path == str(tmp_path / "ce") and r.top_n == 7
    r = make_reranker(SimpleNamespace(rerank=RerankSettings(model="x", batch_size=4)))
    assert r.model_path == "x" and r.batch_size == 4 and r._model is None  # nothing loads before use


def test_mined_queries_and_hard_negatives(manager, sample_copy):
    from rag.adapt.tune_reranker import mine_groups, mine_queries, split_holdout
    from rag.retrieval.hybrid import HybridRetriever

    store = manager.open("t")
    try:
        chunks = {c.chunk_id: c for d in store.documents() for c in store.doc_chunks(d.doc_id)}
        queries = mine_queries(store, seed=1)
        assert queries == mine_queries(store, seed=1)  # deterministic
        sentences = [q for q in queries if q.kind == "sentence"]
        titles = [q for q in queries if q.kind == "title"]
        assert len(sentences) >= len(chunks) and titles
        assert any("。" in q.query or "；" in q.query for q in sentences)  # Chinese chunks give queries too
        squash = lambda t: "".join(t.split())  # noqa: E731 - wrapped lines are joined in queries
        for q in sentences:
            assert squash(q.query) in squash(chunks[q.chunk_id].text) and q.chunk_id in q.relevant
        removed = [q for q in sentences if squash(q.query) not in squash(q.passage)]
        assert len(removed) >= 0.8 * len(sentences)  # inverse cloze: mostly cut out of the positive
        train, held = split_holdout(queries, 0.2, seed=1)
        assert len(held) == round(0.2 * len(queries)) and len(train) + len(held) == len(queries)
        assert not {id(q) for q in train} & {id(q) for q in held}

        retriever = HybridRetriever(store, manager.encoder())
        groups = mine_groups(train[:12], retriever, negatives=3, max_pairs=30, seed=1)
        assert groups and sum(1 + len(g.negatives) for g in groups) <= 30
        # two chunks of one section can give the same (title) query, so a group is matched to its query
        # by text and positive passage together
        def mined(g):
            return next((q for q in train[:12] if q.query == g.query and q.passage == g.positive), None)

        passages = {passage_text(c.title, c.text): c for c in chunks.values()}
        for g in groups:
            q = mined(g)
            assert q is not None and 1 <= len(g.negatives) <= 3  # the positive is the query's own passage
            assert all(passages[n].doc_id != q.doc_id for n in g.negatives)  # never the query's own document
        siblings = mine_groups(train[:12], retriever, negatives=3, same_doc=True, seed=1)
        assert all(mined(g) is not None for g in siblings)
        assert any(passages[n].doc_id == mined(g).doc_id for g in siblings for n in g.negatives)
        for g in siblings:  # ... but never a chunk that holds the query
            assert not {passages[n].chunk_id for n in g.negatives} & mined(g).relevant
    finally:
        store.close()


@pytest.mark.slow  # ~11 s: make test-all runs it
def test_fit_learns_a_simple_ranking(tmp_path):
    from rag.adapt.tune_reranker import Group, fit

    topics = {"card": "Report a lost card by phone at once.", "wire": "Wire transfers leave before 4 pm.",
              "loan": "Personal loans run from 12 to 72 months.", "fee": "The monthly fee is waived above 1500 dollars.",
              "branch": "Branches open at 9 on Saturdays.", "password": "Reset your online banking password by text code."}
    queries = {"card": ["lost card", "stolen card phone"], "wire": ["wire cut-off", "when do wires leave"],
               "loan": ["loan term months", "personal loan length"], "fee": ["monthly fee waived", "avoid the fee"],
               "branch": ["branch saturday hours", "open on saturday"],
               "password": ["reset password", "forgot online password"]}
    groups = [Group(q, topics[t], [topics[o] for o in topics if o != t][:3]) for t, qs in queries.items() for q in qs]
    fit(groups * 4, tmp_path / "ce", epochs=2, max_length=32, seed=1, device="cpu", progress=False)
    r = CrossEncoderReranker(str(tmp_path / "ce"), device="cpu")
    names = list(topics)
    right = sum(names[max(range(len(names)), key=lambda i: s[i])] == t
                for t, qs in queries.items() for q in qs for s in [r.score(q, list(topics.values()))])
    assert right >= 9  # of 12; an untrained head gets about 2


def _train_small(store, retriever, out, **kw):
    from rag.adapt.tune_reranker import train_reranker

    args = dict(max_pairs=48, epochs=1, batch_size=16, max_length=96, top_n=8, device="cpu", progress=False, seed=3)
    return train_reranker(store, retriever, out, **{**args, **kw})


@pytest.mark.slow  # ~20 s: make test-all runs it
def test_train_reranker_saves_a_loadable_model_and_measures_with_and_without(manager, sample_copy, tmp_path):
    from rag.retrieval.hybrid import HybridRetriever

    store = manager.open("t")
    try:
        report = _train_small(store, HybridRetriever(store, manager.encoder()), tmp_path / "ce")
    finally:
        store.close()
    assert report.train_pairs <= 48 and report.train_queries >= 10 and report.eval_queries >= 10
    assert 0 < report.mrr_without <= 1 and 0 <= report.mrr_with <= 1
    assert report.gain == pytest.approx(report.mrr_with - report.mrr_without)
    saved = json.loads((tmp_path / "ce" / "tune_report.json").read_text())
    assert saved["mrr_without"] == report.mrr_without and saved["mrr_with"] == report.mrr_with
    assert 0 <= report.weight <= 1 and 0 <= report.mrr_cross_encoder_only <= 1
    r = make_reranker(RerankSettings(model=str(tmp_path / "ce"), device="cpu"))
    assert len(r.score("lost card", ["a", "b", "c"])) == 3
    assert r.weight == report.weight  # the chosen blend travels with the model ...
    assert make_reranker(RerankSettings(model=str(tmp_path / "ce"), weight=1.0)).weight == 1.0  # ... config wins


def test_weight_zero_neither_loads_nor_runs_the_model(tmp_path):

    hits = [Hit(doc_id=f"d{i}", chunk_id=f"d{i}:0", source="s", text=t, score=s)
            for i, (t, s) in enumerate([("Branches open at nine.", 0.9), ("Cards are blocked by phone.", 0.5)])]
    r = CrossEncoderReranker(str(tmp_path / "no-such-model"), weight=0.0)
    r.warm_up()  # nothing to load: a missing folder is no error at weight 0
    assert not r.active and r.run("How do I block my card?", hits, 2) == hits
    with pytest.raises(RuntimeError, match="cannot load the cross-encoder"):
        r.score("How do I block my card?", ["x"])  # asked for scores explicitly, it does load


def test_blend_weight_zero_keeps_retrieval_order_and_one_is_the_cross_encoder():
    from rag.rerank.cross_encoder import blend

    rerank, fused = [0.1, 5.0, 2.0], [0.9, 0.1, 0.5]
    assert blend(rerank, fused, 1.0) == rerank
    zero = blend(rerank, fused, 0.0)
    assert sorted(range(3), key=lambda i: -zero[i]) == [0, 2, 1]
    half = blend(rerank, fused, 0.5)  # min-max: rerank [0, 1, 0.39], fused [1, 0, 0.5]
    assert half == pytest.approx([0.5, 0.5, (1.9 / 4.9 + 0.5) / 2])


def test_weight_is_chosen_on_one_half_and_measured_on_the_other():
    from rag.adapt.tune_reranker import Scored, best_weight, cross_fitted_mrr, mean_mrr

    # retrieval ranks the right chunk second; the cross-encoder ranks it first in half of the
    # queries and last in the other half: no weight can be trusted on held-out queries
    good = Scored(["a", "b", "c"], [0.9, 0.8, 0.1], [0.0, 1.0, 0.5], {"b"})
    bad = Scored(["a", "b", "c"], [0.9, 0.8, 0.1], [0.5, 0.0, 1.0], {"b"})
    assert good.mrr(None) == 0.5 and good.mrr(1.0) == 1.0 and bad.mrr(1.0) == pytest.approx(1 / 3)
    assert best_weight([good, good]) > 0 and best_weight([bad, bad]) == 0.0  # ties: the smaller weight
    assert mean_mrr([good, good], best_weight([good, good])) == 1.0
    # interleaved halves: the weight picked on [good, good] is measured on [bad, bad] and vice versa,
    # so the in-sample gain (0.75 at weight 0.2) is not reported: retrieval's 0.5 is
    mixed = [good, bad, good, bad]
    assert cross_fitted_mrr(mixed) == pytest.approx(0.5) and mean_mrr(mixed, 0.2) == pytest.approx(0.75)


def _tune_cli(monkeypatch, home):
    """`rag tune ...` as rag/cli.py mounts it, on the given KB home."""
    import typer

    import cli.state
    from cli.tune import tune_app

    monkeypatch.setattr(cli.state.state, "home", str(home))
    root = typer.Typer()
    root.callback()(lambda: None)
    root.add_typer(tune_app, name="tune")
    return root


def test_cli_tune_reranker_refuses_bad_targets(manager, sample_copy, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    cli, runner = _tune_cli(monkeypatch, manager.home), CliRunner()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("keep me")
    res = runner.invoke(cli, ["tune", "reranker", "--kb", "t", "--out", str(tmp_path / "busy")])
    assert res.exit_code == 1 and "not empty" in res.output and (tmp_path / "busy" / "x").exists()
    res = runner.invoke(cli, ["tune", "reranker", "--kb", "nokb", "--out", str(tmp_path / "new")])
    assert res.exit_code == 1 and "does not exist" in res.output and not (tmp_path / "new").exists()


@pytest.mark.slow
def test_cli_tune_reranker_end_to_end(manager, sample_copy, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    res = CliRunner().invoke(_tune_cli(monkeypatch, manager.home), ["tune", "reranker", "--kb", "t", "--out", str(tmp_path / "ce"), "--max-pairs", "64",
                                        "--max-length", "128", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output[res.output.index("{"):])
    assert {"mrr_without", "mrr_with", "gain", "train_pairs"} <= set(report) and report["train_pairs"] <= 64
    assert (tmp_path / "ce" / "config.json").exists()
