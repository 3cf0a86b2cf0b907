"""A KB as one archive over HTTP (api/routes/kb_archive.py), on a real `rag serve`: its admin downloads it,
a global admin imports it under another name (it then searches the same, English and Chinese) or over
the KB (replace), a document rewritten throughout the export is left out and said so (a header, the
manifest), and a damaged or oversized archive is refused with nothing created."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import zipfile
from io import BytesIO

import httpx
import numpy as np
import pytest

from cli.testing import ADMIN, ROOT, Server, wait_job
from tests.indexer.test_archive import _rewrite

QUERIES = ["how do I report a lost card?", "如何挂失银行卡？"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    home = root / "home"
    env = {"RAG_HOME": str(home), "RAG_EMBED_MODEL": "minilm", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "cli", "index", str(ROOT / "data/sample/en/lost_or_stolen_cards.txt"),
                    str(ROOT / "data/sample/zh/card_loss_reporting.txt"), "--kb", "bank", "-q"],
                   env={**__import__("os").environ, **env}, cwd=ROOT, check=True, capture_output=True, timeout=300)
    server = Server(home, RAG_ANSWER_MODE="extract", RAG_WARM_UP="false", RAG_MAX_IMPORT_MB="1",
                    RAG_UPLOAD_IDLE_S="3").start()
    yield server
    server.kill()


def client(srv: Server, key: str = ADMIN) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def top(c: httpx.Client, kb: str) -> list:
    out = []
    for q in QUERIES:
        r = c.post(f"/v1/kbs/{kb}/search", json={"query": q, "k": 5})
        assert r.status_code == 200, r.text
        out.append([(h["chunk_id"], round(h["score"], 4)) for h in r.json()])
    return out


def test_export_then_import_under_another_name_and_over_the_kb(srv):
    with client(srv) as c:
        reader = c.post("/v1/keys", json={"kb": "bank", "scope": "read"}).json()["key"]
        kb_admin = c.post("/v1/keys", json={"kb": "bank", "scope": "admin"}).json()["key"]
        with client(srv, reader) as r:
            assert r.get("/v1/kbs/bank/export").status_code == 403
        with client(srv, kb_admin) as a:
            got = a.get("/v1/kbs/bank/export")
            assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
            assert got.headers["X-Export-Left-Out"] == "0"  # every document is in it
            assert 'filename="bank.zip"' in got.headers["content-disposition"]
            archive = got.content
            assert "left_out" not in _manifest(archive)  # as versions before the field read it
            refused = a.post("/v1/kbs/import", params={"name": "copy"}, content=archive)
            assert refused.status_code == 403  # creating a KB takes a global admin
        r = c.post("/v1/kbs/import", params={"name": "copy"}, content=archive,
                   headers={"content-type": "application/zip"})
        assert r.status_code == 202, r.text  # accepted: the import runs as a job
        assert r.headers["Location"] == r.json()["location"] == f"/v1/jobs/{r.json()['job_id']}"
        job = wait_job(c, r.json()["job_id"])
        chunks = job["result"]["chunks"]
        assert job["status"] == "done" and job["kind"] == "import" and job["kb"] == "copy", job
        assert job["result"] == {"name": "copy", "source_kb": "bank", "documents": 2, "chunks": chunks,
                                 "embed_model": "minilm", "replaced": False, "left_out": [], "state": None,
                                 "originals": 0, "originals_not_kept": 0, "ocr_cache": False}
        assert job["progress"] == {"stage": "importing", "done": chunks, "total": chunks, "unit": "chunks"}
        assert top(c, "copy") == top(c, "bank") and top(c, "bank")[1][0]
        again = c.post("/v1/kbs/import", params={"name": "copy"}, content=archive)
        assert again.status_code == 409 and again.json()["error"]["code"] == "kb_exists"
        assert "?name= over HTTP" in again.json()["error"]["message"]  # not only the CLI's --as / --replace
        assert "?replace=true" in again.json()["error"]["message"]
        c.delete("/v1/kbs/bank/documents/" + c.get("/v1/kbs/bank/documents").json()[0]["doc_id"])
        # the archive's name (bank); waited for: the synchronous answer of before
        back = c.post("/v1/kbs/import", params={"replace": "true", "wait": "true"}, content=archive,
                      headers={"content-type": "application/octet-stream"})  # as the schema allows too
        assert back.status_code == 201 and back.json()["replaced"] and back.json()["name"] == "bank", back.text
        assert c.get("/v1/kbs/bank").json()["documents"] == 2
        assert top(c, "bank") == top(c, "copy")


def _saved(tmp_path, data: bytes):
    path = tmp_path / "bank.zip"
    path.write_bytes(data)
    return path


def test_a_damaged_or_oversized_archive_is_refused_and_nothing_is_created(srv, tmp_path):
    with client(srv) as c:
        archive = c.get("/v1/kbs/bank/export").content
        mid = len(archive) // 2
        damaged = archive[:mid] + bytes([archive[mid] ^ 0xFF]) + archive[mid + 1:]
        r = c.post("/v1/kbs/import", params={"name": "bad"}, content=damaged)
        if r.status_code == 202:  # the zip's structure is whole: its job finds the checksum wrong, and says so
            job = wait_job(c, r.json()["job_id"])
            assert (job["status"], job["error_code"], job["result"]) == ("failed", "invalid_archive", None), job
            message = job["error"]
        else:
            assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_archive", r.text
            message = r.json()["error"]["message"]
        assert "refused archive kb.zip" in message or "not a readable zip" in message, message
        waited = c.post("/v1/kbs/import", params={"name": "bad", "wait": "true"}, content=damaged)
        assert waited.status_code == 422 and waited.json()["error"]["message"] == message, waited.text
        anonymous = httpx.post(srv.url + "/v1/kbs/import", content=b"PK" + b"\0" * (2 << 20), timeout=60)
        assert anonymous.status_code == 401  # the key is checked before any byte of the body is kept
        assert not list((srv.home / ".uploads").glob("import-*"))
        big = c.post("/v1/kbs/import", params={"name": "big"}, content=b"PK" + b"\0" * (2 << 20))
        assert big.status_code == 413 and "max_import_mb" in big.json()["error"]["message"]
        bad_name = c.post("/v1/kbs/import", params={"name": "../x"}, content=archive)
        assert bad_name.status_code == 422
        named = _rewrite(_saved(tmp_path, archive), tmp_path / "named.zip", manifest=lambda m: m.update(kb="../x"))
        r = c.post("/v1/kbs/import", content=named.read_bytes())  # the archive's own name: not a valid one
        assert r.status_code == 422 and "not a valid name" in r.json()["error"]["message"], r.text
        assert {k["name"] for k in c.get("/v1/kbs").json()} <= {"bank", "copy"}


def _stalled_post(srv: Server, path: str, content_type: str, head: bytes) -> tuple[bytes, float]:
    """POST `head` of a body announced as 1 MB, then send nothing: the status line the server answers
    with and the seconds it took."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=60) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n"
                  f"Content-Type: {content_type}\r\nContent-Length: {1 << 20}\r\n\r\n".encode() + head)
        t0 = time.monotonic()
        answer = s.recv(4096)
        return answer.split(b"\r\n", 1)[0], time.monotonic() - t0


