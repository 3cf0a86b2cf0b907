"""A KB's archive carries its kept uploads and its OCR cache (indexer.archive.kept_files), on a real `rag serve`
(SQLite, uploads kept in the KB's folder; PostgreSQL, cluster mode, kept in the database) with real Tesseract (through a PATH wrapper that logs each run), scans drawn here (English and Chinese pages) and
the real MiniLM: the imported KB re-reads its uploads (POST /v1/kbs/{kb}/reparse) without their being uploaded
again, and its scans without Tesseract running again; `without_originals` leaves them out; an archive whose kept
upload is not the bytes its name says, or whose member would land outside the KB's folder, is refused."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from cli.testing import Server, wait_job
from cli.testing.postgres_server import PostgresServer
from indexer.archive import format as F
from tests.indexer.test_ocr_cache import _page_runs
from tests.lost_cards import EN_LINE, ZH
from tests.ocr_scans import FEE_EN, FEE_ZH, needs_tesseract, save_pdf, scan

pytestmark = [pytest.mark.slow, needs_tesseract]  # ~40 s a backend: a server, two scanned pages read by OCR once



def _logged_tesseract(tmp_path: Path) -> tuple[Path, str]:
    """(the log, a PATH) of a `tesseract` that appends its arguments to the log, then runs the real one."""
    real, log = shutil.which("tesseract"), tmp_path / "tesseract.log"
    wrapper = tmp_path / "bin" / "tesseract"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    log.touch()
    return log, f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}"


def _members(archive: bytes) -> list[str]:
    with zipfile.ZipFile(BytesIO(archive)) as z:
        return sorted(z.namelist())


def _rezipped(archive: bytes, edit) -> bytes:
    """`archive` with its members passed through `edit(parts, manifest)` (both changed in place)."""
    with zipfile.ZipFile(BytesIO(archive)) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(parts.pop(F.MANIFEST))
    edit(parts, manifest)
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(F.MANIFEST, json.dumps(manifest))
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


def _swapped_original(parts: dict, manifest: dict) -> None:
    """The first kept upload renamed to other bytes' SHA-256 (listed so, with its size), its bytes unchanged."""
    name = next(n for n in parts if n.startswith(F.ORIGINALS) and n.endswith(".txt"))
    other = hashlib.sha256(b"other bytes").hexdigest()
    forged = f"{F.ORIGINALS}{other}.txt"
    parts[forged] = parts.pop(name)
    manifest["members"][forged] = {"size": len(parts[forged]), "sha256": other}
    del manifest["members"][name]


def _escaping(parts: dict, manifest: dict) -> None:
    data = b"#!/bin/sh\n"
    parts["originals/../../bin/evil"] = data
    manifest["members"]["originals/../../bin/evil"] = {"size": len(data),
                                                        "sha256": hashlib.sha256(data).hexdigest()}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request):
    """The service's state: SQLite (uploads kept in the KB's folder) or PostgreSQL (cluster mode: kept in it)."""
    if request.param == "sqlite":
        yield {}
        return
    with PostgresServer() as pg:
        yield {"RAG_DATABASE_URL": pg.url}


def test_an_imported_kb_rereads_its_uploads_from_the_archive_and_its_scans_from_its_ocr_cache(tmp_path, database):
    log, path = _logged_tesseract(tmp_path)
    home = tmp_path / "home"
    pdf = save_pdf(tmp_path / "fees.pdf", scan(["Card Services Fee Notice", "", FEE_EN]),
                   scan(["银行卡服务收费公告", "", FEE_ZH]))
    srv = Server(home, PATH=path, RAG_ANSWER_MODE="extract", RAG_WARM_UP="false", **database).start()
    try:
        c = srv.client()
        assert c.post("/v1/kbs", json={"name": "clinic"}).status_code == 201
        up = c.post("/v1/kbs/clinic/documents", files=[("files", ("fees.pdf", pdf.read_bytes())),
                                                       ("files", ("cards.txt", EN_LINE.encode())),
                                                       ("files", ("挂失.txt", ZH.encode()))])
        assert up.status_code == 202, up.text
        job = wait_job(c, up.json()["job_id"], timeout=300)
        assert [f["status"] for f in job["files"]] == ["indexed"] * 3, job
        runs = _page_runs(log)
        assert runs >= 2  # both scanned pages read by OCR

        got = c.get("/v1/kbs/clinic/export")
        assert got.status_code == 200 and got.headers["X-Export-Originals"] == "3", got.headers
        archive = got.content
        kept = [n for n in _members(archive) if n.startswith(F.ORIGINALS)]
        assert len(kept) == 3 and F.OCR_CACHE in _members(archive), _members(archive)
        bare = c.get("/v1/kbs/clinic/export", params={"without_originals": "true"})
        assert bare.headers["X-Export-Originals"] == "0"
        assert _members(bare.content) == sorted([F.MANIFEST, F.DOCUMENTS, F.VECTORS])

        r = c.post("/v1/kbs/import", params={"name": "clinic-copy"}, content=archive)
        assert r.status_code == 202, r.text
        job = wait_job(c, r.json()["job_id"])
        assert job["status"] == "done", job
        assert (job["result"]["originals"], job["result"]["ocr_cache"]) == (3, True), job["result"]
        again = c.post("/v1/kbs/clinic-copy/reparse")
        assert again.status_code == 202 and again.json()["not_reread"] == [], again.text
        assert sorted(again.json()["files"]) == ["cards.txt", "fees.pdf", "挂失.txt"]
        job = wait_job(c, again.json()["job_id"], timeout=300)
        assert job["status"] == "done" and all(f["status"] in ("updated", "unchanged") for f in job["files"]), job
        assert _page_runs(log) == runs  # the imported KB's scans came from its OCR cache, English and Chinese
        for query, source in (("跨行转账手续费", "fees.pdf"), ("replacement card fee", "fees.pdf"),
                              ("银行卡丢了怎么挂失", "挂失.txt")):
            hits = c.post("/v1/kbs/clinic-copy/search", json={"query": query, "k": 1, "mode": "bm25"}).json()
            assert hits and hits[0]["source"] == source, (query, hits)

        r = c.post("/v1/kbs/import", params={"name": "clinic-bare"}, content=bare.content)
        assert wait_job(c, r.json()["job_id"])["result"]["originals"] == 0
        left = c.post("/v1/kbs/clinic-bare/reparse").json()
        assert left["files"] == [] and len(left["not_reread"]) == 3, left  # uploads to send again

        forged = c.post("/v1/kbs/import", params={"name": "forged"}, content=_rezipped(archive, _swapped_original))
        assert forged.status_code == 202, forged.text  # its structure holds; its job reads the bytes
        job = wait_job(c, forged.json()["job_id"])
        assert job["status"] == "failed" and job["error_code"] == "invalid_archive", job
        assert "checksum" in job["error"], job["error"]
        escaping = c.post("/v1/kbs/import", params={"name": "escaping"}, content=_rezipped(archive, _escaping))
        assert escaping.status_code == 422 and "originals/../../bin/evil" in escaping.text, escaping.text
        assert c.get("/v1/kbs/forged").status_code == 404 and c.get("/v1/kbs/escaping").status_code == 404
        assert not (home / "bin").exists() and not list(home.glob(".forged*"))
    finally:
        srv.stop()
