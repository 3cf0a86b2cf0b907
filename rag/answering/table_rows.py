"""Table rows: a sentence about the thing the question names must not be backed by another row.

A fee table puts every account in one passage ("| Everyday Checking | $12 | ... |", "| Basic Savings |
$5 | Minimum daily balance of $300 ... |"), so an answer about Everyday Checking that takes Basic
Savings' $300, or Student Checking's "no fee with a valid student ID", finds its words and numbers in
the passage it cites, and word overlap and the facts check (rag.answering.verify) pass it.

`other_row(sentence, passage, n, question)` (the sentence without its citation markers) finds the one table row whose first cell the question
names (its subject; none when it names no row or several; `_subject`), then tells whether the sentence is backed
by another row instead: a number of the sentence that stands only in other rows (not in the subject's,
not in the text around the table), or more of the sentence's words in another row than in the
subject's row and in the text around the table. A sentence that names another row ("Student Checking
has no fee") is about that row and is not judged here. `subject_elsewhere` judges an amount for the
row the question names taken from another passage shown.

A row is named by its first cell, or by the second when the first only groups the rows (its values
repeat: a fee schedule's "ATM and cards"). Two or more "name: value" lines in a row ("Saturday: 9:00
a.m. to 1:00 p.m.", "ATM outside the United States: $5.00 per withdrawal") are rows too, named by what
stands before the colon.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from indexer.chunk import ABBREVIATION_END
from indexer.chunk import split_sentences as chunk_sentences
from indexer.parse.row_names import SERIAL_HEADER, is_row_number
from indexer.script import is_cjk
from indexer.tokenize import tokenize
from rag.answering.amounts import is_amount
from rag.answering.asks import asked_kind, number_kinds
from rag.answering.equivalents import as_words, canonical, kb_meanings, synonyms_key
from rag.answering.verify import HEADER_CURRENCY, charge_words, denies_charge, number_facts
from rag.text import ITEM_NUMBER, KEY_VALUE, is_heading, join_wrapped_lines

_RULE = re.compile(r"^[\s|:-]+$")


@dataclass(frozen=True)
class _Row:
    key: str
    key_tokens: frozenset[str]
    tokens: frozenset[str]
    numbers: frozenset[float]
    cells: tuple[str, ...]
    header: tuple[str, ...]   # the cells of its table's first row


def _numbers(text: str) -> frozenset[float]:
    return frozenset(v for f in number_facts(text) for v in f.numbers())


@dataclass(frozen=True)
class _Block:
    """One table as written: the last line of text before it, its header, its body rows' cells."""
    before: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class _Table:
    rows: tuple[_Row, ...]           # the body rows (a table's first row is its header)
    outside: frozenset[str]          # the tokens of the text around them
    outside_lines: tuple[str, ...]   # ... and its lines
    outside_numbers: frozenset[float]
    blocks: tuple[_Block, ...]       # each table, for quoting it whole (`introduced_tables`)


def _tabular(passage: str) -> bool:
    """Can `passage` hold rows (a table's pipes, or a list's "name: value" colons)? A cheap test first."""
    return "|" in passage or ":" in passage or "：" in passage


def _key_value_lists(lines: list[str]) -> dict[int, tuple[str, str]]:
    """{line number: (name, value)} for the lines of lists of two or more "name: value" lines in a row:
    rows of a table in all but form (each names one thing and says what it costs, when it opens ...)."""
    found = {i: (m.group(1).strip(), m.group(2).strip()) for i, line in enumerate(lines)
             if "|" not in line and (m := KEY_VALUE.match(line)) and m.group(2).strip()}
    return {i: kv for i, kv in found.items() if i - 1 in found or i + 1 in found}


def _key_column(body: list[tuple[str, ...]], header: tuple[str, ...]) -> int:
    """The column naming each row: the first, unless it numbers the rows (headed "序号", "No." ..., each cell a
    row number or blank: "1 | 挂号费 | ¥5" over " | 诊查费 | ¥11") or its values repeat (a group: "ATM and cards"
    over seven rows of a fee schedule) and the second's are all different words (the services), none of them an
    amount (rag.answering.amounts: "内科 | 10元 | 普通号" is named by its department, not by "10元"): then 1."""
    if body and header and SERIAL_HEADER.fullmatch(header[0]) and all(len(cells) >= 2 for cells in body) and \
            all(not cells[0] or is_row_number(cells[0]) for cells in body):
        return 1
    if len(body) < 3 or any(len(cells) < 3 for cells in body):
        return 0
    first, second = [c[0] for c in body], [c[1] for c in body]
    grouped = len(set(first)) < len(first)
    named = len(set(second)) == len(second) and all(re.search(r"[^\W\d_]", c) and not is_amount(c) for c in second)
    return 1 if grouped and named else 0


def _name_first(cells: tuple[str, ...], k: int) -> tuple[str, ...]:
    """`cells` with the one at `k` (the column naming the rows) first."""
    return (cells[k], *cells[:k], *cells[k + 1:]) if 0 < k < len(cells) else cells


