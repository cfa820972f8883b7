"""Atomic writes: the destination holds the old file or the new one, never half, and no temp file
is left behind, whatever interrupts the writer."""

from __future__ import annotations

import os
import stat

import pytest

from noisylab.atomic import atomic_open, atomic_path, remove_temp_files, write_bytes, write_text


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_atomic_path_cleans_up(tmp_path, exc):
    target = tmp_path / "x.h5"
    target.write_text("old")
    with pytest.raises(exc), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise exc
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.h5"]


def test_atomic_path_creates_folder_and_replaces(tmp_path):
    target = tmp_path / "sub" / "x.bin"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and len(list(target.parent.iterdir())) == 1


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_atomic_open_leaves_no_temp_on_failure(tmp_path, exc):
    target = tmp_path / "f.txt"
    write_text(target, "old")
    with pytest.raises(exc), atomic_open(target) as fh:
        fh.write(b"ne")
        raise exc
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_failed_replace_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    write_text(target, "old")

    def boom(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_text(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_written_file_has_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        path = write_bytes(tmp_path / "f.bin", b"\x00\x01")
    finally:
        os.umask(mask)
    assert path.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_remove_temp_files(tmp_path):
    (tmp_path / "runs" / "x").mkdir(parents=True)
    (tmp_path / "runs" / "x" / ".noise.npz.abc.tmp").write_text("half")
    (tmp_path / "keep.csv").write_text("x")
    assert remove_temp_files(tmp_path) == 1
    assert (tmp_path / "keep.csv").exists()
