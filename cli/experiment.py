"""`rag experiment create|list|stop|report|promote|rollback|replay`: A/B experiments on a KB's answer
settings, working on the service's state database directly (RAG_DATABASE_URL, else RAG_HOME/service.sqlite);
a running service sees the changes on its next request. Changes made here are recorded with key id "cli"."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from cli.audited import audited
from cli.state import fail, read_option_file, state

experiment_app = typer.Typer(help="A/B experiments: arms of setting overrides, sticky per user; report, "
                                  "promote, roll back (docs/experiments.md).", no_args_is_help=True)
CLI_KEY = "cli"


def open_db():
    from api.config import ServiceSettings
    from api.state.factory import open_database

    svc = ServiceSettings.load(state.config)
    return open_database(svc.database_url, Path(state.settings().indexer.home))


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_arms(arms: list[str], sets: list[str]) -> list[dict]:
    """--arm NAME=SHARE (repeated), --set ARM:section.field=VALUE (VALUE read as JSON, else a string)."""
    out: dict[str, dict] = {}
    for a in arms:
        name, eq, share = a.partition("=")
        if not eq:
            fail(f"--arm expects NAME=SHARE, got {a!r}")
        try:
            out[name.strip()] = {"name": name.strip(), "share": float(share), "overrides": {}}
        except ValueError:
            fail(f"--arm {a!r}: the share must be a number")
    for s in sets:
        arm, colon, rest = s.partition(":")
        path, eq, value = rest.partition("=")
        section, dot, field = path.partition(".")
        if not (colon and eq and dot) or arm not in out:
            fail(f"--set expects ARM:section.field=VALUE for an arm given with --arm, got {s!r}")
        out[arm]["overrides"].setdefault(section.strip(), {})[field.strip()] = _value(value)
    return list(out.values())


# settings quoted answers use too; every other [generation] setting, and these [answer] ones, only matter when
# a model writes the answer (rag.pipeline.Pipeline.stream: a quoted answer calls no generator)
QUOTING_USES = {"generation": frozenset({"cite_min_overlap", "cite_min_similarity"})}
WRITING_ONLY = {"answer": frozenset({"extractive_fallback", "stream"})}


def inert_overrides(overrides: dict, settings) -> list[str]:
    """The overrides ("section.field") that cannot change an answer under `settings` (an arm's settings with
    its overrides applied): generation settings while every answer is quoted (no language is written by the
    model: [answer] mode 'extract', or 'auto' with the bundled SmolLM2), reranker settings with no reranker."""
    out = []
    for section, fields in overrides.items():
        for f in fields:
            if not settings.uses_generator and (
                    (section == "generation" and f not in QUOTING_USES["generation"])
                    or f in WRITING_ONLY.get(section, ())):
                out.append(f"{section}.{f}")
            elif section == "rerank" and f != "model" and not settings.rerank.model:
                out.append(f"{section}.{f}")
    return out


def arm_warnings(exp, base, kb_overrides: dict) -> list[str]:
    """Warnings for arms that cannot differ: an override with no effect in the arm's answer mode, or arms
    whose settings are the same."""
    from api.experiments import apply_overrides

    kb_settings = apply_overrides(base, kb_overrides)
    out, seen = [], {}
    for a in exp.arms:
        s = apply_overrides(kb_settings, a.overrides)
        inert = inert_overrides(a.overrides, s)
        generation = [i for i in inert if not i.startswith("rerank.")]
        if generation:
            out.append(f"arm {a.name!r}: {', '.join(generation)} cannot change an answer: every answer of this arm "
                       f"is quoted from the passages, no model writes it ("
                       + ("[answer] mode 'extract'" if s.answer.mode == "extract" else
                          f"[answer] mode 'auto', and the model {s.generation.model!r} writes no language: "
                          f"[generation] languages "
                          + ("unset" if s.generation.languages is None else json.dumps(s.generation.languages)))
                       + "). To compare it, have the model write in every arm: "
                       + " ".join(f"--set {b.name}:answer.mode=generate" for b in exp.arms))
        if len(generation) < len(inert):
            out.append(f"arm {a.name!r}: {', '.join(i for i in inert if i.startswith('rerank.'))} cannot change an "
                       f"answer: no reranker is configured (rerank.model)")
        dump = json.dumps({k: getattr(s, k).model_dump(mode="json") for k in ("retrieval", "rerank", "generation",
                                                                               "answer")}, sort_keys=True)
        if dump in seen:
            out.append(f"arms {seen[dump]!r} and {a.name!r} have the same settings: their answers cannot differ")
        seen.setdefault(dump, a.name)
    return out


def create(name: str = typer.Argument(..., help="experiment name"),
           kb: str = typer.Option(..., "--kb", help="knowledge base"),
           arm: list[str] = typer.Option([], "--arm", help="NAME=SHARE (at least two)"),
           set_: list[str] = typer.Option([], "--set", help="ARM:section.field=VALUE, e.g. b:answer.top_k=2"),
           from_file: Optional[str] = typer.Option(None, "--from", help="JSON file {arms: [{name, share, "
                                                   "overrides}]} instead of --arm/--set")):
    """Start an experiment on a KB (one active experiment per KB)."""
    from api.experiments import ExperimentError, ExperimentStore, make_experiment

    if from_file:
        try:
            arms = json.loads(read_option_file(from_file, "--from"))["arms"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            fail(f"--from {from_file}: not a JSON object with \"arms\" ({e})")
    else:
        arms = parse_arms(arm, set_)
    if not state.manager().exists(kb):
        fail(f"knowledge base {kb!r} does not exist")
    db = open_db()
    try:
        store = ExperimentStore(db)
        exp = store.create(make_experiment(name, kb, arms, state.settings()), CLI_KEY)
        warnings = arm_warnings(exp, state.settings(), store.kb_settings(kb)[1])
    except ExperimentError as e:
        fail(str(e))
    finally:
        db.close()
    print(json.dumps(exp.to_dict(), indent=2))
    for w in warnings:
        typer.secho(f"warning: {w}", fg="yellow", err=True)


def list_(kb: Optional[str] = typer.Option(None, "--kb", help="only this KB's"),
          as_json: bool = typer.Option(False, "--json")):
    """Experiments, active and ended."""
    from api.experiments import ExperimentStore

    db = open_db()
    exps = ExperimentStore(db).list(kb)
    db.close()
    if as_json:
        print(json.dumps([e.to_dict() for e in exps], indent=2))
        return
    if not exps:
        print("no experiments")
    for e in exps:
        arms = ", ".join(f"{a.name} {a.share:.0%} {json.dumps(a.overrides)}" for a in e.arms)
        print(f"{e.name} [{e.kb}] {e.status}{' -> ' + e.winner if e.winner else ''} (since {e.created_at}): {arms}")


def stop(name: str = typer.Argument(...)):
    """Stop an experiment: every user gets the KB's settings again (answers and votes stay)."""
    from api.experiments import ExperimentStore, NotFound

    db = open_db()
    try:
        exp = ExperimentStore(db).stop(name)
    except NotFound as e:
        fail(str(e))
    finally:
        db.close()
    print(f"{exp.name}: {exp.status}")