def _row(cells: tuple[str, ...], header: tuple[str, ...]) -> _Row | None:
    """A row named by its first cell; None when that cell holds no word."""
    key_tokens = frozenset(tokenize(cells[0]))
    if not key_tokens:
        return None
    line = " | ".join(cells)
    return _Row(cells[0], key_tokens, frozenset(tokenize(line)), _numbers(line), cells, header)


@lru_cache(maxsize=512)  # every sentence of an answer is checked against every passage: parse each once
def _table(passage: str) -> _Table:
    rows: list[_Row] = []
    outside: list[str] = []
    blocks: list[_Block] = []
    header_next, header, before, body = True, (), "", []

    def close() -> None:
        if header:
            blocks.append(_Block(before, header, tuple(body)))
            k = _key_column(body, header)  # the row's name first, its group after it ("Stop payment - category: ...")
            rows.extend(row for cells in body if (row := _row(_name_first(cells, k), _name_first(header, k))))

    lines = passage.splitlines()
    listed = _key_value_lists(lines)
    for i, line in enumerate(lines):
        if i in listed:  # "ATM outside the United States: $5.00 per withdrawal ..." in a list of such lines
            if not header_next:
                close()
                header_next = True
            if row := _row(listed[i], ("", "")):
                rows.append(row)
            continue
        # "| a | b |" (Markdown) or "a | b" (a table as the parsers write it into a chunk)
        raw = line.strip()
        if "|" not in line or len(raw.strip("|").split("|")) < 2:
            if not header_next:
                close()
            outside.append(line)
            header_next = True
            before = line if line.strip() else before
            continue
        if _RULE.match(line):
            continue
        if header_next:  # the header names the columns, not a thing
            header_next, header, body = False, _cells(raw, 0), []
            outside.append(line)
            continue
        body.append(_cells(raw, len(header)))
    if not header_next:
        close()
    text = "\n".join(outside)
    return _Table(tuple(rows), frozenset(tokenize(text)), tuple(outside), _numbers(text), tuple(blocks))


def _cells(raw: str, width: int) -> tuple[str, ...]:
    """The cells of a table line: "| a | b |" (Markdown), or "a | b" as the parsers write a table into a chunk, where
    a blank first or last cell leaves the line opening or ending with its pipe (" | 诊查费 | ¥11", a header's empty
    corner " | 普通号 | 专家号", "Stop payment | $30.00 | "): every cell stays under its column. `width`: the header's
    cells (0: this is the header). A pipe opening the line is a blank cell unless the header's width says it is
    not; one closing it is not, unless the width says so (a header ending in a pipe is Markdown's with text run
    into it: "... any one of the conditions. | Account | Monthly fee |"); pipes at both ends are Markdown's unless
    the width says both are blank cells."""
    parts = [c.strip() for c in raw.split("|")]
    opens, ends = raw.startswith("|"), raw.endswith("|")
    if opens and ends:
        usual, other = parts[1:-1], parts
    elif opens:
        usual, other = parts, parts[1:]
    elif ends:
        usual, other = parts[:-1], parts
    else:
        usual = other = parts
    return tuple(other if width and len(usual) != width and len(other) == width else usual)


def _subject(passage: str, question: str, title: str | None = None) -> _Row | None:
    return _subject_cached(passage, question, title, synonyms_key())


@lru_cache(maxsize=512)
def _subject_cached(passage: str, question: str, title: str | None, synonyms: str) -> _Row | None:
    """The one row whose first cell the question names (None: no table, or no row or several named).
    Named: every word of the first cell is in the question; or, when no row is named so, the question
    has a word of one row's first cell that no other row's has, and two or more, at least half, of
    that cell's words outside its brackets (one shared word is not enough: "定期存款利率" does not name "贷款利率")
    ("international wires in online banking" names "Online and mobile, international wires", not
    "Online and mobile, domestic wires"). With the passage's `title` (its section path), a number the
    question states may name the row whose range holds it (`_range_subject`). The question's words include
    what its terms mean under the KB's synonyms in force (`synonyms`, their key: rag.answering.equivalents):
    "normal ward" names "General adult wards" under "normal ward, general adult ward"."""
    rows = _table(passage).rows
    if len(rows) < 2:
        return None
    asked = _asked_words(question)
    named = {r.key for r in rows if r.key_tokens <= asked}
    if not named:
        # a first cell qualified in brackets is named by what stands outside them: "What is the overdraft fee?"
        # names "Overdraft fee (per item we pay)", not "Continuous overdraft fee (account overdrawn 7 ...)"
        named = {r.key for r in rows if (bare := set(tokenize(_BRACKETED.sub(" ", r.key)))) and bare <= asked}
    if not named:
        for r in rows:
            others = frozenset().union(*(o.key_tokens for o in rows if o.key != r.key))
            # two or more, half, of the words outside the cell's brackets, which only qualify its name: "visiting
            # hours general ward" names "General adult wards (Wards 3A to 6C)" (general, ward of general, adult,
            # ward); "the fee if I bounce a check" does not name "Returned deposited item (a check you deposited
            # bounces)"
            name = frozenset(tokenize(_BRACKETED.sub(" ", r.key))) or r.key_tokens
            hit = len(_whole(name & asked))
            if (r.key_tokens - others) & asked and hit >= 2 and 2 * hit >= len(_whole(name)):
                named.add(r.key)
    if not named and title is not None and (ranged := _range_subject(rows, question, asked, title)) is not None:
        return ranged
    if len(named) != 1:
        return None
    group = [r for r in rows if r.key in named]
    return group[0] if len(group) == 1 else _group_member(group, asked)


