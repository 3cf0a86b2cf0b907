"""`rag serve`: the HTTP service (uvicorn)."""
from __future__ import annotations

from typing import Optional

import typer

from cli.state import state


def serve(host: Optional[str] = typer.Option(None, "--host", help="bind address (env RAG_HOST; default 127.0.0.1)"),
          port: Optional[int] = typer.Option(None, "--port", help="port (env RAG_PORT; default 8000)"),
          log_json: Optional[bool] = typer.Option(None, "--log-json/--log-text", help="JSON log lines (default)")):
    """Run the HTTP API and web page (keys: RAG_ADMIN_KEY bootstraps the first admin)."""
    import uvicorn

    from api.app import create_app
    from api.config import ServiceSettings
    from api.observability import setup_logging

    svc = ServiceSettings.load(state.config, host=host, port=port, log_json=log_json)
    setup_logging(svc.log_json)
    if not svc.admin_key:
        typer.secho("note: RAG_ADMIN_KEY is not set; only keys created earlier can be used", fg="yellow", err=True)
    app = create_app(state.settings(), svc)
    uvicorn.run(app, host=svc.host, port=svc.port, log_config=None, timeout_graceful_shutdown=30)
