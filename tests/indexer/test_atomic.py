"""Atomic file writes: the target holds the old content or the new, never part of one."""
import numpy as np
import pytest

from indexer.atomic import atomic_target, remove_stale, temp_name, write_lines, write_text


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "spec.json"
    write_text(target, "old")
    write_text(target, "新的")
    assert target.read_text(encoding="utf-8") == "新的"
    write_lines(target, (f"row {i}" for i in range(3)))
    assert target.read_text().splitlines() == ["row 0", "row 1", "row 2"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["spec.json"]


def test_an_interrupted_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "pairs.jsonl"
    write_text(target, "finished\n")

    def rows():
        yield "half"
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        write_lines(target, rows())
    assert target.read_text() == "finished\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pairs.jsonl"]


def test_the_temporary_name_keeps_the_suffix_for_writers_that_add_it(tmp_path):
    target = tmp_path / "vectors.npy"
    assert temp_name(target).suffix == ".npy" and temp_name(target).parent == tmp_path
    with atomic_target(target, sync=False) as tmp:
        np.save(tmp, np.arange(4))  # np.save appends .npy to a name without it
    assert np.load(target).tolist() == [0, 1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.npy"]


def test_temporaries_left_by_a_killed_writer_are_removed(tmp_path):
    target = tmp_path / "CURRENT"
    write_text(target, "snap-1")
    (tmp_path / ".CURRENT.4242.tmp").write_text("snap-")  # a writer killed between write and rename
    (tmp_path / ".other.4242.tmp").write_text("x")         # another file's: left alone
    assert remove_stale(target) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.4242.tmp", "CURRENT"]