def _group_member(group: Sequence[_Row], asked: set[str]) -> _Row | None:
    """Of the rows sharing the name the question names (a group: "消化内科" over its kinds of doctor, written once
    or merged down), the one whose other cells hold more of the question's words than any other's
    ("消化内科主任医师的诊查费" names "消化内科 | 主任医师 | ¥33", not the group's first row "普通门诊 | ¥11");
    None when none does (the group alone is named: `_tied_subjects` quotes its rows)."""
    said = [len(_whole((r.tokens - r.key_tokens) & asked)) for r in group]
    best = max(said)
    return group[said.index(best)] if best and said.count(best) == 1 else None


def _asked_words(question: str) -> set[str]:
    """The question's words, those of its phrases and short forms read as the words they stand for ("房贷" as
    "住房贷款": rag.answering.equivalents.as_words), and those of what its terms mean under the KB's synonyms
    in force (none: its own)."""
    return set(tokenize(question)) | set(tokenize(as_words(question))) | set(tokenize(" ".join(kb_meanings(question))))


_BRACKETED = re.compile(r"[(（][^()（）]*[)）]")

# a range of plain numbers in a row's first cell ("Grades 6-8", "Hot lunch, secondary (6-12)", "7 to 9 years"),
# not a clock time or a decimal ("9:00-17:00", "1.5-2")
_RANGE = re.compile(r"(?<![\d:.])(\d{1,3})\s*(?:[-–—~至到]|to)\s*(\d{1,3})(?![\d:.%])")


def _range_subject(rows: Sequence[_Row], question: str, asked: set[str], title: str) -> _Row | None:
    """The row a question names by a number inside the range of its first cell: "a kid going into Grade 7"
    names "Grades 6-8" under "Admissions > Entrance assessments", "a hot lunch for a Grade 8 student" names
    "Hot lunch, secondary (6-12)" and not "Hot lunch, primary (K-5)". Besides the number, the question must
    name two words of the row's first cell, the table's header and the passage's `title` together, and more
    than for any other row holding it: "How many hours of homework should a Grade 4 student expect?" names
    only "grade" of "Grades 1-5" in the entrance assessments' table."""
    numbers = {f.value for f in number_facts(question) if f.kind == "number"}
    if not numbers:
        return None
    holding = []
    for r in rows:
        spans = [(float(a), float(b)) for a, b in _RANGE.findall(r.key)]
        if any(lo <= n <= hi for lo, hi in spans for n in numbers):
            named = r.key_tokens | frozenset(tokenize(" ".join(r.header) + " " + title))
            holding.append((len({t for t in _whole(named & asked) if not t.isdigit()}), r))
    holding.sort(key=lambda t: -t[0])
    if not holding or holding[0][0] < 2 or (len(holding) > 1 and holding[1][0] == holding[0][0]):
        return None
    return holding[0][1]


MAX_TIED_ROWS = 3  # rows a question names equally that are quoted together: more is a table, not an answer


def tied_rows_quote(passage: str, question: str) -> tuple[int, str] | None:
    """(question words they hold with their header, the rows as sentences) of the rows the question names
    equally (`_tied_subjects`), each giving the kind of number asked for; None when there are none. The
    words are the table's own tokens: a header's "Fee" does not count as a question's "cost" here (it
    would make the rows tie with "Safe deposit boxes are available at ... branches" for "Which branches
    have safe deposit boxes and how much do they cost?", which the sentence answers whole)."""
    if not _tabular(passage) or not question or not (tied := _tied_subjects(passage, question)):
        return None
    kind = asked_kind(question)
    if kind and not all(kind in row_kinds(r.cells, r.header) for r in tied):
        return None
    texts = [t for t in (_row_text(r.cells, r.header) for r in tied) if t]
    if len(texts) < len(tied):
        return None
    words = frozenset().union(*(r.tokens for r in tied)) | set(tokenize(" ".join(tied[0].header)))
    return len(set(tokenize(question)) & words), ("" if is_cjk(texts[0]) else " ").join(texts)


# a long table's column a question names through the KB's synonyms, naming no row: its first rows are quoted, at
# most TABLE_QUOTE_ROWS of them and about this many characters (the rest are counted, not quoted)
COLUMN_QUOTE_CHARS = 400


