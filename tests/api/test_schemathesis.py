"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema (schemathesis) against a
real `rag serve` with an admin key: no request, however odd, may get a 5xx."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli.testing import ADMIN, Server


@pytest.mark.slow
def test_no_request_from_the_schema_gets_a_server_error(tmp_path):
    srv = Server(tmp_path / "home", RAG_ANSWER_MODE="extract").start()
    try:
        with srv.client() as c:
            assert c.post("/v1/kbs", json={"name": "bank"}).status_code == 201
        exe = Path(sys.executable).with_name("schemathesis")
        p = subprocess.run([str(exe), "run", srv.url + "/openapi.json", "--checks", "not_a_server_error",
                            "--header", f"Authorization: Bearer {ADMIN}", "--max-examples", "40", "--seed", "7",
                            "--request-timeout", "60"], capture_output=True, text=True, timeout=1800)
        assert p.returncode == 0, p.stdout[-8000:] + p.stderr[-2000:]
    finally:
        srv.stop()
