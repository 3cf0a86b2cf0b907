import pytest

from rag.answering.refusal import calibrate, evidence, refusal_message
from rag.retrieval.conversation import retrieval_query
from rag.types import Hit


def test_follow_up_uses_history():
    history = [{"role": "user", "content": "What does an international wire cost?"},
               {"role": "assistant", "content": "It costs $45 [1]."}]
    assert retrieval_query("And for students?", history) == "What does an international wire cost? And for students?"
    assert retrieval_query("How do I reset my online banking password?", history) == \
        "How do I reset my online banking password?"
    zh = [{"role": "user", "content": "跨行转账手续费是多少？"}]
    assert retrieval_query("那么限额呢？", zh).startswith("跨行转账手续费是多少？")
    assert retrieval_query("信用卡丢失后如何办理挂失手续？", zh) == "信用卡丢失后如何办理挂失手续？"


def test_calibration_separates_scores():
    cal = calibrate([0.8, 0.7, 0.75, 0.6], [0.3, 0.4, 0.65], min_answered=None)
    # (0.65, 0.7]: 3/4 answered, all refused -> balanced 0.875 beats (0.4, 0.6]: all answered, 2/3 refused
    assert cal.threshold == pytest.approx(0.675)
    assert cal.answerable_kept == 0.75 and cal.unanswerable_refused == 1.0 and cal.accuracy == 0.875
    assert calibrate([0.9, 0.8], [0.1, 0.2]).threshold == pytest.approx(0.5)
    # default: answer at least 90% of answerable questions, then refuse as many others as possible
    keep = calibrate([0.8, 0.7, 0.75, 0.6], [0.3, 0.4, 0.65])
    assert keep.answerable_kept == 1.0 and keep.threshold == pytest.approx(0.5)
    assert keep.unanswerable_refused == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        calibrate([0.5], [])


def test_evidence_prefers_reranker_and_messages():
    h = [Hit("d", "c", "s", "t", 0.1, scores={"dense": 0.7}), Hit("d", "c2", "s", "t", 0.1, scores={"dense": 0.5})]
    assert evidence(h) == 0.7
    h[1].scores["rerank"] = 2.5
    assert evidence(h) == 2.5
    assert evidence([]) == float("-inf")
    assert "知识库" in refusal_message("这个问题呢？") and "knowledge base" in refusal_message("what?")