def report(name: str = typer.Argument(...),
           html: Optional[str] = typer.Option(None, "--html", help="also write an HTML report here"),
           as_json: bool = typer.Option(False, "--json")):
    """Per arm: answers, votes, up-vote and refusal rates with 95% Wilson intervals, latency p50/p95; a
    two-proportion z-test of each arm against the first, with the minimum detectable effect."""
    from api.experiments import ExperimentStore, NotFound
    from api.experiments.report import build_report, render_html, render_text
    from api.feedback import FeedbackStore

    db = open_db()
    try:
        exp = ExperimentStore(db).get(name)
        rep = build_report(name, [a.name for a in exp.arms], FeedbackStore(db).experiment_rows(name))
    except NotFound as e:
        fail(str(e))
    finally:
        db.close()
    if html:
        Path(html).write_text(render_html(rep), encoding="utf-8")
    print(json.dumps(rep, indent=2) if as_json else render_text(rep))


def promote(name: str = typer.Argument(...), arm: str = typer.Argument(...)):
    """Make ARM's overrides the KB's settings (over its current ones) and end the experiment."""
    from api.experiments import ExperimentError, ExperimentStore, NotFound

    db = open_db()
    try:
        out = ExperimentStore(db).promote(name, arm, CLI_KEY)
    except (ExperimentError, NotFound) as e:
        fail(str(e))
    finally:
        db.close()
    print(f"{out['kb']}: settings {json.dumps(out['overrides'])} (were {json.dumps(out['previous'])}); "
          f"`rag experiment rollback --kb {out['kb']}` restores them")


def rollback(kb: str = typer.Option(..., "--kb")):
    """Restore the KB's settings from before its latest promotion."""
    from api.experiments import ExperimentStore, NotFound

    db = open_db()
    try:
        out = ExperimentStore(db).rollback(kb, CLI_KEY)
    except NotFound as e:
        fail(str(e))
    finally:
        db.close()
    print(f"{kb}: settings {json.dumps(out['restored'])} (were {json.dumps(out['replaced'])})")


def replay(name: str = typer.Argument(...),
           beir: str = typer.Option(..., "--beir", help="BEIR folder to replay every arm on"),
           out: str = typer.Option(..., "--out", help="folder for report.html, metrics.json, per_query.csv"),
           split: str = typer.Option("test", "--split"),
           no_answers: bool = typer.Option(False, "--no-answers", help="retrieval metrics only"),
           calibrate_refusal: Optional[str] = typer.Option(None, "--calibrate-refusal", metavar="auto|none|SPLIT",
                                                           help="as in `rag eval report` (default auto: the "
                                                                "KB's automatic calibration, what users get)"),
           limit: Optional[int] = typer.Option(None, "--limit", min=1)):
    """Run every arm of an experiment over an evaluation set (an offline check before it takes live
    traffic): the same report as `rag eval report`, one configuration per arm, the first arm the
    reference of the significance tests."""
    import tempfile

    import yaml

    from api.experiments import ExperimentStore, NotFound
    from cli.eval import report as eval_report

    db = open_db()
    try:
        exp = ExperimentStore(db).get(name)
    except NotFound as e:
        fail(str(e))
    finally:
        db.close()
    configs = [{"name": a.name, **a.overrides} for a in exp.arms]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as fh:
        yaml.safe_dump({"configs": configs}, fh, allow_unicode=True)
    try:
        eval_report(beir=beir, out=out, split=split, answers=None, configs=fh.name, adapter=None,
                    no_answers=no_answers, resume=False, kb_home=None, calibrate_refusal=calibrate_refusal,
                    limit=limit, bootstrap=1000, seed=0, worst=8)
    finally:
        Path(fh.name).unlink(missing_ok=True)


experiment_app.command("create")(create)
experiment_app.command("list")(list_)
experiment_app.command("stop")(stop)
experiment_app.command("report")(report)
experiment_app.command("promote")(audited("settings.promote", target="name", detail=("arm",))(promote))
experiment_app.command("rollback")(audited("settings.rollback", kb="kb")(rollback))
experiment_app.command("replay")(replay)
