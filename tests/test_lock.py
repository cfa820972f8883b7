"""The folder lock: one holder at a time, named in the refusal, gone when the holder dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from noisylab.errors import NoisylabError
from noisylab.lock import FolderLock


def test_second_lock_is_refused_naming_the_holder_then_accepted(tmp_path):
    folder = tmp_path / "res"
    with FolderLock(folder):
        assert (folder / ".lock").read_text().startswith(
            f"pid {os.getpid()} on host {socket.gethostname()}, since ")
        with pytest.raises(NoisylabError, match=rf"^{folder} is in use by another noisylab sweep "
                           rf"\(pid {os.getpid()} on host {socket.gethostname()}, since .*\); "
                           "wait for it to end or use another --out$"):
            FolderLock(folder).acquire()
    with FolderLock(folder):   # released on exit
        pass


HOLD = """
import sys, time
from noisylab.lock import FolderLock
lock = FolderLock(sys.argv[1])
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_the_lock_disappears_when_its_holder_is_killed(tmp_path):
    folder = tmp_path / "res"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(NoisylabError, match=rf"\(pid {holder.pid} on host "):
            FolderLock(folder).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with FolderLock(folder):   # no stale lock: the kernel dropped it with the process
        assert f"pid {os.getpid()} " in (folder / ".lock").read_text()