@pytest.mark.parametrize("route", ["import", "upload"])
def test_a_client_that_stops_sending_is_cut_off_with_408_and_nothing_is_kept(srv, route):
    # both routes read their body through api.body_stream.timed_chunks (upload_idle_s = 3 here)
    if route == "import":
        status, took = _stalled_post(srv, "/v1/kbs/import?name=stalled", "application/zip", b"PK\x03\x04" + b"\0" * 100)
    else:
        status, took = _stalled_post(srv, "/v1/kbs/bank/documents", "multipart/form-data; boundary=b",
                                     b'--b\r\nContent-Disposition: form-data; name="files"; filename="\xe6\x8c\x82\xe5\xa4\xb1.txt"'
                                     b"\r\nContent-Type: text/plain\r\n\r\n\xe5\xa6\x82\xe4\xbd\x95\xe6\x8c\x82\xe5\xa4\xb1")
    assert status.startswith(b"HTTP/1.1 408"), status
    assert 2.5 < took < 30
    leftover = [p for p in (srv.home / ".uploads").iterdir()] if (srv.home / ".uploads").exists() else []
    assert not leftover, leftover
    with client(srv) as c:
        assert {k["name"] for k in c.get("/v1/kbs").json()} <= {"bank", "copy"}


# ---- a document rewritten throughout the export -----------------------------------------------------------
SHARED = "信用卡挂失后，临时挂失有效期为5天。"  # the one chunk text of both documents of KB 'busy'
N_HANDBOOK = 10_000  # chunks of the document not rewritten: reading the other one's vector goes through theirs