def column_quote(passage: str, question: str) -> str | None:
    """The column of a table that the question names through the KB's synonyms in force only, as sentences:
    each row's name with its cell of that column ("挂号费多少" under "挂号费, 诊查费": "普通门诊——诊查费：10元。
    副主任医师——诊查费：20元。..."; "What are the visiting times?" under "visiting times => visiting hours": each
    area's "Visiting hours"). Named: every word of one header cell after the first is in what the question's
    terms mean, not all of them in the question itself (a question in the documents' words is answered as
    without the rules), and the column gives the kind of number asked for, if any. Where the question also
    names a row of the table (`_subject`: its words, or what they mean), that row's cell alone ("主任医师挂号费
    多少": "主任医师——诊查费：30元。"); else a table of more than TABLE_QUOTE_ROWS rows gives its first rows
    (`_first_rows`) and how many it has. None otherwise, and always without KB synonyms."""
    if "|" not in passage or not question or not (meant := kb_meanings(question)):
        return None
    own, means = set(tokenize(question)), set(tokenize(" ".join(meant)))
    kind = asked_kind(question)
    subject = _subject(passage, question)
    for block in _table(passage).blocks:
        if len(block.rows) < 2:
            continue
        k = _key_column(list(block.rows), block.header)
        header = _name_first(_aligned(block.header, len(block.rows[0])), k)
        named = [i for i, h in enumerate(header[1:], 1)
                 if (words := set(tokenize(h))) and words <= own | means and not words <= own]
        if len(named) != 1:
            continue
        i = named[0]
        rows = [_name_first(cells, k) for cells in block.rows if len(cells) == len(header)]
        if subject is not None:  # the row it names: its cell, if this table holds it and it gives what is asked
            if subject.cells not in rows or not subject.cells[i].strip() or (
                    kind and kind not in number_kinds(subject.cells[i])):
                continue
            return _row_text((subject.cells[0], subject.cells[i]), (header[0], header[i]))
        column = [(cells[0], cells[i]) for cells in rows if cells[i].strip()]
        if len(column) < 2 or (kind and kind not in number_kinds(" ".join(c for _, c in column))):
            continue
        texts = [t for pair in column if (t := _row_text(pair, (header[0], header[i])))]
        zh = is_cjk(texts[0])
        if len(block.rows) <= TABLE_QUOTE_ROWS:
            return ("" if zh else " ").join(texts)
        shown = _first_rows(texts)
        rest = _left_out([_name_first(cells, k)[0] for cells in block.rows], [n for n, _ in column[:len(shown)]])
        return ("" if zh else " ").join([*shown, _rest_of(len(block.rows), rest, zh)])
    return None


def _first_rows(texts: list[str]) -> list[str]:
    """The sentences of a long table's first rows that are quoted: at most TABLE_QUOTE_ROWS, and about
    COLUMN_QUOTE_CHARS characters, two at least."""
    shown = texts[:2]
    for t in texts[2:TABLE_QUOTE_ROWS]:
        if sum(map(len, shown)) + len(t) > COLUMN_QUOTE_CHARS:
            break
        shown.append(t)
    return shown


def _left_out(names: list[str], quoted: list[str]) -> list[str]:
    """The names of a table's rows (`names`, in order) but one row for each quoted name: a name that several rows
    share (a group: 内科 over four kinds of doctor) leaves its other rows counted."""
    left = Counter(quoted)
    rest = []
    for name in names:
        if left[name]:
            left[name] -= 1
        else:
            rest.append(name)
    return rest


def _rest_of(rows: int, rest: list[str], zh: bool) -> str:
    """What a quote of a long table's first rows leaves out: how many rows the table has, and which are in the
    document only, by the names of the first and last ("The table has 20 rows; the other 14 (Renowned expert
    to Nurse clinic) are in the document."; the names are the passage's words, so the citation backs it). Rows
    with no name (a merged cell) are counted, not named."""
    count, named = len(rest), [n if len(n) <= 40 else n[:39] + "…" for r in rest if (n := r.strip())]
    span = "" if not named else named[0] if len(set(named)) == 1 else (f"{named[0]}至{named[-1]}" if zh
                                                                  else f"{named[0]} to {named[-1]}")
    if zh:
        return f"该表共{rows}行，其余{count}行{f'（{span}）' if span else ''}见原文。"
    other = "the other one" if count == 1 else f"the other {count}"
    return f"The table has {rows} rows; {other}{f' ({span})' if span else ''} {'is' if count == 1 else 'are'} " \
           "in the document."


def _tied_subjects(passage: str, question: str) -> list[_Row]:
    """The 2-3 rows of a table with a header that the question names equally and best, when it names no
    single one (`_subject`): each shares the most of the question's words, two or more and at least half
    of its first cell's. "What is the fee for an outgoing international wire sent online?" names both
    "Outgoing international wire (sent in US dollars)" and "(sent in foreign currency)": both are the
    answer, where nothing had been quoted from the fee table and a lower passage's limits row was."""
    rows = _table(passage).rows
    if len(rows) < 3 or not any(rows[0].header):
        return []
    asked = _asked_words(question)  # (not cached: the KB's synonyms in force count)
    group = [r for r in rows if r.key_tokens <= asked]
    if 2 <= len(group) <= MAX_TIED_ROWS and len({r.key for r in group}) == 1:
        return group  # a group the question names whole, none of its rows more ("What is the Cardiology fee?")
    hits = [(len(_whole(r.key_tokens & asked)), r) for r in rows]
    best = max(h for h, _ in hits)
    tied = [r for h, r in hits if h == best and best >= 2 and 2 * h >= len(_whole(r.key_tokens))]
    return tied if 2 <= len(tied) <= MAX_TIED_ROWS else []


