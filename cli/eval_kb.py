"""`rag eval kb`: a customer's own question list against their own, already indexed, KB (eval.kb_*)."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from cli.state import fail, state
from eval.kb_questions import MAX_QUESTIONS


def eval_kb(kb: str = typer.Option(..., "--kb", help="the KB to evaluate, as indexed (nothing is re-indexed)"),
            questions: str = typer.Option(..., "--questions", help="CSV, XLSX (first sheet) or JSONL: question/问题, "
                                          "expected/期望答案, facts/关键要点, source/来源文件, answerable/可回答, "
                                          "category/类别, id/编号"),
            out: Optional[str] = typer.Option(None, "--out", help="folder for report.html, metrics.json, "
                                              "per_question.csv (default eval-kb/KB-DATE-TIME)"),
            baseline: Optional[str] = typer.Option(None, "--baseline", help="an earlier run's --out folder: list "
                                                   "the questions whose verdict changed, exit 1 on a drop"),
            max_questions: int = typer.Option(MAX_QUESTIONS, "--max-questions", min=1, help="refuse a questions "
                                              "file with more questions (each takes ~1 s on a 2-core machine)"),
            tolerance: int = typer.Option(0, "--tolerance", min=0, help="with --baseline: questions right that "
                                          "may be lost before the exit code is 1"),
            config: Optional[str] = typer.Option(None, "--config", help="TOML settings to answer with (default: "
                                                 "rag --config / RAG_CONFIG, as `rag ask` uses)")):
    """Ask a KB your own test questions as `rag ask` would and score each: correct, wrong, refused."""
    from eval.kb_baseline import compare
    from eval.kb_html import render
    from eval.kb_metrics import KBRun, RunInfo, load_run
    from eval.kb_questions import QuestionsError, load_questions
    from eval.kb_run import GeneratorFailed, ask_all, unknown_sources
    from eval.kb_summary import table
    from indexer.config import SettingsError
    from indexer.kbs import KBNotFound
    from rag.config import Settings
    from rag.pipeline import build_pipeline

    try:
        qs = load_questions(questions, max_questions)
    except QuestionsError as e:
        fail(str(e), 2)
    out_dir = Path(out) if out else Path("eval-kb") / f"{kb}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    if (why := _unwritable(out_dir)) is not None:  # before the questions run (an hour, for 5,000), not after
        fail(f"--out {out_dir}: {why}; give another folder", 2)
    before = None
    if baseline:
        if out_dir.resolve() == Path(baseline).expanduser().resolve():
            fail("--out is the --baseline folder: the baseline would be overwritten; give another --out", 2)
        try:
            before = load_run(baseline)
        except (FileNotFoundError, ValueError) as e:
            fail(str(e), 2)
    try:
        settings = Settings.load(config or state.config, indexer={"home": state.home})
        pipe = build_pipeline(settings, kb)
    except (SettingsError, KBNotFound, ValueError) as e:
        fail(str(e))
    try:
        documents = pipe.store.documents()
        for q in unknown_sources(qs.questions, [d.source for d in documents]):
            typer.secho(f"warning: row {q.row}: source {q.source!r} names no document of KB {kb!r}, so the question "
                        f"cannot be answered correctly; check the file name (`rag docs --kb {kb}`)", fg="yellow",
                        err=True)
        if qs.ignored:
            typer.secho(f"note: columns ignored: {', '.join(qs.ignored)}", err=True)
        print(f"{kb}: {len(documents)} documents; {len(qs.questions)} questions from {qs.path}", file=sys.stderr)
        pipe.warm_up()
        bar = sys.stderr.isatty()
        results = ask_all(pipe, qs.questions, progress=bar, on_result=None if bar else _progress_lines(len(qs.questions)))
        thresholds = ", ".join(f"{lang} {v:.3f}" for lang, v in sorted(pipe.refusal_by_language.items())) or \
            ("none" if pipe.refusal_threshold is None else f"{pipe.refusal_threshold:.3f}")
        if settings.answer.refusal_threshold is not None:
            thresholds = f"{settings.answer.refusal_threshold:.3f} (configured)"
        embed_model = pipe.store.embed_model
    except KeyboardInterrupt:
        typer.secho("interrupted; nothing was written", err=True)
        raise typer.Exit(130)
    except GeneratorFailed as e:
        fail(f"{e}; nothing was written")
    finally:
        pipe.close()
    run = KBRun(RunInfo(
        kb=kb, questions_file=str(qs.path.resolve()), questions_sha256=hashlib.sha256(qs.path.read_bytes()).hexdigest(),
        finished_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), documents=len(documents),
        embed_model=embed_model, answer_mode=settings.answer.mode, generator=str(settings.generation.model),
        refusal_thresholds=thresholds, config=config or state.config,
        baseline=str(Path(baseline).resolve()) if baseline else None, version=_version(), git_commit=_commit()),
        results)
    comparison = compare(before, run) if before else None
    try:
        run.write(out_dir)
        (out_dir / "report.html").write_text(render(run, comparison, tolerance), encoding="utf-8")
    except OSError as e:
        fail(f"could not write the results to {out_dir}: {e.strerror or e}; free space there or give another --out, "
             "then run again")
    print(table(results))
    if comparison:
        print("\n".join(comparison.lines()))
    print(f"wrote {out_dir / 'report.html'}, metrics.json, per_question.csv")
    if comparison and comparison.failed(tolerance):
        typer.secho(f"REGRESSION: {comparison.drop} fewer question(s) right than the baseline (tolerance "
                    f"{tolerance})", fg="red", err=True)
        raise typer.Exit(1)


def _unwritable(out: Path) -> str | None:
    """Why the results cannot be written to folder `out` (made if missing), None when they can."""
    if out.exists() and not out.is_dir():
        return "it is a file, not a folder"
    existing = out.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable by this user"
    return None


def _progress_lines(total: int):
    """Progress for a log (CI) rather than a terminal: a line at every tenth of the questions."""
    step, done = max(1, total // 10), [0]

    def line(result) -> None:
        done[0] += 1
        if done[0] % step == 0 or done[0] == total:
            print(f"{done[0]}/{total} questions answered", file=sys.stderr, flush=True)
    return line


def _version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("harbor-rag")
    except metadata.PackageNotFoundError:
        return None


def _commit() -> str | None:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent.parent,
                              capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
