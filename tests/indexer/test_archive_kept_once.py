"""An export reads each kept upload once (indexer.archive.kept_files): hashed as it is copied into the archive, and
a copy that no longer matches its name (damaged in place, its size and mtime as recorded) is never begun in the zip
(staged while hashed: indexer.archive.checked_copy, in an anonymous scratch file closed with the export) and
reported; the archive, written on after it, imports whole. Real uploads (English and Chinese), the real MiniLM
model, the local store."""
from __future__ import annotations

import builtins
import os
import warnings
import zipfile

import pytest

from indexer.archive import format as F
from indexer.archive.export import export_kb
from indexer.archive.import_ import import_archive
from indexer.originals import Originals
from tests.api.test_kept_uploads import _sha, _upload_all
from tests.indexer.test_checked_copy import open_files
from tests.indexer.test_reparse import _files

NAMES = ("cards.md", "挂失.txt")


def _export(manager, out, monkeypatch):
    """KB 't' exported with its kept uploads: the report, and how often each kept copy was opened meanwhile."""
    folder = manager.home / "t" / "originals"
    opened: list[str] = []
    real_open = builtins.open

    def counting(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.path.dirname(os.fspath(file)) == os.fspath(folder):
            opened.append(os.path.basename(os.fspath(file)))
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", counting)
    store = manager.open("t")
    try:
        return export_kb(store, "t", out, manager.settings.chunk.model_dump(), progress=False,
                         originals=Originals.of(manager.settings, "t")), opened
    finally:
        store.close()
        monkeypatch.setattr(builtins, "open", real_open)


@pytest.mark.parametrize("damaged", NAMES)
def test_each_kept_upload_is_read_once_and_a_damaged_one_is_left_out_of_a_sound_archive(
        manager, tmp_path, monkeypatch, damaged):
    docs = _files(tmp_path)
    _upload_all(manager, docs)
    kept = {n: manager.home / "t" / "originals" / (_sha(docs / n) + os.path.splitext(n)[1]) for n in NAMES}
    members = {n: F.ORIGINALS + p.name for n, p in kept.items()}

    rep, opened = _export(manager, tmp_path / "good.zip", monkeypatch)
    assert (rep.files.originals, rep.files.damaged) == (2, []) and sorted(opened) == sorted(p.name for p in kept.values())
    with zipfile.ZipFile(tmp_path / "good.zip") as z:
        assert {n: z.read(members[n]) for n in NAMES} == {n: (docs / n).read_bytes() for n in NAMES}

    bad = kept[damaged]
    st = bad.stat()  # other bytes of the same size and mtime: its record trusts it, the export's hash does not
    bad.write_bytes(bytes(b ^ 0x20 for b in bad.read_bytes()))
    os.utime(bad, ns=(st.st_atime_ns, st.st_mtime_ns))
    folder = tmp_path / "export"
    before = open_files()
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", ResourceWarning)
        rep, opened = _export(manager, folder / "damaged.zip", monkeypatch)
    left_open = {fd: target for fd, target in open_files().items() if before.get(fd) != target}
    assert not left_open, left_open  # the export's scratch files are closed with it, the anonymous one too
    unclosed = [str(w.message) for w in warned if issubclass(w.category, ResourceWarning)]
    assert not unclosed, unclosed  # by the export, not left to the garbage collector
    assert os.listdir(folder) == ["damaged.zip"]  # and none is left in its folder
    good = next(n for n in NAMES if n != damaged)
    assert rep.files.damaged == [damaged] and (rep.files.originals, rep.files.originals_bytes) == (
        1, (docs / good).stat().st_size)
    assert sorted(opened) == sorted(p.name for p in kept.values())  # once each, the damaged one too
    with zipfile.ZipFile(folder / "damaged.zip") as z:
        assert z.testzip() is None and members[damaged] not in z.namelist()
        assert sorted(z.namelist()) == sorted([*F.MEMBERS, members[good]])
        assert z.read(members[good]) == (docs / good).read_bytes()
    assert set(rep.manifest.members) == {F.DOCUMENTS, F.VECTORS, members[good]}

    out = import_archive(manager, folder / "damaged.zip", "copy", progress=False)  # every checksum checked again
    assert (out.files.originals, out.files.not_kept) == (1, 0)
    store = manager.open("copy")
    try:
        by_source = {d.source: d for d in store.documents()}
    finally:
        store.close()
    copy = Originals.of(manager.settings, "copy")
    assert copy.path_for(by_source[good]).read_bytes() == (docs / good).read_bytes()
    assert copy.path_for(by_source[damaged]) is None  # listed as not kept: upload it again