def _whole(tokens: frozenset[str]) -> frozenset[str]:
    """The tokens that are no piece of another: jieba gives 手续费 with its pieces 手续 and 续费, which would
    count one shared word three times ("外币现钞取款要手续费吗？" named the row "境外汇款手续费")."""
    return frozenset(t for t in tokens if not any(t != u and t in u for u in tokens))


@lru_cache(maxsize=256)
def _sentence(sentence: str) -> tuple[frozenset[str], frozenset[float]]:
    """(tokens, numbers) of an answer sentence, checked against each passage in turn."""
    return frozenset(tokenize(sentence)), _numbers(sentence)


def subject_elsewhere(sentence: str, cited: int | None, passages: Sequence[str], question: str) -> str | None:
    """A reason when the question names a table row of another passage shown than the one cited
    (passages[cited]; None: of any of `passages`, cited together), that row gives amounts of money, and
    `sentence` states an amount it does not give: "What is the fee for a stop payment?" answered "$29"
    citing the overdraft fees, where the fee table's "Stop payment request" row says $30. None when the
    sentence names a row of the cited passage (it is about that one) or no such row is named."""
    if not question:
        return None
    amounts = [f for f in number_facts(sentence) if f.kind == "money"]
    if not amounts:
        return None
    words = set(_sentence(sentence)[0])
    if cited is not None and _tabular(passages[cited]) and any(r.key_tokens <= words for r in _table(passages[cited]).rows):
        return None
    for j, text in enumerate(passages):
        if j == cited or not _tabular(text) or (subject := _subject(text, question)) is None:
            continue
        given = [f for cell in subject.cells[1:] for f in number_facts(cell) if f.kind == "money"]
        if given and not any(v in subject.numbers for f in amounts for v in f.numbers()):
            return (f"the question asks about {subject.key}, for which passage [{j + 1}] gives "
                    f"{given[0].text.strip()}, not {amounts[0].text.strip()}")
        return None
    return None


def other_row(sentence: str, passage: str, n: int, question: str) -> str | None:
    """A reason when `sentence` is backed by a table row of `passage` other than the row the
    question names; None otherwise (no table, no single subject row, or the sentence fits it)."""
    if not _tabular(passage) or not question:
        return None
    subject = _subject(passage, question)
    if subject is None:
        return None
    table = _table(passage)
    tokens, numbers = _sentence(sentence)
    words = set(tokens)
    others = [r for r in table.rows if r.key != subject.key]
    if any(r.key_tokens <= words and not r.key_tokens <= subject.key_tokens for r in others):
        return None  # the sentence names another row: it is about that one
    # an amount of money is the row's when the row gives it as money: "The monthly fee for Everyday Checking is
    # $25" is Premier Checking's fee, though Everyday Checking's row says "under 25" (an age)
    stated, own = _money_values(sentence), {v for cell in subject.cells[1:] for v in _money_values(cell)}
    around_money = {v for line in table.outside_lines for v in _money_values(line)}
    for value in sorted(stated - own - around_money) if own else ():
        row = next((r for r in others if value in {v for cell in r.cells[1:] for v in _money_values(cell)}), None)
        if row is not None:
            return (f"its amount {value:g} is in the row for {row.key} of passage [{n}], "
                    f"not in the row for {subject.key} that the question asks about")
    around = table.outside_numbers | subject.numbers
    for value in sorted(numbers - around):
        row = next((r for r in others if value in r.numbers), None)
        if row is not None:
            return (f"its number {value:g} is in the row for {row.key} of passage [{n}], "
                    f"not in the row for {subject.key} that the question asks about")
    words -= subject.key_tokens
    best = max(others, key=lambda r: len(words & r.tokens))
    shared = len(words & best.tokens)
    if shared >= 3 and shared > len(words & subject.tokens) and shared > len(words & table.outside):
        return (f"its words are those of the row for {best.key} of passage [{n}], "
                f"not of the row for {subject.key} that the question asks about")
    return None


def _money_values(text: str) -> set[float]:
    """The values of the amounts of money `text` states."""
    return {v for f in number_facts(text) if f.kind == "money" for v in f.numbers()}


