"""One question's result in `rag eval kb`: what the KB answered and the verdict on it.

Verdicts:
* correct: answered (not refused), citing the expected source file when one is given, with every key fact
  (eval.kb_facts) present. Without key facts, the amounts, numbers, times and phone numbers of the expected
  answer are its facts (what such a question most often turns on); without either, any answer counts.
* wrong: answered, but without citing the expected source, or missing a fact (`missing` says which).
* refused-answerable: refused, where the documents answer it.
* answered-unanswerable: answered, where the file says the documents do not answer it.
* refused-correctly: refused, and the documents do not answer it.
correct and refused-correctly are the right outcomes; the regression gate counts them.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

from eval.kb_facts import missing_facts, quantities_of
from eval.kb_questions import KBQuestion
from rag.metrics import token_f1

CORRECT, WRONG = "correct", "wrong"
REFUSED_ANSWERABLE, ANSWERED_UNANSWERABLE, REFUSED_CORRECTLY = (
    "refused-answerable", "answered-unanswerable", "refused-correctly")
VERDICTS = (CORRECT, REFUSED_CORRECTLY, WRONG, REFUSED_ANSWERABLE, ANSWERED_UNANSWERABLE)
RIGHT = (CORRECT, REFUSED_CORRECTLY)
# worst first: an answer where the documents say nothing misleads; a wrong one too; a refusal only fails to help
SEVERITY = {ANSWERED_UNANSWERABLE: 0, WRONG: 1, REFUSED_ANSWERABLE: 2, REFUSED_CORRECTLY: 3, CORRECT: 4}


@dataclass
class QuestionResult:
    row: int
    key: str
    question: str
    category: str
    answerable: bool
    expected: str
    facts: list[str]            # the facts checked (the file's, or the expected answer's numbers)
    source: str
    answer: str
    refused: bool
    cited_sources: list[str]    # file names, in citation order
    cites_source: bool | None   # None: no expected source given
    missing: list[str]          # facts the answer lacks
    f1: float | None            # token F1 to the expected answer (None: no expected answer, or refused)
    verdict: str
    reason: str = ""            # why the pipeline refused or replaced an answer, when it says
    seconds: float = 0.0

    @property
    def right(self) -> bool:
        return self.verdict in RIGHT

    def to_dict(self) -> dict:
        return asdict(self)


def file_name(source: str) -> str:
    """The file name of a citation's source or of the file's source column, compared without case and width."""
    name = re.split(r"[\\/]", source.strip())[-1]
    return unicodedata.normalize("NFKC", name).lower()


def cites(expected: str, cited_sources: list[str]) -> bool:
    """Does a citation name the expected file? By file name; an expected name without an extension matches
    any ("fees" = "fees.md")."""
    want = file_name(expected)
    for source in cited_sources:
        got = file_name(source)
        if got == want or ("." not in want and got.rsplit(".", 1)[0] == want):
            return True
    return False


def judge(q: KBQuestion, answer: str, refused: bool, cited_sources: list[str], reason: str = "",
          seconds: float = 0.0) -> QuestionResult:
    facts = list(q.facts) or (quantities_of(q.expected) if q.expected else [])
    cited = list(dict.fromkeys(file_name(s) for s in cited_sources))
    cites_source = cites(q.source, cited_sources) if q.source else None
    missing = [] if refused else missing_facts(facts, answer)
    f1 = token_f1(answer, q.expected) if q.expected and not refused else None
    if not q.answerable:
        verdict = REFUSED_CORRECTLY if refused else ANSWERED_UNANSWERABLE
    elif refused:
        verdict = REFUSED_ANSWERABLE
    else:
        verdict = CORRECT if cites_source is not False and not missing else WRONG
    return QuestionResult(q.row, q.key, q.question, q.category, q.answerable, q.expected, facts, q.source,
                          answer, refused, cited, cites_source, missing, f1, verdict, reason, seconds)
