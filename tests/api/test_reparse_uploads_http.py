"""Files uploaded over HTTP are read again after a parser upgrade, from the originals the service keeps
(indexer.originals): POST /v1/kbs/{kb}/reparse, `rag index` and `rag index --reparse` (a real server, real `rag`
processes, the real MiniLM model). An older release's records are written into the catalog as it wrote them
(tests/cli/test_reparse_cli.py)."""
import hashlib
import json
from pathlib import Path

import pytest

from cli.testing import Server, wait_job
from indexer.parse.versions import stamp_for
from tests.cli.test_cli import rag
from tests.cli.test_reparse_cli import _rewrite_records
from tests.lost_cards import EN, ZH

pytestmark = pytest.mark.slow  # ~2 min: two servers and three rag commands, each loading the model

MD, TXT = stamp_for(".md", False), stamp_for(".txt", False)
OLDER = {f"+parser:{MD}": f"+parser:markdown.{MD.version - 1}", f"+parser:{TXT}": f"+parser:text.{TXT.version - 1}"}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _as_older_release(home: Path) -> None:
    for now, older in OLDER.items():
        _rewrite_records(home / "bank" / "kb.sqlite", now, older)


def _docs(home: Path, **env) -> dict[str, dict]:
    return {d["source"]: d for d in json.loads(rag(home, "docs", "--kb", "bank", "--json", **env).stdout)}


def test_uploads_are_read_again_from_their_kept_originals_and_go_with_their_documents(tmp_path):
    home = tmp_path / "home"
    srv = Server(home).start()
    try:
        admin = srv.client()
        assert admin.post("/v1/kbs", json={"name": "bank"}).status_code == 201
        r = admin.post("/v1/kbs/bank/documents", data={"tags": "dept=cards"},
                       files=[("files", ("cards.md", EN.encode())), ("files", ("挂失.txt", ZH.encode()))])
        assert r.status_code == 202, r.text
        job = wait_job(admin, r.json()["job_id"])
        assert [f["status"] for f in job["files"]] == ["indexed", "indexed"], job
        kept = home / "bank" / "originals"
        assert {p.name: p.read_text(encoding="utf-8") for p in kept.iterdir()} == {
            _sha(EN) + ".md": EN, _sha(ZH) + ".txt": ZH}

        # after an upgrade that fixed both parsers: the job reads both again, from the kept bytes alone
        _as_older_release(home)
        r = admin.post("/v1/kbs/bank/reparse")
        assert r.status_code == 202, r.text
        assert sorted(r.json()["files"]) == ["cards.md", "挂失.txt"] and r.json()["not_reread"] == [], r.json()
        job = wait_job(admin, r.json()["job_id"])
        assert (job["status"], job["kind"]) == ("done", "reparse") and sorted(
            (f["filename"], f["status"]) for f in job["files"]) == [
            ("cards.md", "updated"), ("挂失.txt", "updated")], job
        docs = _docs(home)
        assert {s: (d["parser"], d["tags"], d["original_kept"]) for s, d in docs.items()} == {
            "cards.md": (str(MD), {"dept": "cards"}, True), "挂失.txt": (str(TXT), {"dept": "cards"}, True)}
        hits = admin.post("/v1/kbs/bank/search", json={"query": "银行卡丢了怎么挂失", "k": 1}).json()
        assert hits[0]["source"] == "挂失.txt" and "400-800-1234" in hits[0]["text"], hits
        assert admin.post("/v1/kbs/bank/reparse", headers={"Authorization": "Bearer nope"}).status_code == 401

        # `rag index` given other files reads again the uploads an older parser read, as it does files
        _as_older_release(home)
        folder = tmp_path / "docs"
        folder.mkdir()
        (folder / "fees.md").write_text("# Fees\n\nA replacement card costs 5 dollars.\n", encoding="utf-8")
        p = rag(home, "index", str(folder), "--kb", "bank", "--no-calibrate")
        assert "1 indexed, 2 updated, 0 unchanged, 0 failed" in p.stdout, p.stdout + p.stderr
        assert "cards.md: re-read: parser updated" in p.stdout + p.stderr, p.stdout + p.stderr
        assert "挂失.txt: re-read: parser updated" in p.stdout + p.stderr, p.stdout + p.stderr
        docs = _docs(home)
        assert (docs["cards.md"]["parser"], docs["挂失.txt"]["parser"]) == (str(MD), str(TXT))
        assert docs[str(folder / "fees.md")]["original_kept"] is None  # read again from its path, not kept

        # a deleted upload's kept original goes with it
        assert admin.delete(f"/v1/kbs/bank/documents/{docs['cards.md']['doc_id']}").status_code == 204
        assert [p.name for p in kept.iterdir()] == [_sha(ZH) + ".txt"]
    finally:
        srv.stop()

    # a site that must not keep uploads: they are named as not re-readable, with what to do
    off = {"RAG_KEEP_ORIGINALS": "false"}
    p = rag(home, "index", "--reparse", "--kb", "bank", "--no-calibrate", **off)
    assert "NOT RE-READ 挂失.txt (uploaded" in p.stderr and "keeping uploads is off" in p.stderr, p.stderr
    assert "upload it again" in p.stderr and "1 updated" in p.stdout, p.stdout + p.stderr  # fees.md, from its path
    assert _docs(home, **off)["挂失.txt"]["original_kept"] is False
    srv = Server(home, **off).start()
    try:
        admin = srv.client()
        r = admin.post("/v1/kbs/bank/reparse")
        assert r.status_code == 202 and r.json()["files"] == [], r.text
        left = {d["source"]: d["reason"] for d in r.json()["not_reread"]}
        assert set(left) == {"挂失.txt", str(folder / "fees.md")}, left
        assert "keeping uploads is off" in left["挂失.txt"] and "upload it again" in left["挂失.txt"]
        assert "rag index --reparse --kb bank" in left[str(folder / "fees.md")]
        assert wait_job(admin, r.json()["job_id"])["status"] == "done"
        # an upload while keeping is off is not kept, and the files kept before go at the KB's next write
        r = admin.post("/v1/kbs/bank/documents", files=[("files", ("cards.md", EN.encode()))])
        assert wait_job(admin, r.json()["job_id"])["files"][0]["status"] == "indexed"
        assert list(kept.iterdir()) == []
    finally:
        srv.stop()