def free_row(sentence: str, passage: str, n: int) -> str | None:
    """A reason when `sentence` says a thing costs nothing and names a table row of `passage` whose cells
    give it an amount ("No, we do not charge a fee for paper statements", against "Paper statement | $2
    per statement (e-statements are free)"); None otherwise. A sentence stating a number of its own
    ("no fee for holders under 25") qualifies its claim and is not judged here."""
    if not _tabular(passage) or not denies_charge(sentence):
        return None
    if any(not (f.kind == "money" and f.value == 0) for f in number_facts(sentence)):
        return None
    words = set(tokenize(sentence))
    compact = "".join(sentence.split())
    for r in _table(passage).rows:
        # a Chinese name is found in the text too: jieba may join it to the next word ("普卡免年费": 普卡免)
        if not (r.key_tokens <= words or (is_cjk(r.key) and "".join(r.key.split()) in compact)):
            continue
        own = words - r.key_tokens - charge_words()
        if any(denies_charge(cell) and own & set(tokenize(cell)) for cell in r.cells[1:]):
            return None  # it repeats the row's own waiver ("开卡首年免收": free the first year)
        amount = next((f for cell in r.cells[1:] for f in number_facts(cell) if f.kind == "money" and f.value > 0),
                      None)
        if amount is not None:
            return f"says {r.key} costs nothing where passage [{n}] gives {amount.text} for it"
    return None


_BELOW = re.compile(r"以下|以内|及以下|不超过|(?:or )?(?:less|under|below|up to)\b", re.IGNORECASE)
_ABOVE = re.compile(r"以上|超过|(?:or )?(?:more|over|above)\b", re.IGNORECASE)


def _span(key: str) -> tuple[float, float] | None:
    """The amounts a tier's first cell covers ("1万元至10万元（含）": 10,000-100,000; "1万元（含）以下": up to
    10,000; "100万元以上": 1,000,000 and more), or None when it is no tier of amounts."""
    amounts = [f.value for f in number_facts(key) if f.kind == "money"]
    if len(amounts) == 2:
        return (min(amounts), max(amounts))
    if len(amounts) == 1:
        if _BELOW.search(key):
            return (0.0, amounts[0])
        if _ABOVE.search(key):
            return (amounts[0], float("inf"))
    return None


def _tier_row(passage: str, question: str) -> _Row | None:
    """For a question stating one amount ("到柜台往外行汇8万块钱，手续费是多少？") over a table of tiers of amounts:
    the one tier row holding it ("1万元至10万元（含） | 10元"), when every row of the table is such a tier."""
    asked = [f.value for f in number_facts(question) if f.kind == "money"]
    rows = _table(passage).rows
    spans = [_span(r.key) for r in rows]
    if len(asked) != 1 or len(rows) < 2 or None in spans:
        return None
    holding = [(r, hi) for r, (lo, hi) in zip(rows, spans) if lo <= asked[0] <= hi]
    if len(holding) == 2 and holding[0][1] == asked[0]:  # on a boundary: the tier it closes ("至50万元（含）")
        return holding[0][0]
    return holding[0][0] if len(holding) == 1 else None


def _asked_rows(passage: str, question: str) -> tuple[_Row, ...]:
    return _asked_rows_cached(passage, question, synonyms_key())


@lru_cache(maxsize=512)
def _asked_rows_cached(passage: str, question: str, synonyms: str) -> tuple[_Row, ...]:
    """For a question that names no row but asks for a duration, an amount or a time of day
    (rag.answering.asks): the one row stating that kind of number that shares the most words with the
    question, two or more and more than any other such row ("投诉之后多久会有答复？": "一般投诉处理完毕并
    答复 | 受理之日起15日内", two words, where the other time-limit rows share one); or the 2-3 rows sharing
    the most, equally, when they are kinds of one thing, named alike outside their brackets ("how long does
    the bank take to respond to a complaint": "Final response (most complaints)" and "(complex complaints)",
    both, where the question says which of them it is about no more than the table does). Words are matched
    as quotes match them: each of a group of equivalents as its group (rag.answering.equivalents: a question's
    "respond" is a row's "response"). The question's words include what its terms mean under the KB's
    synonyms in force (`synonyms`, their key). Empty: none."""
    kind = asked_kind(question)
    if kind is None:
        return ()
    if kind == "money" and (tier := _tier_row(passage, question)) is not None:
        return (tier,)
    asked = canonical(_asked_words(question))
    rows = _table(passage).rows
    shared = sorted(((len(canonical(r.tokens) & asked), i) for i, r in enumerate(rows)
                     if kind in row_kinds(r.cells, r.header)), reverse=True)
    if not shared or shared[0][0] < 2:
        return ()
    top = sorted(i for n, i in shared if n == shared[0][0])
    if len(top) == 1:
        return (rows[top[0]],)
    names = {frozenset(tokenize(_BRACKETED.sub(" ", rows[i].key))) for i in top}
    if len(top) <= MAX_TIED_ROWS and len(names) == 1 and all(names) and all(any(rows[i].header) for i in top):
        return tuple(rows[i] for i in top)
    return ()


