"""One writer per folder: an OS file lock (``flock``) on ``<folder>/.lock``.

The lock belongs to an open file, not to the file's existence: the kernel drops it when the holder
exits or dies (SIGKILL, the OOM killer), so there is never a stale lock to delete by hand. The
holder writes its pid, host and start time into the file, only so that a refused process can name
it. (On NFS, Linux maps ``flock`` onto byte-range locks, which work across hosts with NFSv4.)
POSIX only (``fcntl``); standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from noisylab.errors import NoisylabError

LOCK_NAME = ".lock"


class FolderLock:
    """An exclusive, non-blocking lock on a folder; a context manager.

    Parameters
    ----------
    folder : path-like
        The results folder; created if absent (the lock file must live in it).

    Raises
    ------
    NoisylabError
        On entry, when another process holds the lock: names its pid and host.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise `NoisylabError` naming the holder; never waits."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", errors="replace").strip()
            os.close(fd)
            raise NoisylabError(
                f"{self.folder} is in use by another noisylab sweep "
                f"({holder or 'holder unknown'}); wait for it to end or use another --out"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        holder = f"pid {os.getpid()} on host {socket.gethostname()}, since {started}\n"
        # Only so that a refused process can name the holder: a full disk must not stop us.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.encode("utf-8"), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays: its existence means nothing)."""
        if self._fd is not None:
            os.close(self._fd)   # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
