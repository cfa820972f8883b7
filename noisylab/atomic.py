"""Atomic file writes: a temp file in the same folder, flush + fsync, then `os.replace`.

A crash, SIGKILL or Ctrl-C never leaves half a file at the destination: a reader sees the old file
or the new one, and after the rename the folder is fsynced too, so the new name survives a power
cut. Every writer in noisylab goes through here: text, bytes, ``.npy``/``.npz`` arrays, figures
(as bytes) and h5py files (`atomic_path`). numpy is imported only by the array writers.

A write the system refuses (disk full, quota, permission, read-only file system, a missing
parent folder, I/O error) raises `WriteError`, a `NoisylabError` naming the path, after the
temporary file is removed: the destination is left as it was. `write_files` writes several files
as one: all or none.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from noisylab.errors import NoisylabError

#: Suffix of the temporary files; `remove_temp_files` sweeps up those a killed process left.
TMP_SUFFIX = ".tmp"


#: errnos that mean "the system refused the write" (not a bug, not the network).
WRITE_ERRNOS = frozenset(getattr(errno, name) for name in (
    "ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "ENOENT", "ENOTDIR", "EISDIR", "EIO",
    "EFBIG", "EMFILE", "ENFILE", "ENAMETOOLONG", "ELOOP", "EEXIST", "ETXTBSY", "EXDEV")
    if hasattr(errno, name))


class WriteError(NoisylabError):
    """A file could not be written: disk full, permission, read-only, no such folder."""


def write_error(path: str | os.PathLike, exc: OSError) -> WriteError:
    """The one-line `WriteError` for an `OSError` that refused writing ``path``."""
    return WriteError(f"cannot write {path}: {exc.strerror or exc}")


def _refused(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and not isinstance(exc, WriteError) \
        and exc.errno in WRITE_ERRNOS


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temp_next_to(path)
    except OSError as exc:
        raise write_error(path, exc) from None
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if _refused(exc):
            raise write_error(path, exc) from None
        raise
    _fsync_folder(path.parent)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file next to ``path`` for writing; on success fsync and move it into place.

    The parent folder must exist. On any exception the temporary file is removed.
    """
    path = Path(path)
    try:
        fd, tmp = _temp_next_to(path)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if _refused(exc):
            raise write_error(path, exc) from None
        raise
    _fsync_folder(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path."""
    with atomic_open(path) as fh:
        fh.write(data)
    return Path(path)


@contextlib.contextmanager
def created_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield ``path`` as a folder, created (with its parents) if absent; when the block raises,
    remove the folders this call created. A refusal to create it is a `WriteError`."""
    path = Path(path)
    if not str(path).strip():
        raise NoisylabError("the output folder must not be empty")
    if path.exists() and not path.is_dir():
        raise NoisylabError(f"output folder {path} exists and is not a folder")
    made: list[Path] = []
    probe = path
    while not probe.exists() and probe.parent != probe:
        made.append(probe)
        probe = probe.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        yield path
    except BaseException:
        for folder in made:                  # innermost first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def write_files(files: dict[str | os.PathLike, bytes]) -> list[Path]:
    """Write several files as one: every temporary file first, then all the renames.

    When any write is refused, every temporary file is removed and no destination changes
    (renames within a folder do not fail for want of space). Returns the paths, in order.
    """
    temps: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            path = Path(path)
            try:
                fd, tmp = _temp_next_to(path)
            except OSError as exc:
                raise write_error(path, exc) from None
            temps.append((tmp, path))
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                if _refused(exc):
                    raise write_error(path, exc) from None
                raise
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise
    for folder in {path.parent for _, path in temps}:
        _fsync_folder(folder)
    return [path for _, path in temps]


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
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            size = os.fstat(fd).st_size
            view = memoryview(text.encode("utf-8"))
            try:
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except BaseException:
                # A refused write leaves no torn line behind: cut back what got through.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)
    except OSError as exc:
        if _refused(exc):
            raise write_error(path, exc) from None
        raise
    return Path(path)


def remove_temp_files(folder: str | os.PathLike) -> int:
    """Delete temporary files left under ``folder`` by a killed writer; return how many."""
    count = 0
    for tmp in Path(folder).rglob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            count += 1
    return count
