"""`rag channel add|list|remove`: connect chat platforms (DingTalk robots, WeCom applications) to a KB.
Writes the state database directly (RAG_HOME/service.sqlite, or RAG_DATABASE_URL), as the service does.

Secrets are best given in environment variables (RAG_DINGTALK_APP_SECRET, RAG_WECOM_TOKEN, RAG_WECOM_AES_KEY,
RAG_WECOM_CORP_SECRET) or typed at the hidden prompt: a command-line argument is readable by every local
user (ps, /proc/PID/cmdline) while the command runs, and stays in the shell's history."""
from __future__ import annotations

import json
from typing import Optional

import typer

from cli.audited import audited
from cli.state import fail, state

channel_app = typer.Typer(help="Chat platforms that answer from a KB (docs/channels.md).", no_args_is_help=True)
add_app = typer.Typer(help="Connect a chat platform to a KB.", no_args_is_help=True)
channel_app.add_typer(add_app, name="add")


def _store():
    from pathlib import Path

    from api.channels.store import ChannelStore
    from api.config import ServiceSettings
    from api.state.factory import open_database

    svc = ServiceSettings.load(state.config)
    return ChannelStore(open_database(svc.database_url, Path(state.settings().indexer.home)))


def _secret(value: Optional[str], name: str, env: str, option: str) -> str:
    """A secret given by its environment variable (or option), else typed at a hidden prompt; with nothing to read
    the prompt from (stdin closed, a script), an error saying where to put it."""
    if value:
        return value
    try:
        return typer.prompt(name, hide_input=True)
    except (typer.Abort, EOFError):
        fail(f"no {name} given: set {env} (or type it at the hidden prompt, in a terminal); {option} works too, but "
             "every local user can read an argument while the command runs, and it stays in the shell's history")
        raise


def _put(kb: str, platform: str, config: dict) -> None:
    if not state.manager().exists(kb):
        fail(f"knowledge base {kb!r} does not exist")
    store = _store()
    try:
        shown = store.put(kb, platform, config)
    except ValueError as e:
        fail(str(e))
    finally:
        store.db.close()
    typer.echo(json.dumps(shown, ensure_ascii=False, indent=2))


@add_app.command("dingtalk")
@audited("channel.add", kb="kb", fixed_target="dingtalk")
def add_dingtalk(kb: str = typer.Option(..., "--kb", help="knowledge base name"),
                 app_secret: Optional[str] = typer.Option(None, "--app-secret", envvar="RAG_DINGTALK_APP_SECRET",
                                                          help="the robot's AppSecret (asked for when not given)"),
                 wait_s: Optional[float] = typer.Option(None, "--wait-s", help="answer later after this long")):
    """A DingTalk robot: set its message receiving address to /v1/channels/dingtalk/KB."""
    app_secret = _secret(app_secret, "AppSecret", "RAG_DINGTALK_APP_SECRET", "--app-secret")
    _put(kb, "dingtalk", {"app_secret": app_secret, "wait_s": wait_s})


@add_app.command("wecom")
@audited("channel.add", kb="kb", fixed_target="wecom")
def add_wecom(kb: str = typer.Option(..., "--kb", help="knowledge base name"),
              token: Optional[str] = typer.Option(None, "--token", envvar="RAG_WECOM_TOKEN",
                                                  help="the callback Token (asked for when not given)"),
              aes_key: Optional[str] = typer.Option(None, "--aes-key", envvar="RAG_WECOM_AES_KEY",
                                                    help="the 43-character EncodingAESKey (asked for when not given)"),
              corp_id: str = typer.Option(..., "--corp-id", help="the corp id (CorpID)"),
              corp_secret: Optional[str] = typer.Option(None, "--corp-secret", envvar="RAG_WECOM_CORP_SECRET",
                                                        help="the application's Secret"),
              agent_id: Optional[str] = typer.Option(None, "--agent-id", help="the application's AgentId"),
              wait_s: Optional[float] = typer.Option(None, "--wait-s", help="answer later after this long")):
    """A WeCom application: set its receive-message URL to /v1/channels/wecom/KB."""
    token = _secret(token, "Token", "RAG_WECOM_TOKEN", "--token")
    aes_key = _secret(aes_key, "EncodingAESKey", "RAG_WECOM_AES_KEY", "--aes-key")
    _put(kb, "wecom", {"token": token, "aes_key": aes_key, "corp_id": corp_id, "corp_secret": corp_secret,
                       "agent_id": agent_id, "wait_s": wait_s})


@channel_app.command("list")
def list_channels(kb: Optional[str] = typer.Option(None, "--kb", help="only this knowledge base"),
                  as_json: bool = typer.Option(False, "--json")):
    """Connected chat platforms (secrets shown as their last 4 characters)."""
    store = _store()
    try:
        rows = store.list(kb)
    finally:
        store.db.close()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        settings = " ".join(f"{k}={v}" for k, v in r["settings"].items())
        typer.echo(f"{r['kb']}\t{r['platform']}\t{r['callback']}\t{settings}")


@channel_app.command("remove")
@audited("channel.remove", kb="kb", target="platform")
def remove(platform: str = typer.Argument(..., help="dingtalk or wecom"),
           kb: str = typer.Option(..., "--kb", help="knowledge base name")):
    """Disconnect a chat platform from a KB."""
    store = _store()
    try:
        n = store.delete(kb, platform)
    finally:
        store.db.close()
    if not n:
        fail(f"no {platform} channel on {kb!r}")
    typer.echo(f"removed {platform} from {kb}")
