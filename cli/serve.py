"""`rag serve`: the HTTP service (uvicorn); `rag worker`: an indexing worker process."""
from __future__ import annotations

from typing import Optional

import typer

from cli.state import fail, state


def serve(host: Optional[str] = typer.Option(None, "--host", help="bind address (env RAG_HOST; default 127.0.0.1)"),
          port: Optional[int] = typer.Option(None, "--port", help="port (env RAG_PORT; default 8000)"),
          indexing: Optional[str] = typer.Option(None, "--indexing", help="on (default): index uploads in this "
                                                 "process; off: only enqueue them for `rag worker` (env RAG_INDEXING)"),
          log_json: Optional[bool] = typer.Option(None, "--log-json/--log-text", help="JSON log lines (default)")):
    """Run the HTTP API and web page (keys: RAG_ADMIN_KEY bootstraps the first admin)."""
    import uvicorn

    from api.app import create_app
    from api.config import ServiceSettings
    from api.http_protocol import with_header_timeout
    from api.observability import setup_logging

    overrides = {"host": host, "port": port, "log_json": log_json}
    if indexing is not None:
        if indexing not in ("on", "off"):
            fail(f"--indexing takes on or off, got {indexing!r}")
        overrides["indexing"] = indexing == "on"
    svc = ServiceSettings.load(state.config, **overrides)
    setup_logging(svc.log_json)
    if not svc.admin_key:
        typer.secho("note: RAG_ADMIN_KEY is not set; only keys created earlier can be used", fg="yellow", err=True)
    if not svc.indexing and not svc.redis_url and not svc.database_url:
        typer.secho("note: --indexing off with no RAG_REDIS_URL: uploads wait until a `rag worker` on this "
                    "machine (same RAG_HOME) indexes them", fg="yellow", err=True)
    try:
        app = create_app(state.settings(), svc)
    except (ConnectionError, ValueError) as e:
        fail(str(e))
    # at most 16 KB and `header_timeout_s` for a request's line and headers; idle keep-alive connections
    # close after 5 s
    uvicorn.run(app, host=svc.host, port=svc.port, log_config=None, timeout_graceful_shutdown=30,
                timeout_keep_alive=5, h11_max_incomplete_event_size=16 * 1024, ws_max_size=2 * 2**20,
                http=with_header_timeout(svc.header_timeout_s))


def worker(log_json: Optional[bool] = typer.Option(None, "--log-json/--log-text", help="JSON log lines (default)")):
    """Index uploaded files: takes jobs from the Redis Streams queue (RAG_REDIS_URL) or, without Redis,
    from the state database; parses each file in a child process with memory and time limits."""
    import signal
    import threading

    from api.config import ServiceSettings
    from api.jobs.worker import Worker
    from api.observability import setup_logging

    svc = ServiceSettings.load(state.config, log_json=log_json, indexing=True)
    setup_logging(svc.log_json)
    try:
        w = Worker(state.settings(), svc)
    except (ConnectionError, ValueError) as e:
        fail(str(e))
    done = threading.Event()

    def stop(*_):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    w.start()
    typer.secho(f"worker: taking jobs from {w.queue.name}", err=True)
    while not done.wait(5.0):
        if not w.queue.alive():  # a worker that no longer takes jobs exits, so its supervisor restarts it
            typer.secho("worker: the job queue thread stopped; exiting (its job is taken back by the next worker)",
                        fg="red", err=True)
            w.stop()
            raise typer.Exit(1)
    w.stop()
