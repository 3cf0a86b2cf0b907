import math

import pytest

from rag.metrics import mrr_at_k, ndcg_at_k, recall_at_k


def test_ndcg_hand_computed():
    qrels = {"a": 1, "b": 1}
    # relevant at ranks 2 and 3: (1/log2(3) + 1/log2(4)) / (1 + 1/log2(3))
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["x", "a", "b"], qrels, 10) == pytest.approx(expected)
    assert ndcg_at_k(["a", "b"], qrels) == pytest.approx(1.0)
    assert ndcg_at_k(["x"] * 10 + ["a"], qrels, 10) == 0.0


def test_graded_ndcg():
    qrels = {"a": 2, "b": 1}
    assert ndcg_at_k(["b", "a"], qrels) == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_recall_and_mrr():
    qrels = {"a": 1, "b": 1, "c": 0}
    assert recall_at_k(["a", "x", "c", "b"], qrels, 1) == 0.5
    assert recall_at_k(["x", "c", "a", "b"], qrels, 5) == 1.0
    assert mrr_at_k(["x", "c", "b"], qrels) == pytest.approx(1 / 3)
    assert mrr_at_k(["x"] * 10 + ["a"], qrels, 10) == 0.0
