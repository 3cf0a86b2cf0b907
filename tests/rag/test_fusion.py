import pytest

from rag.retrieval.fusion import aggregate_by, fuse, rrf, score_fusion


def test_rrf_hand_computed():
    a = {"x": 9.0, "y": 5.0, "z": 1.0}
    b = {"y": 0.9, "w": 0.8}
    out = rrf([a, b], k=60)
    assert out["y"] == pytest.approx(1 / 62 + 1 / 61)
    assert out["x"] == pytest.approx(1 / 61)
    assert out["w"] == pytest.approx(1 / 62)
    assert list(out)[0] == "y"


def test_weighted_rrf_prefers_heavier_list():
    out = rrf([{"a": 1.0}, {"b": 1.0}], weights=[1.0, 2.0])
    assert list(out) == ["b", "a"]


def test_minmax_and_dbsf():
    a = {"x": 10.0, "y": 5.0, "z": 0.0}
    b = {"z": 0.9, "y": 0.1}
    mm = score_fusion([a, b], norm="minmax")
    assert mm["x"] == pytest.approx(1.0) and mm["y"] == pytest.approx(0.5) and mm["z"] == pytest.approx(1.0)
    d = score_fusion([a], norm="dbsf")
    assert 0.0 <= min(d.values()) and max(d.values()) <= 1.0 and list(d) == ["x", "y", "z"]
    with pytest.raises(ValueError):
        fuse([a], method="bogus")


def test_aggregate_max_by_document():
    scores = {1: 0.9, 2: 0.8, 3: 0.7}
    out = aggregate_by(scores, {1: "d1", 2: "d2", 3: "d1"}, "max")
    assert out == {"d1": 0.9, "d2": 0.8}
    plus = aggregate_by(scores, {1: "d1", 2: "d2", 3: "d1"}, "max+")
    assert plus["d1"] == pytest.approx(0.97)
