"""The knowledge-gaps report (api.feedback.gaps) on both state databases, SQLite and a real PostgreSQL,
over the indexed bank sample: unanswered questions grouped and counted, votes, the period, and the words
no document holds, in English and Chinese."""
from __future__ import annotations

import unicodedata

import pytest

from api.feedback import FeedbackStore, Recorded
from api.feedback.gaps import knowledge_gaps
from tests.api.state_dbs import BACKENDS, postgres, state_db  # noqa: F401  (postgres: the module's server)


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    yield from state_db(request, tmp_path, clear=("feedback", "answers"))


def _report(db, manager, days: float = 1, limit: int = 20):
    """The gaps report of the sample KB 't'."""
    store = manager.open("t")
    try:
        return knowledge_gaps(db, store, "t", days=days, limit=limit)
    finally:
        store.close()


def _answer(store: FeedbackStore, n: int, kb: str, question: str, refused: bool) -> str:
    store.record(f"a{n}", Recorded(kb, question), {"answer": "...", "refused": refused})
    return f"a{n}"


def test_unanswered_questions_and_the_words_no_document_holds(db, manager, sample_copy):
    fb = FeedbackStore(db)
    asked = [("What is the quux for wires?", True), ("what is the QUUX for wires", True),
             ("挂号费多少？", True), ("How do I report a lost card?", False), ("Wire cut-off time?", False)]
    ids = [_answer(fb, i, "t", q, refused) for i, (q, refused) in enumerate(asked)]
    _answer(fb, 99, "other", "What is the zorblax?", True)            # another KB's: not in this report
    fb.rate(ids[3], "down", comment="wanted the phone number")
    fb.rate(ids[4], "up")
    rep, first = _report(db, manager), _report(db, manager, limit=1)
    assert first.questions == rep.questions[:1]
    assert (rep.answers, rep.refused, rep.voted_down) == (5, 3, 1)
    assert [(u.times, u.refused, u.voted_down) for u in rep.questions] == [(2, 2, 0), (1, 0, 1), (1, 1, 0)]
    assert rep.questions[1].comments == ["wanted the phone number"]
    words = {w.word: w.questions for w in rep.missing_words}
    assert words.get("quux") == 1 and words.get("挂号费") == 1, words
    assert not {"wire", "wires", "card", "lost", "report", "zorblax"} & set(words)  # the documents' own, another KB's


def test_the_period_leaves_older_answers_out(db, manager, sample_copy):
    fb = FeedbackStore(db)
    _answer(fb, 1, "t", "What is the quux?", True)
    db.execute("UPDATE answers SET created_at = ? WHERE id = ?", ("2020-01-01T00:00:00+00:00", "a1"))
    rep = _report(db, manager, days=30)
    assert rep.answers == 0 and rep.questions == [] and rep.missing_words == []


def test_a_question_stored_masked_keeps_its_other_words(db, manager, sample_copy):
    """With mask_stored_questions the phone, card and ID numbers of a question are stored masked. The report
    left out each white-space-delimited run holding a mask: a Chinese question, written without spaces, lost
    every word ("我的手机*******5678交挂号费失败" gave none)."""
    fb = FeedbackStore(db, mask_questions=True)
    _answer(fb, 1, "t", "我的手机13812345678交挂号费失败", True)
    _answer(fb, 2, "t", "身份证11010519491231002X的quux怎么办", True)
    _answer(fb, 3, "t", "Mail zhang.san@hospital.cn the zorblax form", True)
    rep = _report(db, manager)
    assert all("13812345678" not in u.question and "11010519491231002X" not in u.question for u in rep.questions)
    words = {w.word for w in rep.missing_words}
    assert {"挂号费", "quux", "zorblax"} <= words, words
    assert not {w for w in words if "*" in w or any(c.isdigit() for c in w)}, words  # nothing of the masked items
    assert "hospital" not in words and "cn" not in words


def test_the_words_of_many_questions_are_looked_up_at_once_on_milvus(tmp_path, minilm):
    """A Milvus KB answers a term lookup with a query: the report made one per distinct word (~2 ms each on
    Milvus Lite, more over a network: 6.6 s for 6,000 rows, 90% of it lookups). They are now read together,
    a query per 500 words, and the report says the same."""
    import random
    import string

    pytest.importorskip("milvus_lite")
    from milvus_lite.server_manager import server_manager_instance

    from api.state.factory import open_database
    from tests.indexer.test_store_milvus import _bank_on_milvus

    mgr, _ = _bank_on_milvus(tmp_path, tmp_path / "m.db", minilm)
    db = open_database(None, tmp_path)
    rnd = random.Random(3)
    made_up = sorted({"".join(rnd.choice(string.ascii_lowercase) for _ in range(9)) for _ in range(1200)})
    fb = FeedbackStore(db)
    for i, word in enumerate(made_up):
        _answer(fb, i, "bank", f"lost card {word} fee?" if i % 2 else f"挂失{word}要多久", True)
    store = mgr.open("bank")
    queries = []
    real_query = store.client.query
    store.client.query = lambda *a, **kw: queries.append(1) or real_query(*a, **kw)  # pymilvus's, counted
    try:
        rep = knowledge_gaps(db, store, "bank", days=1, limit=2000)
    finally:
        store.client.query = real_query
        store.close()
        db.close()
        server_manager_instance.release_server(str(tmp_path / "m.db"))
    words = {w.word for w in rep.missing_words}
    assert set(made_up) <= words and not {"lost", "card", "挂失"} & words, sorted(words - set(made_up))
    assert len(queries) <= 5, len(queries)


def test_words_typed_full_width_are_listed(db, manager, sample_copy):
    """A Chinese input method types Latin letters full width ("ＡＴＭ卡的ｑｕｕｘ"): the report's words are
    ASCII, so such a question gave none of them; they are read as NFKC forms now."""
    fb = FeedbackStore(db)
    _answer(fb, 1, "t", "ＡＴＭ卡的ｑｕｕｘ在哪里", True)
    _answer(fb, 2, "t", "ｚｏｒｂｌａｘ ｆｅｅ？", True)
    rep = _report(db, manager)
    words = {w.word for w in rep.missing_words}
    assert {"quux", "zorblax"} <= words, words
    assert all(unicodedata.normalize("NFKC", w) == w for w in words), words  # no full-width form listed
