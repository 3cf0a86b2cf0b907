"""The domain answers gate of CI (bench/bench_domain_answers.py --check): which losses fail it."""
from __future__ import annotations

from bench.bench_domain_answers import regressions


def _summary(answered: float, cites: float, refused: int) -> dict:
    return {"answerable": 15, "answered": answered, "cites_gold": cites, "unanswerable": 5,
            "unanswerable_refused": refused}


def test_a_figure_may_lose_the_noise_allowed_and_no_more():
    before = {"school/en/test": _summary(1.0, 0.867, 3)}
    # one question fewer answered (15 -> 14), one unanswerable fewer refused: within --noise 1
    assert regressions(before, {"school/en/test": _summary(0.933, 0.867, 2)}, noise=1) == []
    # two fewer cite the gold file (13 -> 11), two fewer refused (3 -> 1): both named
    assert regressions(before, {"school/en/test": _summary(1.0, 0.733, 1)}, noise=1) == [
        "school/en/test cites_gold: 13 -> 11 questions", "school/en/test unanswerable_refused: 3 -> 1 questions"]
    assert regressions(before, {"school/en/test": _summary(0.933, 0.867, 3)}, noise=0) == [
        "school/en/test answered: 15 -> 14 questions"]


def test_a_set_missing_from_the_run_fails_the_gate():
    assert regressions({"hospital/zh/dev": _summary(1.0, 1.0, 1)}, {}, noise=1) == ["hospital/zh/dev: missing"]