def _put(store, doc_id: str, source: str, n: int, version: int) -> None:
    """Document `doc_id` as indexing writes it (indexer.store.local): `n` chunks of SHARED, vectors keyed as
    indexing keys them; each version has its own content hash and indexing time."""
    from indexer.archive.keys import bm25_tokens, vector_hashes
    from indexer.types import Chunk, DocumentInfo

    chunks = [Chunk(f"{doc_id}:{i}:{version}", doc_id, i, SHARED, "挂失", None, 0) for i in range(n)]
    tokens = bm25_tokens(chunks[:1]) * n
    vectors = np.random.default_rng(version).normal(size=(n, store.dim)).astype(np.float32)
    info = DocumentInfo(doc_id, source, f"sha-{version}", 100, n, f"2026-12-07T10:00:00.{version:06d}+00:00", {})
    store.replace_document(info, chunks, tokens, vectors, vector_hashes(chunks, store.context_window)[:1] * n)


def _manifest(archive: bytes) -> dict:
    with zipfile.ZipFile(BytesIO(archive)) as z:
        return json.loads(z.read("manifest.json"))


def test_a_document_rewritten_throughout_the_export_is_left_out_and_named(srv, tmp_path):
    """While `GET .../export` runs, another process keeps rewriting one document (every ~8 ms): each read of
    it (~50 ms: its chunk's text is that of the N_HANDBOOK chunks of the other document, whose vectors the
    read goes through) sees a newer version at its end, so it is left out after 5 tries, and the response says so."""
    from indexer.archive.reader import ArchiveReader
    from indexer.store.local.snapshot import IndexParams
    from indexer.store.local.store import LocalStore

    store = LocalStore(srv.home / "busy", IndexParams(dim=384), writable=True, embed_model="minilm")
    stop = threading.Event()

    def rewrite() -> None:
        version = 1
        while not stop.is_set():
            version += 1
            _put(store, "fees", "/docs/收费标准.txt", 1, version)
    try:
        _put(store, "handbook", "/docs/handbook.txt", N_HANDBOOK, 0)
        _put(store, "fees", "/docs/收费标准.txt", 1, 1)
        writer = threading.Thread(target=rewrite)
        writer.start()
        try:
            with client(srv) as c:
                during = c.get("/v1/kbs/busy/export")
        finally:
            stop.set()
            writer.join()
        assert during.status_code == 200, during.text
        assert during.headers["X-Export-Left-Out"] == "1"
        m = _manifest(during.content)
        assert m["left_out"] == [{"doc_id": "fees", "source": "/docs/收费标准.txt"}]
        assert m["documents"] == 1 and m["chunks"] == N_HANDBOOK  # the other document is whole
        (tmp_path / "busy.zip").write_bytes(during.content)
        with ArchiveReader(tmp_path / "busy.zip") as reader:  # what import reads: a valid archive
            reader.verify(progress=False)
            assert [d.doc_id for d, _ in reader.documents()] == ["handbook"]
            assert [d.source for d in reader.manifest.left_out] == ["/docs/收费标准.txt"]
    finally:
        store.close()
        with client(srv) as c:
            c.delete("/v1/kbs/busy")


def test_an_archive_that_left_documents_out_says_so_when_imported(srv, tmp_path):
    with client(srv) as c:
        archive = c.get("/v1/kbs/bank/export").content
        gone = [{"doc_id": "fees", "source": "/docs/收费标准.txt"}, {"doc_id": "rates", "source": "/docs/rates.md"}]
        lacking = _rewrite(_saved(tmp_path, archive), tmp_path / "lacking.zip", manifest=lambda m: m.update(left_out=gone))
        r = c.post("/v1/kbs/import", params={"name": "lacking", "wait": "true"}, content=lacking.read_bytes())
        try:
            assert r.status_code == 201, r.text
            assert r.json()["left_out"] == ["/docs/收费标准.txt", "/docs/rates.md"] and r.json()["documents"] == 2
        finally:
            c.delete("/v1/kbs/lacking")
