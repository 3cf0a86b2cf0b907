"""A file goes into a zip being written only when its bytes hash as expected (indexer.archive.checked_copy): a
damaged one (first, between others, last) is never begun in the archive, which zipfile could not take back with its
public calls, and the zip written on after it reads back whole. English and Chinese member names."""
from __future__ import annotations

import hashlib
import os
import zipfile

import pytest

from indexer.archive.checked_copy import CheckedCopier

FILES = {"cards.md": "# Cards\n\nReport a lost card at once.\n" * 200,
         "挂失.txt": "银行卡丢失请立即挂失，补办每张收费5元。\n" * 200,
         "fees.md": "# Fees\n\nA replacement card costs 5 dollars.\n" * 200}


def open_files() -> dict[str, str]:
    """This process's open file descriptors: each one's number and what it is open on (an anonymous scratch file,
    O_TMPFILE, reads '<its folder>/#<inode> (deleted)': no name in the folder to look for)."""
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return fds


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("originals/" + name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


@pytest.mark.parametrize("damaged", list(FILES))
def test_a_damaged_file_is_never_begun_and_the_zip_written_on_reads_back(tmp_path, damaged):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    expected, before = {}, open_files()
    for name, text in FILES.items():
        (src / name).write_text(text, encoding="utf-8")
        expected[name] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    (src / damaged).write_bytes(bytes(b ^ 0x20 for b in (src / damaged).read_bytes()))  # same size, other bytes

    with zipfile.ZipFile(out / "a.zip", "w") as zf, CheckedCopier(out) as copier:
        added = {name: copier.add(zf, _info(name), src / name, expected[name]) for name in FILES}
        with pytest.raises(FileNotFoundError):  # a copy gone meanwhile: the zip is left as it was too
            copier.add(zf, _info("gone.md"), src / "gone.md", "0" * 64)
        zf.writestr("manifest.json", "{}")
    assert os.listdir(out) == ["a.zip"]  # the scratch left nothing beside the archive
    left_open = {fd: target for fd, target in open_files().items() if before.get(fd) != target}
    assert not left_open, left_open  # and is closed with the block (anonymous: no name to look for)

    assert added[damaged] is None
    good = [n for n in FILES if n != damaged]
    assert all(added[n].sha256 == expected[n] and added[n].size == len(FILES[n].encode("utf-8")) for n in good)
    with zipfile.ZipFile(out / "a.zip") as z:
        assert z.testzip() is None
        assert z.namelist() == [*("originals/" + n for n in good), "manifest.json"]
        assert all(z.read("originals/" + n).decode("utf-8") == FILES[n] for n in good)


def test_add_outside_its_block_says_so(tmp_path):
    (tmp_path / "a.md").write_text("x")
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        with pytest.raises(RuntimeError, match="outside its `with` block"):
            CheckedCopier(tmp_path).add(zf, _info("a.md"), tmp_path / "a.md", "0" * 64)
