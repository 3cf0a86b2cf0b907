"""An upload job's file that meets a full disk under RAG_HOME (a real small tmpfs; the state database
elsewhere, as with PostgreSQL, so the file's result could be recorded) is not failed for it: it stays
pending, its reason says it waits for disk space, its uploaded bytes are kept, and it is indexed by the
job's next try once space is freed. English and Chinese files; the KB's folder full, or the scratch
folder the bytes are copied to first. And a KB writer that could not open on the full disk does not keep
the KB's lock (the job's next try would wait on it for ten minutes, then fail)."""
from __future__ import annotations

import errno

import pytest

from api.jobs.indexing import index_upload
from api.jobs.runner import JobRunner
from api.jobs.store import Incoming, JobStore
from api.state.migrations import migrate
from api.state.sqlite import SQLiteDatabase
from indexer.config import IndexerSettings
from indexer.kbs import KBManager
from indexer.store.local.snapshot import IndexParams
from indexer.store.local.store import LocalStore

FILES = {"hours.txt": "Visiting hours are 2 pm to 8 pm every day. " * 20,
         "探视.txt": "探视时间为每天下午两点到晚上八点。" * 20}


def _submitted(tmp_path, files: dict[str, str]) -> tuple[SQLiteDatabase, JobStore]:
    """The service's database under tmp_path and its job store, holding upload job "job_1" of `files` (name: text)
    for KB "kb"."""
    db = SQLiteDatabase(tmp_path / "service.sqlite")
    migrate(db)
    jobs = JobStore(db)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    incoming = []
    for name, text in files.items():
        (uploads / name).write_text(text, encoding="utf-8")
        incoming.append(Incoming(name, uploads / name, len(text.encode())))
    jobs.submit("job_1", "kb", incoming, {})
    return db, jobs


def _fill(folder):
    """Take every free byte of the disk under `folder`; the file that holds them."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:  # unbuffered: nothing left to flush on close
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    return filler


def test_a_writer_that_could_not_open_on_a_full_disk_leaves_the_kb_unlocked(small_tmpfs):
    folder = small_tmpfs("1m") / "kb"
    LocalStore(folder, IndexParams(dim=4), writable=True, embed_model="minilm").close()
    filler = _fill(folder.parent)
    with pytest.raises(Exception) as failed:
        LocalStore(folder, writable=True, lock_timeout=1)
    assert "disk" in str(failed.value), failed.value
    filler.unlink()
    store = LocalStore(folder, writable=True, lock_timeout=1)  # not KBLockedError: the lock went with the failure
    store.close()


@pytest.mark.slow  # ~10 s: a tmpfs mounted and filled, the KB written twice
@pytest.mark.parametrize("scratch_on_full_disk", [False, True], ids=["kb-folder", "scratch-folder"])
def test_a_file_that_met_a_full_disk_waits_for_space_and_is_indexed_after(small_tmpfs, tmp_path, minilm,
                                                                          scratch_on_full_disk):
    home = small_tmpfs("4m")
    manager = KBManager(IndexerSettings(home=home, embed_model="minilm"), encoders={"minilm": minilm})
    manager.open("kb", writable=True, create=True).close()
    db, jobs = _submitted(tmp_path, FILES)
    scratch = home / ".uploads" if scratch_on_full_disk else tmp_path / "scratch"
    scratch.mkdir()
    runner = JobRunner(jobs, lambda kb, name, path, tags: index_upload(manager, kb, name, path, tags),
                       scratch=scratch)
    filler = _fill(home)

    seen = []

    def pause(seconds: float) -> None:  # the job's wait before its next try: look at it, then free space
        job = jobs.get("job_1")
        seen.append((job.status, [(f.filename, f.status, f.reason) for f in job.files], seconds))
        assert sum(len(b) for b in jobs.read_file("job_1", 0)) == len(FILES["hours.txt"].encode())  # the bytes are kept
        filler.unlink()

    runner.run("job_1", pause=pause)

    assert len(seen) == 1, seen
    status, files, seconds = seen[0]
    assert status == "running" and seconds > 0
    (first, first_status, why), (second, second_status, _) = files
    assert (first, first_status, second, second_status) == ("hours.txt", "pending", "探视.txt", "pending")
    assert "disk" in why and "free space" in why.lower() and "indexed once" in why, why
    done = jobs.get("job_1")
    assert done.status == "done", done
    assert [(f.filename, f.status, f.reason) for f in done.files] == [("hours.txt", "indexed", ""),
                                                                      ("探视.txt", "indexed", "")]
    assert done.attempts == 1  # waiting for space is not a worker that died
    store = manager.open("kb")
    try:
        assert sorted(d.source for d in store.documents()) == ["hours.txt", "探视.txt"]
    finally:
        store.close()