def row_quote(passage: str, question: str, covering: bool = False, named: bool = False,
              title: str | None = None) -> str | None:
    """The row of `passage` the question names (or, naming none, the row holding the kind of number it
    asks for: `_asked_rows`), each cell with its column's header, as one sentence ("Online and mobile,
    international wires - Everyday Checking: $10,000 per day; Premier Checking: $50,000 per day.";
    "港湾普卡——年费标准：10元/年；减免条件：开卡首年免收。"); None when the question names no single row. A row
    alone means little without its header, which is why an extract never quotes one. `title`: the
    passage's section path, with which a number may name a row by its range (`_subject`)."""
    if not _tabular(passage) or not question:
        return None
    row = _subject(passage, question, title)
    kind = asked_kind(question)
    if row is not None and kind and kind not in row_kinds(row.cells, row.header):
        row = None  # it names the row but asks what the row does not give ("the latest time" for a wire's limits)
    if named:  # `named`: only a row the question names, or the tier holding an amount it states
        row = row or (_tier_row(passage, question) if kind == "money" else None)
    elif row is None and len(asked := _asked_rows(passage, question)) == 1:
        row = asked[0]
    if row is None:
        return None
    if covering and not _covers(row, question):
        return None  # `covering`: only a row holding every word of the question
    if not any(row.header):
        # a line of a "name: value" list is quoted before the passage's sentences only when it shares more
        # of the question's words than any of them: "Is the Quayside branch open on Saturday?" names the
        # standard hours' "Saturday: 9:00 a.m. to 1:00 p.m.", but the Quayside branch's own line answers
        asked = set(tokenize(question))
        prose = (set(tokenize(s)) for line in _table(passage).outside_lines for s in chunk_sentences(line))
        if len(asked & row.tokens) <= max((len(asked & t) for t in prose), default=0):
            return None
    return _row_text(row.cells, row.header)


def alike_rows_quote(passage: str, question: str) -> str | None:
    """The 2-3 rows named alike that a question naming no row asks equally for the kind of number they give
    (`_asked_rows`), as sentences; quoted in rank order, as a row found by that kind alone is. None when there
    are none, or when the question names those rows by their own words (`_tied_subjects`): `tied_rows_quote`
    has judged them against the sentences of every passage ("Safe deposit boxes are available at ... branches"
    answers "Which branches have safe deposit boxes and how much do they cost?", not the boxes' three rows)."""
    if not _tabular(passage) or not question or _subject(passage, question) is not None \
            or _tied_subjects(passage, question):
        return None
    rows = _asked_rows(passage, question)
    texts = [t for t in (_row_text(r.cells, r.header) for r in rows) if t]
    if len(rows) < 2 or len(texts) < len(rows):
        return None
    return ("" if is_cjk(texts[0]) else " ").join(texts)


def _covers(row: _Row, question: str) -> bool:
    """Does the row, with its header, hold every word of the question: as written, or with both written in the
    terms of the built-in rules and the KB's synonyms in force (`as_words`, as quotes are matched)? "visiting
    hours normal ward" under the rule "normal ward, general adult ward" is held by the "General adult wards"
    row."""
    held = row.tokens | set(tokenize(" ".join(row.header)))
    if set(tokenize(question)) <= held:
        return True
    return set(tokenize(as_words(question))) <= held | set(tokenize(as_words(" ".join(row.cells + row.header))))


def row_sentences(passage: str) -> list[str]:
    """Every body row of the passage's tables as a sentence, each cell with its column's header."""
    if not _tabular(passage):
        return []
    table = _table(passage)
    out = [t for r in table.rows if (t := _row_text(r.cells, r.header))]
    # a row whose name is blank (right under the header, or under an unheaded row number: indexer.parse.row_names
    # leaves those blank) names nothing, and says what its other cells say under their headers ("单位：次；价格：¥11。")
    for block in table.blocks:
        k = _key_column(list(block.rows), block.header)
        header = _name_first(block.header, k)
        for cells in block.rows:
            if not (named_first := _name_first(cells, k))[0] and (t := _row_text(named_first, header)):
                out.append(t)
    return out


def named_row_words(passage: str, question: str) -> frozenset[str]:
    """The words the row the question names (`_subject`) gives beyond its name: its other cells and their
    column headers ("How to avoid the fee (any one)"); empty when it names none."""
    row = _subject(passage, question) if _tabular(passage) and question else None
    if row is None:
        return frozenset()
    return frozenset(tokenize(" ".join(row.cells[1:] + row.header[1:]))) - row.key_tokens


def row_kinds(cells: tuple[str, ...], header: tuple[str, ...]) -> frozenset[str]:
    """The kinds of number a row's cells after the first state (rag.answering.asks.number_kinds), a cell under
    a header naming a currency read with it: "Hot lunch, secondary (6-12) | 9.75" under "Item | Price (CAD)"
    gives a price, as "(CAD): 9.75" (verify's HEADER_CURRENCY)."""
    heads = _aligned(header, len(cells))
    return number_kinds(" ".join(f"{m.group(0)}: {c}" if (m := HEADER_CURRENCY.search(h)) else c
                                 for h, c in zip(heads[1:], cells[1:])))


def _aligned(header: tuple[str, ...], n: int) -> tuple[str, ...]:
    """A table's header for a row of `n` cells: a header longer than the row is aligned from the right (text
    may run into it before its first cell: "... listed for your account. | Account | Monthly fee |"); a
    shorter one names the first columns."""
    return header[-n:] if len(header) > n else header + ("",) * (n - len(header))


