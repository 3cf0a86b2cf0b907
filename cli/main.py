"""The `rag` command: the composition root that mounts every layer's commands."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from cli import adapt, ask, documents, eval_kb, serve, tune
from cli import eval as eval_cmds
from cli.audit import audit_app, forget_user, state_app
from cli.audited import audited
from cli.channel import channel_app
from cli.experiment import experiment_app
from cli.feedback import feedback_app
from cli.kb import kb_app
from cli.state import state

app = typer.Typer(help="Retrieval-augmented QA over your own documents.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
app.add_typer(kb_app, name="kb")
app.add_typer(channel_app, name="channel")


@app.callback()
def main(home: Optional[str] = typer.Option(None, "--home", help="folder of knowledge bases (env RAG_HOME; default ./.rag)"),
         config: Optional[str] = typer.Option(None, "--config", help="TOML config file (env RAG_CONFIG)"),
         verbose: bool = typer.Option(False, "-v", "--verbose")):
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if home and not config and not os.environ.get("RAG_CONFIG") and (Path(home).expanduser() / "config.toml").is_file():
        config = str(Path(home).expanduser() / "config.toml")  # the config.toml of --home, as of RAG_HOME
    state.home, state.config = home, config
    if "--help" not in sys.argv[1:]:  # help is shown whatever the settings hold
        state.check()


app.command()(audited("documents.index", kb="kb", detail=("paths", "prune"))(documents.index))
app.command()(documents.docs)
app.command()(audited("document.delete", kb="kb", target="doc")(documents.delete))
app.command()(ask.search)
app.command()(ask.ask)
app.command()(ask.chat)
app.add_typer(tune.tune_app, name="tune")
adapt.register(app, tune.tune_app)
app.command("serve")(serve.serve)
app.command("worker")(serve.worker)
app.add_typer(experiment_app, name="experiment")
app.add_typer(feedback_app, name="feedback")
app.add_typer(audit_app, name="audit")
app.add_typer(state_app, name="state")
app.command("forget-user")(forget_user)

eval_app = typer.Typer(help="Offline evaluation.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
eval_app.command("retrieval")(eval_cmds.eval_retrieval)
eval_app.command("report")(eval_cmds.report)
eval_app.command("compare")(eval_cmds.compare)
eval_app.command("kb")(eval_kb.eval_kb)


def run() -> None:
    from indexer.config import SettingsError

    try:
        app()
    except SettingsError as e:  # settings made up by a command (checked already: those of the CLI and environment)
        typer.secho(f"error: {e}", fg="red", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; the knowledge base keeps its last complete state", file=sys.stderr)
        sys.exit(130)
