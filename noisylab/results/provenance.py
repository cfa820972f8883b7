"""How a result was made: package versions, the git commit and whether the checkout was dirty,
the Python, the platform and the host, for ``metadata.json``.

Internal to `noisylab.results`, which re-exports `environment`.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np


def _git(*args: str) -> str | None:
    """Output of a git command run in the package's checkout, or None outside a checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _git_commit() -> str:
    commit = (_git("rev-parse", "HEAD") or "").strip()
    return commit or "unknown"


def _git_dirty() -> bool | None:
    """Whether tracked files differ from the commit (results then match no commit exactly)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status.strip())


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def environment(*, device: str = "unknown") -> dict[str, Any]:
    """What produced the results: versions, git commit, device, host and start time.

    Reads versions from package metadata, so it never imports TensorFlow; the caller passes the
    device it knows of.
    """
    from noisylab import __version__

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return {
        "noisylab_version": __version__,
        "git_commit": _git_commit(),
        "git_dirty": _git_dirty(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": _version("keras"),
        "backend": backend,
        "backend_version": _version(backend if backend != "torch" else "torch"),
        "tensorflow": _version("tensorflow"),
        "device": device,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "start_time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
