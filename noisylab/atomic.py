"""Atomic file writes: a temp file in the same folder, flush + fsync, then `os.replace`.

A crash, SIGKILL or Ctrl-C never leaves half a file at the destination: a reader sees the old file
or the new one, and after the rename the folder is fsynced too, so the new name survives a power
cut. Every writer in noisylab goes through here: text, bytes, ``.npy``/``.npz`` arrays, figures
(as bytes) and h5py files (`atomic_path`). numpy is imported only by the array writers.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: Suffix of the temporary files; `remove_temp_files` sweeps up those a killed process left.
TMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable; best effort (some file systems refuse to open folders)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temp_next_to(path: Path) -> tuple[int, Path]:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
    return fd, Path(tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync it and rename it onto ``path``.

    For writers that want a file name (h5py). On any exception, KeyboardInterrupt included, the
    temporary file is removed and ``path`` is left as it was. Creates the parent folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_next_to(path)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file next to ``path`` for writing; on success fsync and move it into place.

    The parent folder must exist. On any exception the temporary file is removed.
    """
    path = Path(path)
    fd, tmp = _temp_next_to(path)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_open(path) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return write_bytes(path, text.encode("utf-8"))


def atomic_save_npz(path: str | os.PathLike, **arrays) -> Path:
    """`numpy.savez` to ``path`` atomically (uncompressed, no pickled objects)."""
    import numpy as np

    with atomic_open(path) as fh:
        np.savez(fh, **arrays)
    return Path(path)


def atomic_save_npy(path: str | os.PathLike, array) -> Path:
    """`numpy.save` to ``path`` atomically, without pickling."""
    import numpy as np

    with atomic_open(path) as fh:
        np.save(fh, array, allow_pickle=False)
    return Path(path)


def append_text(path: str | os.PathLike, text: str) -> Path:
    """Append UTF-8 ``text`` to ``path`` in one write, then fsync.

    Not atomic like the writers above: a crash can leave part of ``text`` at the end of the file,
    and only there. Readers of such logs (`noisylab.csvlog`) detect and drop that torn tail.
    """
    with open(path, "ab") as fh:
        fh.write(text.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def remove_temp_files(folder: str | os.PathLike) -> int:
    """Delete temporary files left under ``folder`` by a killed writer; return how many."""
    count = 0
    for tmp in Path(folder).rglob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            count += 1
    return count
