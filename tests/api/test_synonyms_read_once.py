"""A question reads the KB's synonyms once (api.answering.admit, through the pipeline's refresh) and is
answered, keyed in the answer cache and checked before caching under those rules: the pipeline is shared, so
rules another request brings meanwhile must not make the answer (rag.pipeline.Pipeline.stream(synonyms=))."""
from __future__ import annotations

import asyncio

import pytest

from indexer.store.local.store import LocalStore
from rag.synonyms.kb import META_KEY

pytestmark = pytest.mark.slow

# words no document holds: refused without the rules, answered with them
WIRE, WIRE_RULES = "What is the zorblax?", "zorblax => SWIFT code"
CARD, CARD_RULES = "如何咕噜", "咕噜 => 挂失"


@pytest.fixture
def svc(sample_copy, manager, monkeypatch):
    from api.cache.factory import make_answer_cache
    from api.config import ServiceSettings
    from api.service import Service
    from rag.config import Settings

    svc = Service(Settings.load(indexer={"home": str(manager.home), "embed_model": "minilm"}),
                  ServiceSettings(admin_key="k", database_url=None))
    svc.cache = make_answer_cache()
    svc.pipeline("t")  # opened, as by a first question or the service's warm-up
    yield svc
    svc.close()


@pytest.fixture
def reads(monkeypatch):
    """How many times the KB's synonyms were read from its store (a count around the real LocalStore.get_meta)."""
    count = [0]
    real = LocalStore.get_meta

    def counted(self, key, default=None):
        count[0] += key == META_KEY
        return real(self, key, default)

    monkeypatch.setattr(LocalStore, "get_meta", counted)
    return count


def _set_rules(svc, text: str) -> None:
    from rag.synonyms.kb import save_synonyms
    from rag.synonyms.rules import parse

    save_synonyms(svc.manager, "t", parse(text))


def _ask(svc, question: str):
    from api.answering import admit

    return asyncio.run(admit(svc, "t", question))


def _answer(svc, ticket) -> dict:
    from api.answering import answer_once

    return asyncio.run(answer_once(svc, ticket))


@pytest.mark.parametrize("question, rules, words", [(WIRE, WIRE_RULES, "SWIFT"), (CARD, CARD_RULES, "挂失")])
def test_a_question_is_answered_under_the_rules_it_read_on_arrival_once(svc, reads, question, rules, words):
    _set_rules(svc, rules)
    reads[0] = 0
    ticket = _ask(svc, question)
    assert reads[0] == 1 and ticket.synonyms and ticket.variant.endswith(f":syn/{ticket.synonyms}")
    _set_rules(svc, "")  # another request then finds the rules gone: the shared pipeline has none now
    assert not svc.pipeline("t").synonyms
    reads[0] = 0
    out = _answer(svc, ticket)
    assert reads[0] == 0  # the answer did not read them again
    assert words in out["answer"] and not out["refused"], out["answer"]  # made under the rules it read
    # and not cached: the rules it was made under are no longer the KB's (nor served under them now)
    again = _answer(svc, _ask(svc, question))
    assert again["cached"] is False and again["refused"], again["answer"]


def test_without_rules_a_question_reads_them_once_and_is_cached_as_before(svc, reads):
    reads[0] = 0
    ticket = _ask(svc, WIRE)
    assert reads[0] == 1 and ticket.synonyms == "" and ":syn/" not in ticket.variant
    first = _answer(svc, ticket)
    assert reads[0] == 1 and first["cached"] is False and first["refused"], first["answer"]
    assert _answer(svc, _ask(svc, WIRE))["cached"] is True


def test_a_pipeline_just_opened_reads_the_rules_once(svc, reads):
    """The service refreshed every pipeline it handed out, one it had just built (and so just read) included:
    a KB's first question read its rules twice."""
    _set_rules(svc, WIRE_RULES)
    for key in [k for k in svc._pipes if k[0] == "t"]:
        svc._pipes.pop(key).close()  # as after the KB's settings changed: the next question builds it again
    reads[0] = 0
    _ask(svc, WIRE)
    assert reads[0] == 1 and svc.pipeline("t").synonyms