def _row_text(cells: tuple[str, ...], header: tuple[str, ...]) -> str | None:
    """A row as a sentence, each cell after the first with its column's header."""
    if len(cells) < 2:
        return None
    n, key = len(cells), cells[0]
    if n == 2 and not any(header):  # a line of a "name: value" list, as written
        return f"{key}{'：' if is_cjk(key) else ': '}{cells[1]}"
    header = _aligned(header, n)
    zh = is_cjk(key + "".join(header))
    pairs = [(h, c) for h, c in zip(header[1:], cells[1:]) if c]
    if not pairs:
        return None
    if zh:
        return (key + "——" if key else "") + "；".join(f"{h}：{c}" if h else c for h, c in pairs) + "。"
    body = "; ".join(f"{h}: {c}" if h else c for h, c in pairs)
    return (f"{key} - " if key else "") + body + ("" if body.endswith((".", "!", "?")) else ".")


TABLE_QUOTE_ROWS = 6  # a table introduced by a sentence is quoted whole up to this many rows: a short answer


@dataclass(frozen=True)
class Introduced:
    """A short table or "key: value" list, quoted whole with the line introducing it."""
    intro: str          # the sentence ending in a colon, or the heading line, that introduces it
    about: str          # what a question is matched against: the intro with the header or the heading above
    quote: str          # the intro with every row or item
    items: int = 0      # the list's lines (0: a table)
    headed: bool = False  # a list under a heading line, which names what its items are


@lru_cache(maxsize=512)
def introduced_tables(passage: str) -> tuple[Introduced, ...]:
    """Each table of `passage` that a sentence ending in a colon
    introduces ("电子渠道转账限额取决于您使用的安全认证工具："), with at most TABLE_QUOTE_ROWS rows: the quote is
    the intro and every row with its headers ("...工具：短信验证码——单笔限额：5万元；单日累计限额：20万元。U盾（
    USB Key）——..."); what it is about is the intro and the header (an extract matches a question
    against that, not against every cell). The intro alone says nothing; the rows alone mean little."""
    if "|" not in passage:
        return ()
    out = []
    for block in _table(passage).blocks:
        intro = (chunk_sentences(block.before.strip()) or [""])[-1].strip()  # the line's last sentence
        if not intro.endswith((":", "：")) or not 1 <= len(block.rows) <= TABLE_QUOTE_ROWS:
            continue
        texts = [t for t in (_row_text(cells, block.header) for cells in block.rows) if t]
        if texts:
            sep = "" if is_cjk(intro) else " "
            out.append(Introduced(intro, intro + " " + " ".join(block.header), intro + sep + sep.join(texts)))
    return tuple(out)


_BULLET_MARK = re.compile(r"^[-*•·]\s+")


@lru_cache(maxsize=512)
def introduced_lists(passage: str) -> tuple[Introduced, ...]:
    """Each "key: value" list of 2 to TABLE_QUOTE_ROWS lines that a
    sentence ending in a colon introduces ("除下表另有说明外，各网点的营业时间为：" before "周一至周五：9:00—17:00",
    "周六、周日：10:00—16:00 ...") or that follows a heading line ("3. Replacement cards" before "Standard
    delivery: free. Your new card arrives ...", "Expedited delivery: $25 ..."): quoted whole, as a table is
    (`introduced_tables`), and matched by its intro with the heading above it, not by its keys (they
    name days or items, which a question may name to ask about one of them elsewhere)."""
    lines = join_wrapped_lines(passage)
    out = []
    for i, line in enumerate(lines):
        intro = (chunk_sentences(line) or [""])[-1].strip()
        heading = lines[i - 1] if i and is_heading(lines[i - 1]) else ""
        if intro.endswith((":", "：")):
            about = f"{heading} {intro}".strip()
        elif is_heading(line):
            intro = about = line.strip()
        else:
            continue
        items = []
        for item in lines[i + 1:i + 2 + TABLE_QUOTE_ROWS]:
            if not KEY_VALUE.match(item):
                break
            items.append(_BULLET_MARK.sub("", item.strip()))  # "- Saturday: 9:00 a.m. to 1:00 p.m." is an item
        if 2 <= len(items) <= TABLE_QUOTE_ROWS:
            zh = is_cjk(intro)
            if any(len(chunk_sentences(x)) > 1 for x in items):  # items of several sentences keep their own ends
                body = ("" if zh else " ").join(items)
            else:
                # an item's own end goes, but not the period of "5:00 p.m."
                ends = [x if ABBREVIATION_END.search(x) else x.rstrip("。.;；") for x in items]
                body = ("；" if zh else "; ").join(ends) + ("" if ABBREVIATION_END.search(ends[-1]) else "。" if zh else ".")
            lead = intro if intro.endswith((":", "：")) else ITEM_NUMBER.sub("", intro) + ("：" if zh else ":")
            out.append(Introduced(intro, about, lead + ("" if zh else " ") + body, len(items), not intro.endswith((":", "："))))
    return tuple(out)
