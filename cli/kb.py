"""`rag kb list|create|delete`: knowledge bases."""
from __future__ import annotations

import json
from typing import Optional

import typer

from cli.state import fail, state

kb_app = typer.Typer(help="Manage knowledge bases.", no_args_is_help=True)


@kb_app.command("list")
def kb_list(as_json: bool = typer.Option(False, "--json")):
    mgr = state.manager()
    rows = []
    for name in mgr.names():
        store = mgr.open(name)
        rows.append({"name": name, "documents": len(store.documents()), "embed_model": store.embed_model,
                     "context_window": store.context_window})
        store.close()
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        print(f"no knowledge bases in {mgr.uri or mgr.home} yet; create one with `rag kb create NAME`")
    for r in rows if not as_json else []:
        print(f"{r['name']}\t{r['documents']} documents\t{r['embed_model']}\tcontext window {r['context_window']}")


@kb_app.command("create")
def kb_create(name: str, embed_model: Optional[str] = typer.Option(None, "--embed-model",
              help="e5+minilm (default: both bundled models fused), e5 (multilingual alone, faster indexing), minilm (English) or a sentence-transformers folder")):
    mgr = state.manager()
    try:
        store = mgr.create(name, embed_model)
    except (FileExistsError, ValueError) as e:
        fail(str(e))
    store.commit()
    print(f"created knowledge base {name!r} ({store.embed_model}, {store.dim}-d, context window "
          f"{store.context_window}) in {mgr.uri or mgr.home / name}")
    store.close()


@kb_app.command("delete")
def kb_delete(name: str):
    from indexer.kbs import KBNotFound

    try:
        state.manager().delete(name)
    except (KBNotFound, ValueError) as e:
        fail(str(e))
    print(f"deleted knowledge base {name!r}")
