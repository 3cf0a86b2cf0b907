"""`rag eval kb`: a customer's own questions (CSV in GBK with Chinese headers, XLSX, JSONL) against their own KB,
answered by the real pipeline over the sample documents; verdicts that a wrong fact or an off-topic question
decide; the baseline gate failing after a document is deleted."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from eval.kb_facts import missing_facts, quantities_of
from eval.kb_metrics import KBRun, RunInfo, load_run
from eval.kb_questions import KBQuestion, QuestionsError, load_questions
from eval.kb_verdict import ANSWERED_UNANSWERABLE, CORRECT, REFUSED_ANSWERABLE, REFUSED_CORRECTLY, WRONG, cites, judge

# (question, expected, facts, source, answerable, category) over the conftest sample KB 't' (files renamed *_en/_zh)
QUESTIONS = [
    ("What number do I call to report a lost card?", "", "1-800-555-0199", "lost_or_stolen_cards_en.txt", "yes",
     "cards"),
    ("What is the monthly fee for Premier Checking?", "The Premier Checking fee is $25 a month.", "25 dollars",
     "account_fees_en.md", "yes", "fees"),
    ("How much is the monthly fee of Premier Checking?", "", "$12", "account_fees_en.md", "yes", "fees"),
    ("临时挂失的有效期是多久？", "临时挂失有效期为5天", "5天；自动解除", "card_loss_reporting_zh.txt", "是", "挂失"),
    ("临时挂失多少天后自动解除？", "", "７天", "card_loss_reporting_zh.txt", "是", "挂失"),
    ("正式挂失的手续费是多少？", "", "１０元", "card_loss_reporting_zh.txt", "1", "挂失"),
    ("What is the capital of France?", "", "", "", "no", "off-topic"),
    ("今天天气怎么样？", "", "", "", "否", "off-topic"),
]
EN_HEADER = ["question", "expected", "facts", "source", "answerable", "category"]
ZH_HEADER = ["问题", "期望答案", "关键要点", "来源文件", "可回答", "类别"]


def _csv(path: Path, header: list[str], rows, encoding: str) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _xlsx(path: Path, header: list[str], rows) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for r in rows:
        sheet.append(list(r))
    book.create_sheet("notes").append(["not read: only the first sheet is"])
    book.save(path)
    return path


def _jsonl(path: Path, rows) -> Path:
    lines = [json.dumps(dict(zip(EN_HEADER, r)), ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- facts
@pytest.mark.parametrize("fact,answer,present", [
    ("$25", "Premier Checking - Monthly fee: $25 [1].", True),
    ("25 dollars", "Monthly fee: $25", True),
    ("USD 25", "Monthly fee: $25", True),
    ("$1500", "a minimum daily balance of $1,500", True),
    ("$26", "Monthly fee: $25", False),
    ("25元", "Monthly fee: $25", False),  # a different currency
    ("annual fee", "Monthly fee: $25", False),
    ("1-800-555-0199", "Call 1-800-555-0199 [1].", True),
    ("800-555-0199", "Call 1-800-555-0199.", True),
    ("1-800-555-0100", "Call 1-800-555-0199.", False),
    ("5 percent", "a rate of 5%", True),
    ("9:00", "open from 9:00 to 17:00", True),
    ("手续费10元", "正式挂失手续费为每次10元[1]。", True),
    ("１０元", "手续费为每次10元。", True),          # full-width digits
    ("￥10", "手续费为每次10元。", True),
    ("10美元", "手续费为每次10元。", False),
    ("5万元", "每日转账限额为50,000元。", True),
    ("4001069588", "拨打400-106-9588", True),
    ("7天", "临时挂失有效期为5天，到期后自动解除。", False),
    ("客服热线", "请拨打客服电话", False),
    ("临时挂失有效期", "临时挂失的有效期为5天", True),  # a long phrase, worded a little differently
])
def test_a_fact_is_found_as_numbers_and_words(fact, answer, present):
    assert (missing_facts([fact], answer) == []) is present


def test_an_expected_answer_without_facts_is_checked_on_its_numbers():
    assert quantities_of("Call 1-800-555-0199 any time; the fee is $25, open 9:00") == ["1-800-555-0199", "9:00",
                                                                                      "$25"]
    q = KBQuestion(2, "q", "fee?", expected="The fee is $25.")
    assert judge(q, "The fee is $25 [1].", False, ["/x/fees.md"]).verdict == CORRECT
    assert judge(q, "The fee is $12 [1].", False, ["/x/fees.md"]).verdict == WRONG


def test_verdicts_and_source_names():
    q = KBQuestion(2, "q", "fee?", facts=("$25",), source="Fees.MD")
    assert cites("Fees.MD", ["/kb/docs/fees.md"]) and cites("fees", ["C:\\docs\\fees.md"])
    assert not cites("fees.md", ["/kb/docs/old_fees.md"])
    assert judge(q, "$25 [1]", False, ["/d/fees.md"]).verdict == CORRECT
    assert judge(q, "$25 [1]", False, ["/d/wire.html"]).verdict == WRONG
    assert judge(q, "not in the knowledge base", True, []).verdict == REFUSED_ANSWERABLE
    off = KBQuestion(3, "o", "capital of France?", answerable=False)
    assert judge(off, "Paris [1]", False, ["/d/x.md"]).verdict == ANSWERED_UNANSWERABLE
    assert judge(off, "not in the knowledge base", True, []).verdict == REFUSED_CORRECTLY


def _info(**changes) -> RunInfo:
    return RunInfo(**{"kb": "bank", "questions_file": "/q/问题.xlsx", "questions_sha256": "ab" * 32,
                      "finished_at": "2026-12-07T10:00:00+00:00", "documents": 3, "embed_model": "minilm",
                      "answer_mode": "extract", "generator": "none", "refusal_thresholds": "en 0.412, zh 0.455",
                      **changes})


def test_the_baseline_compares_questions_by_key_and_gates_on_right_outcomes():
    from eval.kb_baseline import compare

    def run(*verdicts):
        return KBRun(_info(), [judge(KBQuestion(i, f"k{i}", f"q{i}", answerable=v != "off"),
                                     "a [1]" if v != "refused" else "no", v == "refused", ["/d/x.md"])
                               for i, v in enumerate(verdicts)])

    before = run("ok", "ok", "refused", "off")           # correct, correct, refused-answerable, answered-unanswerable
    assert compare(before, before).drop == 0 and compare(before, before).changes == []
    after = run("refused", "ok", "ok", "off", "ok")     # one lost, one gained, one new question (not compared)
    cmp = compare(before, after)
    assert (cmp.right_before, cmp.right_after, cmp.drop, cmp.added) == (2, 2, 0, ["q4"])
    assert cmp.baseline == before.info
    assert [(c.key, c.before, c.after, c.direction) for c in cmp.changes] == [
        ("k0", CORRECT, REFUSED_ANSWERABLE, "worse"), ("k2", REFUSED_ANSWERABLE, CORRECT, "better")]
    assert cmp.lines()[1:3] == ["    worse: correct -> refused-answerable: q0 (id k0)",
                                "   better: refused-answerable -> correct: q2 (id k2)"]
    worse = compare(before, run("refused", "refused", "refused", "off"))
    assert worse.drop == 2 and worse.failed(1) and not worse.failed(2)


def test_a_run_writes_metrics_json_in_its_format_and_reads_it_back(tmp_path):
    results = [judge(KBQuestion(2, "正式挂失的手续费是多少？", "正式挂失的手续费是多少？", facts=("10元",), category="挂失"),
                     "正式挂失需缴纳手续费１０元 [1]", False, ["/d/card_loss_reporting.txt"]),
               judge(KBQuestion(3, "f1", "What is the monthly fee?", facts=("$25",), category="fees"),
                     "not in the knowledge base", True, [])]
    run = KBRun(_info(config="/etc/rag.toml", baseline="/r/before"), results)
    run.write(tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert list(metrics) == ["schema", "kb", "questions_file", "questions_sha256", "finished_at", "documents",
                             "embed_model", "answer_mode", "generator", "refusal_thresholds", "config", "baseline",
                             "version", "git_commit", "summary", "categories", "questions"]
    assert metrics["schema"] == 1 and metrics["kb"] == "bank" and metrics["version"] is None
    assert metrics["summary"] == {"questions": 2, "right": 1, "verdicts": {CORRECT: 1, REFUSED_CORRECTLY: 0, WRONG: 0,
                                  REFUSED_ANSWERABLE: 1, ANSWERED_UNANSWERABLE: 0}, "f1_mean": None,
                                  "share_right": 0.5}
    assert list(metrics["categories"]) == ["fees", "挂失"]  # worst first
    assert metrics["questions"][0]["question"] == "正式挂失的手续费是多少？"
    assert load_run(tmp_path) == run
    rows = list(csv.DictReader((tmp_path / "per_question.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["question"], r["verdict"]) for r in rows] == [("What is the monthly fee?", REFUSED_ANSWERABLE),
                                                             ("正式挂失的手续费是多少？", CORRECT)]
    del metrics["kb"]
    (tmp_path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    with pytest.raises(ValueError, match="cannot be read as the metrics of a `rag eval kb` run .*'kb'"):
        load_run(tmp_path)


# ---------------------------------------------------------------------------- the questions file
def test_the_three_formats_give_the_same_questions(tmp_path):
    gbk = load_questions(_csv(tmp_path / "问题.csv", ZH_HEADER, QUESTIONS, "gbk"))
    bom = load_questions(_csv(tmp_path / "bom.csv", EN_HEADER, QUESTIONS, "utf-8-sig"))
    xlsx = load_questions(_xlsx(tmp_path / "q.xlsx", ZH_HEADER, QUESTIONS))
    jsonl = load_questions(_jsonl(tmp_path / "q.jsonl", QUESTIONS))
    expected = [(q, e, tuple(f.strip() for f in facts.split("；") if f), s, a in ("yes", "是", "1"), c)
                for q, e, facts, s, a, c in QUESTIONS]
    for qs, first in ((gbk, 2), (bom, 2), (xlsx, 2), (jsonl, 1)):  # a table's header is row 1; JSONL: line numbers
        assert [(q.question, q.expected, q.facts, q.source, q.answerable, q.category) for q in qs.questions] == expected
        assert [q.row for q in qs.questions] == list(range(first, first + len(QUESTIONS)))
        assert qs.ignored == []


def test_an_xlsx_number_and_a_json_list_are_read_as_written(tmp_path):
    xlsx = load_questions(_xlsx(tmp_path / "q.xlsx", ["id", "question", "facts", "answerable"], [(7, "Fee?", 25, 1)]))
    assert (xlsx.questions[0].key, xlsx.questions[0].facts, xlsx.questions[0].answerable) == ("7", ("25",), True)
    (tmp_path / "l.jsonl").write_text(json.dumps({"问题": "手续费？", "关键要点": ["10元", "每次"], "可回答": True,
                                                  "remark": "x"}, ensure_ascii=False), encoding="utf-8")
    qs = load_questions(tmp_path / "l.jsonl")
    assert qs.questions[0].facts == ("10元", "每次") and qs.ignored == ["remark"]


@pytest.mark.parametrize("header,rows,message", [
    (["问", "答案"], [["手续费？", "10元"]], r"no question column \(question or 问题\).*columns found: '问', '答案'"),
    (["question", "answerable"], [["Fee?", "maybe"], ["", "yes"], ["Rate?", "否"], ["Limit?", "不知道"]],
     r"3 problem.*row 2, column 'answerable': 'maybe' is not one of yes, no, 是, 否, 1, 0.*"
     r"row 3, column 'question': the question is empty.*row 5, column 'answerable': '不知道'"),
    (["问题", "类别"], [["手续费？", "a"], ["手续费？", "b"]], r"row 3: the same question as row 2"),
    (["question", "question "], [["a", "b"]], r"columns 'question' and 'question' both give the question"),
])
def test_a_bad_file_names_the_row_and_column(tmp_path, header, rows, message):
    path = _csv(tmp_path / "q.csv", header, rows, "gbk")
    with pytest.raises(QuestionsError, match=f"(?s){message}"):
        load_questions(path)


def test_a_file_is_bounded_in_questions(tmp_path):
    # an XLSX's rows: tests/eval/test_eval_kb_xlsx_rows.py
    from eval.kb_questions import MAX_QUESTIONS

    rows = [[f"question {i}?"] for i in range(MAX_QUESTIONS + 1)]
    with pytest.raises(QuestionsError, match=f"more than {MAX_QUESTIONS} questions, the most a file may have "
                                             r"\(--max-questions\): split it"):
        load_questions(_csv(tmp_path / "q.csv", ["question"], rows, "utf-8"))


def test_a_file_that_is_not_a_questions_file_is_refused(tmp_path):
    (tmp_path / "q.docx").write_bytes(b"PK")
    with pytest.raises(QuestionsError, match=r"\.docx is not a questions format; use \.csv, \.xlsx or \.jsonl"):
        load_questions(tmp_path / "q.docx")
    (tmp_path / "q.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(QuestionsError, match="could not be opened as an Excel workbook"):
        load_questions(tmp_path / "q.xlsx")
    (tmp_path / "q.jsonl").write_text('{"question": "a"}\n[1, 2]\n{"question": \n', encoding="utf-8")
    with pytest.raises(QuestionsError, match=r"(?s)line 2: a JSON object.*line 3: not JSON"):
        load_questions(tmp_path / "q.jsonl")
    with pytest.raises(QuestionsError, match="no such file"):
        load_questions(tmp_path / "none.csv")


# ---------------------------------------------------------------------------- the real KB
def _calibrated(manager) -> None:
    """KB 't' as `rag index` leaves it: its refusal thresholds calibrated on its own content."""
    from rag.adapt.tune_refusal import recalibrate
    from rag.config import Settings

    assert recalibrate(Settings.load(indexer={"home": str(manager.home)}), "t", manager, reranker=None) is not None


def _eval_cli(monkeypatch, home: Path):
    """`rag eval kb` as cli.main mounts it, on the given KB home."""
    import typer

    import cli.state
    from cli.eval_kb import eval_kb

    monkeypatch.setattr(cli.state.state, "home", str(home))
    monkeypatch.setattr(cli.state.state, "config", None)
    root = typer.Typer()
    root.callback()(lambda: None)
    sub = typer.Typer()
    sub.command("kb")(eval_kb)
    root.add_typer(sub, name="eval")
    return root


def test_the_sample_kb_in_gbk_csv_then_a_deleted_document_fails_the_baseline(manager, sample_copy, tmp_path,
                                                                             monkeypatch):
    from typer.testing import CliRunner

    _calibrated(manager)
    questions = _csv(tmp_path / "问题.csv", ZH_HEADER, QUESTIONS, "gbk")
    cli, runner = _eval_cli(monkeypatch, manager.home), CliRunner()
    first = runner.invoke(cli, ["eval", "kb", "--kb", "t", "--questions", str(questions), "--out",
                                str(tmp_path / "r1")])
    assert first.exit_code == 0, first.output
    metrics = json.loads((tmp_path / "r1" / "metrics.json").read_text(encoding="utf-8"))
    verdicts = {q["question"]: q["verdict"] for q in metrics["questions"]}
    assert verdicts == {
        "What number do I call to report a lost card?": CORRECT,
        "What is the monthly fee for Premier Checking?": CORRECT,          # "25 dollars" found as "$25"
        "How much is the monthly fee of Premier Checking?": WRONG,          # the expected "$12" is not the fee
        "临时挂失的有效期是多久？": CORRECT,
        "临时挂失多少天后自动解除？": WRONG,                                   # "７天": it is 5 days
        "正式挂失的手续费是多少？": CORRECT,                                   # "１０元" found as "10元"
        "What is the capital of France?": REFUSED_CORRECTLY,
        "今天天气怎么样？": REFUSED_CORRECTLY,
    }
    wrong = next(q for q in metrics["questions"] if q["verdict"] == WRONG and q["category"] == "fees")
    assert wrong["missing"] == ["$12"] and wrong["cites_source"] is True
    assert metrics["summary"]["right"] == 6 and metrics["refusal_thresholds"] != "none"
    rows = list(csv.DictReader((tmp_path / "r1" / "per_question.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [r["verdict"] for r in rows[:2]] == [WRONG, WRONG] and rows[-1]["verdict"] == CORRECT  # worst first
    page = (tmp_path / "r1" / "report.html").read_text(encoding="utf-8")
    assert page.index("挂失: 2 of 3 right") < page.index("off-topic: 2 of 2 right")  # categories worst first
    assert "临时挂失多少天后自动解除？" in page and "<script" not in page
    assert "6 (75%)" in first.stdout and "8/8 questions answered" in first.stderr  # progress lines in a log

    # a document leaves the KB: its questions are no longer right, the gate fails and names them
    store = manager.open("t", writable=True)
    store.delete_document(next(d.doc_id for d in store.documents() if d.source.endswith("card_loss_reporting_zh.txt")))
    store.close()
    after = runner.invoke(cli, ["eval", "kb", "--kb", "t", "--questions", str(questions), "--out",
                                str(tmp_path / "r3"), "--baseline", str(tmp_path / "r1")])
    assert after.exit_code == 1, after.output
    assert "names no document of KB 't'" in after.stderr and "REGRESSION: 2 fewer" in after.stderr
    assert "was 6 (-2)" in after.stdout
    assert "worse: correct -> " in after.stdout and "临时挂失的有效期是多久？" in after.stdout
    assert "<b>4 of 8 right, was 6</b>: FAILED" in (tmp_path / "r3" / "report.html").read_text(encoding="utf-8")


def test_bad_questions_or_baseline_fail_before_any_question_runs(manager, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    cli, runner = _eval_cli(monkeypatch, manager.home), CliRunner()
    bad = _csv(tmp_path / "q.csv", ["问题", "可回答"], [["手续费？", "也许"]], "gbk")
    res = runner.invoke(cli, ["eval", "kb", "--kb", "t", "--questions", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "row 2, column '可回答': '也许' is not one of" in res.stderr
    good = _jsonl(tmp_path / "q.jsonl", QUESTIONS[:1])
    res = runner.invoke(cli, ["eval", "kb", "--kb", "t", "--questions", str(good), "--baseline", str(tmp_path)])
    assert res.exit_code == 2 and "no metrics.json there" in res.stderr
    res = runner.invoke(cli, ["eval", "kb", "--kb", "nokb", "--questions", str(good), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "does not exist" in res.stderr
    assert not (tmp_path / "o").exists()


def test_an_out_folder_that_cannot_be_written_fails_before_any_question_runs(tmp_path, monkeypatch):
    # it was a FileExistsError traceback once every question had been answered
    from typer.testing import CliRunner

    cli, runner = _eval_cli(monkeypatch, tmp_path / "home"), CliRunner()  # no KB: the check comes first
    questions = _csv(tmp_path / "问题.csv", ZH_HEADER, QUESTIONS[:2], "gbk")
    (tmp_path / "报告").write_text("a file", encoding="utf-8")
    for out, why in [(tmp_path / "报告", "it is a file, not a folder"),
                     (tmp_path / "报告" / "r1", f"{tmp_path / '报告'} is a file, not a folder")]:
        res = runner.invoke(cli, ["eval", "kb", "--kb", "t", "--questions", str(questions), "--out", str(out)])
        assert res.exit_code == 2 and f"--out {out}: {why}; give another folder" in res.stderr, res.output
        assert "does not exist" not in res.stderr  # refused before the KB is opened


def test_a_generator_that_fails_stops_the_run_saying_which_question_and_what_to_do(manager, sample_copy, tmp_path,
                                                                                   monkeypatch):
    # a remote endpoint nobody listens on, with no quoted answer in its place: the run was a GenerationError traceback
    from typer.testing import CliRunner

    from cli.testing import free_port

    config = tmp_path / "remote.toml"
    config.write_text(f'[answer]\nmode = "generate"\nextractive_fallback = false\n[generation]\nbackend = "openai"\n'
                      f'model = "none"\nbase_url = "http://127.0.0.1:{free_port()}/v1"\nretries = 0\n', encoding="utf-8")
    cli, runner = _eval_cli(monkeypatch, manager.home), CliRunner()
    questions = _jsonl(tmp_path / "q.jsonl", [QUESTIONS[3], QUESTIONS[0]])  # Chinese first, then English
    res = runner.invoke(cli, ["eval", "kb", "--kb", "t", "--questions", str(questions), "--out", str(tmp_path / "o"),
                              "--config", str(config)])
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)  # no traceback
    assert "row 1 ('临时挂失的有效期是多久？'): the generator failed after 0 question(s)" in res.stderr
    assert "extractive_fallback = true" in res.stderr and "nothing was written" in res.stderr
    assert not (tmp_path / "o").exists()
