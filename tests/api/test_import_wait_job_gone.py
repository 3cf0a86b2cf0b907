"""POST /v1/kbs/import?wait=true for an import whose job is deleted while the request waits (its KB deleted
meanwhile: the state goes with the KB, its jobs too) answers what GET /v1/jobs/{job_id} answers for it: 404
job_not_found, saying the job no longer exists. Before, the wait found no job and the route answered 202 "queued"
for a job that was gone, with a Location that answered 404.

The KB is deleted at the one point the case needs: as the import's worker takes the archive's model, before the job
can end (a KBManager subclass deletes it there, through the service's real delete_kb). An in-process service (its
real routes, job worker and error handlers) on the local store; English and Chinese documents in the archive.

The worker, which goes on after the 404, must not put the import in place under the deleted KB's name: it asks
whether its job still exists right before its hidden copy would take the name, and discards the copy. Before, ~20 s
later, "bank" was back holding the archive's documents."""
from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from cli.testing import ADMIN
from indexer.config import IndexerSettings
from indexer.kbs import KBManager
from tests.api.test_import_replace_kept import _archive

AUTH = {"Authorization": f"Bearer {ADMIN}"}


class _DeletedAsItImports(KBManager):
    """Once `on_import` is set, it is called (once) when an import takes the archive's model."""

    on_import = None

    def encoder(self, model: str | None = None):
        if self.on_import is not None:
            on_import, self.on_import = self.on_import, None
            on_import()
        return super().encoder(model)


def _worker_done_with(svc, job_id: str, timeout_s: float = 120.0) -> None:
    """Wait (bounded) for the in-process worker to end its run of job `job_id`."""
    deadline = time.monotonic() + timeout_s
    while svc.queue.current() == job_id:
        assert time.monotonic() < deadline, f"the worker still runs job {job_id} after {timeout_s:.0f} s"
        time.sleep(0.1)


@pytest.mark.slow  # ~15 s: uploads indexed, an export, an in-process service importing
def test_waiting_for_an_import_whose_kb_is_deleted_meanwhile_is_404(minilm, tmp_path, monkeypatch):
    home = tmp_path / "home"
    for k, v in {"RAG_HOME": str(home), "RAG_ADMIN_KEY": ADMIN, "RAG_EMBED_MODEL": "minilm", "RAG_WARM_UP": "false",
                 "RAG_RATE_LIMIT": "0", "RAG_ANSWER_MODE": "extract"}.items():
        monkeypatch.setenv(k, v)
    settings = IndexerSettings(home=home, embed_model="minilm", parse_isolation=False)
    manager = _DeletedAsItImports(settings, encoders={"minilm": minilm})
    archive, _carried = _archive(manager, None, tmp_path)  # KB 'src': cards.md, 挂失.txt
    from api.app import create_app

    app = create_app()
    with TestClient(app) as c:
        svc = app.state.service
        svc.manager = svc.importer.manager = manager
        assert c.post("/v1/kbs", json={"name": "bank"}, headers=AUTH).status_code == 201
        deleted = []

        def delete_bank():
            svc.delete_kb("bank")
            deleted.append(not manager.exists("bank"))
        manager.on_import = delete_bank
        r = c.post("/v1/kbs/import?name=bank&replace=true&wait=true", content=archive.read_bytes(),
                   headers={**AUTH, "Content-Type": "application/zip"})
        assert deleted == [True], "the KB was never deleted: the test did not reach the case it is about"
        assert r.status_code == 404, r.text
        error = r.json()["error"]
        assert error["code"] == "job_not_found", r.text
        assert "no longer exists" in error["message"] and "'bank'" in error["message"], r.text
        job_id = re.match(r"no job '(\w+)'", error["message"]).group(1)
        # the same answer as the job's own route gives now
        got = c.get(f"/v1/jobs/{job_id}", headers=AUTH)
        assert got.status_code == 404 and got.json()["error"]["code"] == "job_not_found", got.text

        # the worker goes on, but puts nothing in place under the deleted KB's name and leaves no hidden copy
        _worker_done_with(svc, job_id)
        assert not manager.exists("bank"), "the deleted KB came back from the import whose job went with it"
        assert not (home / ".bank.importing").exists(), "the import's hidden copy was left behind"
        assert "bank" not in [k["name"] for k in c.get("/v1/kbs", headers=AUTH).json()]

        # an import nothing deletes meanwhile still answers with its result
        r = c.post("/v1/kbs/import?name=hospital&wait=true", content=archive.read_bytes(),
                   headers={**AUTH, "Content-Type": "application/zip"})
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "hospital" and r.json()["documents"] == 2, r.text
        assert manager.exists("hospital") and not (home / ".hospital.importing").exists()
