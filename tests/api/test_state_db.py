"""The service's state database on both backends, SQLite and a real PostgreSQL: migrations, keys,
jobs with their uploaded bytes, and the job runner's exactly-once file results."""
from __future__ import annotations

import pytest

from api.auth import KeyStore
from api.jobs.local import round_robin
from api.jobs.runner import FileOutcome, JobRunner, scratch_name
from api.jobs.store import CHUNK, Incoming, JobStore
from api.state.migrations import MIGRATIONS, migrate
from tests.api.state_dbs import BACKENDS, postgres, state_db  # noqa: F401  (postgres: the module's server)


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    yield from state_db(request, tmp_path, clear=("upload_chunks", "job_files", "jobs", "keys"))


def test_migrations_are_applied_once_and_recorded(db):
    assert db.one("SELECT version FROM schema_version")["version"] == len(MIGRATIONS)
    assert migrate(db) == len(MIGRATIONS)  # again: nothing to do
    assert len(db.query("SELECT version FROM schema_version")) == 1


def test_keys_round_trip(db):
    keys = KeyStore(db, "boot-admin")
    key, info = keys.create("bank", "write", "clerk")
    who = keys.authenticate(key)
    assert (who.key_id, who.kb, who.scope) == (info.id, "bank", "write")
    assert keys.authenticate("boot-admin").is_global_admin
    assert keys.revoke(info.id) and keys.authenticate(key) is None


def test_job_bytes_survive_and_results_are_recorded_once(db, tmp_path):
    jobs = JobStore(db)
    big = tmp_path / "big.bin"
    payload = bytes(range(256)) * (CHUNK // 256 * 2 + 7)  # over two chunks
    big.write_bytes(payload)
    small = tmp_path / "s.txt"
    small.write_text("银行卡挂失 card loss", encoding="utf-8")
    job_id = jobs.new_id()
    jobs.submit(job_id, "bank", [Incoming("report 2026 年报.pdf", big, len(payload)),
                                 Incoming("s.txt", small, small.stat().st_size)], {"dept": "retail"})
    assert b"".join(jobs.read_file(job_id, 0)) == payload
    seen = []

    def index_file(kb, filename, path, tags):
        seen.append((kb, filename, path.name, path.read_bytes()[:4], tags))
        return FileOutcome("indexed", "d" + str(len(seen)), 3)

    runner = JobRunner(jobs, index_file, scratch=tmp_path)
    runner.run(job_id)
    job = jobs.get(job_id)
    assert job.status == "done" and [f.status for f in job.files] == ["indexed", "indexed"]
    assert seen[0][:3] == ("bank", "report 2026 年报.pdf", "000.pdf") and seen[0][4] == {"dept": "retail"}
    assert db.one("SELECT count(*) AS n FROM upload_chunks")["n"] == 0  # bytes go once indexed
    jobs.record(job_id, 0, "failed", reason="a late duplicate")       # a re-run never overwrites a result
    assert jobs.get(job_id).files[0].status == "indexed"


def test_deleting_a_kb_takes_its_jobs_and_bytes(db, tmp_path):
    jobs = JobStore(db)
    f = tmp_path / "a.txt"
    f.write_text("x")
    a, b = jobs.new_id(), jobs.new_id()
    jobs.submit(a, "old", [Incoming("a.txt", f, 1)], {})
    jobs.submit(b, "other", [Incoming("a.txt", f, 1)], {})
    assert jobs.delete_kb("old") == 1
    assert jobs.get(a) is None and jobs.list("old") == [] and jobs.get(b) is not None
    assert db.one("SELECT count(*) AS n FROM upload_chunks WHERE job_id = ?", (a,))["n"] == 0
    runner = JobRunner(jobs, lambda *a: FileOutcome("indexed"), scratch=tmp_path)
    assert not runner.begin(a)  # a worker still holding the deleted job stops


def test_round_robin_across_kbs():
    todo = [("j1", "big"), ("j2", "big"), ("j3", "small"), ("j4", "third")]
    assert round_robin(todo, None) == ("j1", "big")
    assert round_robin(todo, "big") == ("j3", "small")
    assert round_robin(todo, "small") == ("j4", "third")
    assert round_robin(todo, "third") == ("j1", "big")


def test_scratch_names_never_carry_the_users_name():
    assert scratch_name(3, "../../etc/passwd") == "003"
    assert scratch_name(0, "é" * 150 + ".PDF") == "000.pdf"
    assert scratch_name(1, "a" * 300 + ".docx") == "001.docx"
