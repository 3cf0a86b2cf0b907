"""A place's hours ("uniform shop hours") ask for a time of day, and a sentence opening by referring back ("It is
open on Tuesdays ... from 7:45 a.m.") is matched with the words of its line's first sentence ("The Uniform Shop is
in Room C002."), which names what it speaks of: the school KB answered "uniform shop hours" with the room alone."""
from __future__ import annotations

import pytest

from rag.answering.asks import asked_kind
from rag.answering.extract import extractive_answer


@pytest.mark.parametrize("question", ["uniform shop hours", "pharmacy hours on sunday?", "What are the library hours?"])
def test_a_places_hours_ask_for_a_time_of_day(question):
    assert asked_kind(question) == "time"


@pytest.mark.parametrize("question, kind", [("Is it open 24 hours?", None), ("within 48 hours", None),
                                            ("how many hours of homework", "duration"),
                                            ("How long are visiting hours?", "duration")])
def test_a_number_of_hours_is_no_time_of_day(question, kind):
    assert asked_kind(question) == kind


EN = ("The Uniform Shop is in Room C002 (Sports Centre, lower level). It is open on Tuesdays and Thursdays from "
      "7:45 a.m. to 9:30 a.m. and from 2:30 p.m. to 4:00 p.m. during term. Online orders are ready for collection "
      "within 3 working days.")
ZH = "校服服务点设在学生服务中心（食堂一楼东侧）。它每周二、周四12:10—13:00开放。网上订购的校服3个工作日内可取。"


@pytest.mark.parametrize("text, question, wanted", [
    (EN, "uniform shop hours", "It is open on Tuesdays and Thursdays from 7:45 a.m."),
    (ZH, "校服服务点几点开门", "它每周二、周四12:10—13:00开放")])
def test_a_sentence_referring_back_is_matched_with_what_its_line_names(text, question, wanted):
    answer = extractive_answer(question, text, 1)
    assert answer.startswith(text[:12]) and wanted in answer
