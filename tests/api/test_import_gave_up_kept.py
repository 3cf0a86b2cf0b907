"""An import job that failed because its worker died during it too often (api.jobs.runner.MAX_ATTEMPTS: an archive
too large for the worker's memory, killed each time) removes the uploads it kept for a KB that never took the name
(cluster mode, api.state.kept_uploads). The runner fails such a job before any step of it runs, so the importer never
saw the failure: the rows stayed in PostgreSQL, holding its space and counting in the name's originals_max_mb, until
some later import happened to fail. A KB that took the name keeps them (its import stopped after that).

The service's own job runner (api.service.Service, as a replica that indexes builds it) on real PostgreSQL; the
worker's deaths are the attempts the job store counts as each worker takes the job; English and Chinese uploads."""
from __future__ import annotations

from api.jobs.importing import ImportOptions
from api.jobs.runner import MAX_ATTEMPTS
from api.jobs.store import Incoming
from api.state.kept_uploads import DatabaseOriginals
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_import_kept_cleanup import _chunks, _db, _kept
from tests.api.test_kept_uploads import _sha
from tests.lost_cards import write_files


def _import_kept_then_died(svc, kb: str, archive, uploads) -> str:
    """An import job into `kb` that kept `uploads` under the name, its worker then dying MAX_ATTEMPTS times."""
    job_id = svc.jobs.new_id()
    svc.jobs.submit(job_id, kb, [Incoming("kb.zip", archive, archive.stat().st_size)], {}, kind="import",
                    options=ImportOptions(name=kb).model_dump_json())
    for path in uploads:
        assert DatabaseOriginals(svc.db, kb, scratch=archive.parent, job=job_id).keep(path, path.name).kept
    for _ in range(MAX_ATTEMPTS):
        assert svc.jobs.start(job_id)  # a worker took the job, and died in it
    return job_id


def test_an_import_given_up_after_its_worker_died_removes_the_uploads_it_kept(postgres, tmp_path):  # noqa: F811
    from api.config import ServiceSettings
    from api.service import Service
    from rag.config import Settings

    _db(postgres, tmp_path).close()  # the module's server, emptied
    docs = write_files(tmp_path / "docs")
    uploads = [docs / "cards.md", docs / "挂失.txt"]
    archive = tmp_path / "kb.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))  # never read: the job fails before any step runs
    svc = Service(Settings.load(indexer={"home": str(tmp_path / "home"), "embed_model": "minilm"}),
                  ServiceSettings(admin_key="k", database_url=postgres.url, indexing=False))
    try:
        gone = _import_kept_then_died(svc, "gone", archive, uploads)
        svc.manager.open("there", writable=True, create=True).close()  # the KB took the name before it died
        there = _import_kept_then_died(svc, "there", archive, uploads)
        for job_id in (gone, there):
            svc.runner.run(job_id)
            job = svc.jobs.get(job_id)
            assert job.status == "failed" and "gave up after 3 attempts" in job.error, (job.status, job.error)

        assert _kept(svc.db, "gone") == {} and _chunks(svc.db, "gone") == set()
        names = {_sha(docs / "cards.md") + ".md", _sha(docs / "挂失.txt") + ".txt"}
        assert set(_kept(svc.db, "there")) == names and _chunks(svc.db, "there") == names
    finally:
        svc.close()
