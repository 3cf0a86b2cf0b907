"""POST /v1/kbs/import reserves the KB's name as it accepts the request, on a real `rag serve` with SQLite or
PostgreSQL state: of two requests sent at once only one is accepted, the name stays reserved while its job is
queued (also after the service is killed and started again), and a failed job gives it back. Each import's end is
recorded in the audit trail beside the request, and the chain still verifies."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import httpx
import pytest

from cli.testing import ADMIN, ROOT, Server, wait_job
from cli.testing.postgres_server import PostgresServer
from indexer.archive import format as F

ENV = {"RAG_ANSWER_MODE": "extract", "RAG_WARM_UP": "false", "RAG_MAX_IMPORT_MB": "64"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A real export of a small English and Chinese KB."""
    root = tmp_path_factory.mktemp("import-reservation")
    env = {**os.environ, "RAG_HOME": str(root / "src"), "RAG_EMBED_MODEL": "minilm", "HF_HUB_OFFLINE": "1"}
    run = dict(env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-m", "cli", "index", str(ROOT / "data/sample/en/lost_or_stolen_cards.txt"),
                    str(ROOT / "data/sample/zh/card_loss_reporting.txt"), "--kb", "bank", "-q"], **run)
    subprocess.run([sys.executable, "-m", "cli", "kb", "export", "bank", str(root / "bank.zip")], **run)
    return root / "bank.zip"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def database_url(request):
    if request.param == "sqlite":
        yield None
        return
    with PostgresServer() as pg:
        yield pg.url


def _server(home: Path, database_url: str | None, indexing: bool) -> Server:
    db = {"RAG_DATABASE_URL": database_url} if database_url else {}
    return Server(home, RAG_INDEXING="true" if indexing else "false", **db, **ENV).start()


def _damaged(src: Path, dst: Path) -> Path:
    """`src` with one byte of a chunk's text changed, sizes kept: its structure and manifest pass the request's
    checks, its checksum fails the job's."""
    with zipfile.ZipFile(src) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    docs = parts[F.DOCUMENTS]
    at = docs.index(b'"text":"') + len(b'"text":"')
    parts[F.DOCUMENTS] = docs[:at] + (b"X" if docs[at:at + 1] != b"X" else b"Y") + docs[at + 1:]
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return dst


def _import_at_once(url: str, body: bytes, name: str, n: int = 2) -> list[httpx.Response]:
    """`n` imports of `body` into `name`, their bodies' last bytes sent together, so that the service checks them
    at the same time."""
    barrier = threading.Barrier(n)
    out: list[httpx.Response | BaseException] = [None] * n  # type: ignore[list-item]

    def body_parts():
        yield body[:-16]
        barrier.wait(timeout=60)
        yield body[-16:]

    def send(i: int) -> None:
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=120) as c:
                out[i] = c.post("/v1/kbs/import", params={"name": name}, content=body_parts(),
                                headers={"content-type": "application/zip"})
        except BaseException as e:  # noqa: BLE001 - reported below
            out[i] = e

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    errors = [r for r in out if isinstance(r, BaseException)]
    assert not errors, errors
    return out  # type: ignore[return-value]


def _verify_audit(home: Path, database_url: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_HOME": str(home), **({"RAG_DATABASE_URL": database_url} if database_url else {})}
    return subprocess.run([sys.executable, "-m", "cli", "audit", "verify"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow  # ~60 s a backend: three service starts
def test_two_imports_into_one_name_at_once_one_is_refused_and_the_name_stays_reserved_across_a_restart(
        archive, database_url, tmp_path):
    home = tmp_path / "home"
    body = archive.read_bytes()
    srv = _server(home, database_url, indexing=False)  # the jobs wait: the name stays reserved while we look
    try:
        accepted_ids = []
        for attempt in range(3):  # three pairs (new names): without the reservation some pair got 202 twice
            got = _import_at_once(srv.url, body, f"branches{attempt}")
            codes = sorted(r.status_code for r in got)
            assert codes == [202, 409], [r.text for r in got]
            accepted = next(r for r in got if r.status_code == 202).json()
            refused = next(r for r in got if r.status_code == 409).json()["error"]
            assert refused["code"] == "import_running" and accepted["job_id"] in refused["message"], refused
            accepted_ids.append(accepted["job_id"])
        srv.kill()  # kill -9 with the jobs queued
        srv = _server(home, database_url, indexing=False)
        with srv.client() as c:
            again = c.post("/v1/kbs/import", params={"name": "branches0"}, content=body)
            assert again.status_code == 409 and again.json()["error"]["code"] == "import_running", again.text
        srv.stop()
        srv = _server(home, database_url, indexing=True)  # the queued jobs run now
        with srv.client() as c:
            for job_id in accepted_ids:
                job = wait_job(c, job_id, timeout=180)
                assert job["status"] == "done" and job["result"]["documents"] == 2, job
            jobs = c.get("/v1/kbs/branches0/jobs").json()
            assert [j["job_id"] for j in jobs] == accepted_ids[:1], jobs  # the refused requests left no job
    finally:
        srv.kill()


@pytest.mark.slow  # ~13 s: a service started, two imports
def test_an_imports_end_is_in_the_audit_trail_and_a_failed_import_gives_its_name_back(archive, database_url,
                                                                                       tmp_path):
    home = tmp_path / "home"
    srv = _server(home, database_url, indexing=True)
    try:
        with srv.client() as c:
            bad = c.post("/v1/kbs/import", params={"name": "annex"}, content=_damaged(archive, tmp_path / "bad.zip")
                         .read_bytes(), headers={"X-Request-ID": "req-bad-import"})
            assert bad.status_code == 202, bad.text
            failed = wait_job(c, bad.json()["job_id"])
            assert failed["status"] == "failed" and failed["error_code"] == "invalid_archive", failed
            good = c.post("/v1/kbs/import", params={"name": "annex"}, content=archive.read_bytes(),
                          headers={"X-Request-ID": "req-good-import"})
            assert good.status_code == 202, good.text  # the failed job let go of the name
            done = wait_job(c, good.json()["job_id"])
            assert done["status"] == "done", done
            trail = c.get("/v1/audit", params={"action": "kb.import", "kb": "annex", "limit": 100}).json()
            ends = c.get("/v1/audit", params={"action": "kb.import.end", "kb": "annex", "limit": 100}).json()
        assert [(r["kb"], r["outcome"], r["request_id"]) for r in trail] == [
            ("annex", "ok", "req-bad-import"), ("annex", "ok", "req-good-import")], trail
        assert [(r["kb"], r["outcome"], r["actor"], r["target"], r["request_id"]) for r in ends] == [
            ("annex", "failed", "service", bad.json()["job_id"], "req-bad-import"),
            ("annex", "ok", "service", good.json()["job_id"], "req-good-import")], ends
        assert ends[0]["detail"]["error_code"] == "invalid_archive"
        assert "checksum" in ends[0]["detail"]["reason"] and ends[0]["detail"]["requested_by"] == "admin"
        assert {k: ends[1]["detail"][k] for k in ("documents", "chunks", "source_kb", "replaced")} == {
            "documents": 2, "chunks": done["result"]["chunks"], "source_kb": "bank", "replaced": False}
        assert done["result"]["chunks"] > 2
    finally:
        srv.stop()
    verified = _verify_audit(home, database_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
