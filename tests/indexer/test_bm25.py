"""The vectorised BM25 must give rank-bm25's BM25Okapi scores on the same tokens."""
import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from indexer.store.local.sparse import BM25Index
from indexer.tokenize import tokenize

DOCS = [
    "Wire transfers to other banks cost $25 and arrive within two business days.",
    "Incoming wire transfers are free of charge for all personal accounts.",
    "Report a lost or stolen card at once by calling the 24-hour hotline.",
    "Overdraft protection links your savings account to your checking account.",
    "跨行转账每笔收费5元，本行转账免费。",
    "信用卡丢失后请立即拨打客服热线挂失。",
    "网上银行密码重置需要验证手机号码。",
    "Branches open Monday to Friday from 9am to 5pm; Saturday 9am to noon.",
]


def random_corpus(n_docs, vocab, seed):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    return [[rng.choice(words[: rng.randint(5, vocab)]) for _ in range(rng.randint(1, 40))] for _ in range(n_docs)]


@pytest.mark.parametrize("corpus", [
    [tokenize(d) for d in DOCS],
    random_corpus(300, 50, 1),   # many terms in over half the docs: exercises the negative-idf floor
    random_corpus(200, 500, 2),
])
def test_scores_match_rank_bm25(corpus):
    ref = BM25Okapi(corpus)
    idx = BM25Index(idf="okapi")
    idx.add(np.arange(len(corpus)), corpus)
    rng = random.Random(0)
    queries = [rng.sample(corpus[rng.randrange(len(corpus))], 1) + ["nope"] for _ in range(20)]
    queries += [corpus[3][:3] + corpus[3][:1]]  # repeated query terms count twice in rank-bm25
    for q in queries:
        np.testing.assert_allclose(idx.score(q), ref.get_scores(q), rtol=1e-5, atol=1e-6)


def test_incremental_equals_rebuild():
    corpus = random_corpus(120, 80, 3)
    inc = BM25Index(idf="okapi")
    inc.add(np.arange(60), corpus[:60])
    inc.add(np.arange(60, 120), corpus[60:])
    inc.remove(set(range(0, 120, 3)))
    kept = [i for i in range(120) if i % 3]
    ref = BM25Okapi([corpus[i] for i in kept])
    q = corpus[5][:4]
    np.testing.assert_allclose(inc.score(q), ref.get_scores(q), rtol=1e-5)
    np.testing.assert_array_equal(inc.ids, kept)


def test_search_top_k_and_filter(tmp_path):
    idx = BM25Index()
    idx.add(np.arange(100, 100 + len(DOCS)), [tokenize(d) for d in DOCS])
    ids, scores = idx.search(tokenize("wire transfer fee"), 3)
    assert ids[0] in (100, 101) and list(scores) == sorted(scores, reverse=True)
    ids, _ = idx.search(tokenize("信用卡挂失"), 2)
    assert ids[0] == 105
    mask = idx.ids != 105
    ids, _ = idx.search(tokenize("信用卡挂失"), 2, mask)
    assert 105 not in ids
    idx.save(tmp_path)
    again = BM25Index.load(tmp_path)
    np.testing.assert_allclose(again.score(tokenize("wire")), idx.score(tokenize("wire")))


def test_lucene_idf_never_negative_in_tiny_kb():
    idx = BM25Index()
    idx.add([1, 2], [["loan", "policy"], ["loan", "rates", "loan"]])
    ids, scores = idx.search(["loan"], 5)
    assert list(ids) == [2, 1] and (scores > 0).all()
    okapi = BM25Index(idf="okapi")
    okapi.add([1, 2], [["loan", "policy"], ["loan", "rates", "loan"]])
    assert (okapi.score(["loan"]) < 0).all()  # why lucene is the default
