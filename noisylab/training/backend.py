"""Quiet backend start-up in worker processes.

TensorFlow prints a few C++ lines when it loads and when it first looks for a GPU, before its
logging is set up (so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them), on every CPU-only machine.
In a worker of a parallel executor they would tear through the parent's progress bar. This module
names those lines once (`BACKEND_CHATTER`, also used by the CLI) and filters them out of a worker's
standard error, passing every other line on. Standard library only.
"""

from __future__ import annotations

import os
import re
import sys
import threading

#: TensorFlow's start-up lines (see the module docstring).
BACKEND_CHATTER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog|I0000 |To enable the following "
    r"instructions:|E0000 .*failed call to cuInit)"
)


def filter_backend_chatter() -> None:
    """From now on, drop `BACKEND_CHATTER` lines from this process's stderr (file descriptor 2).

    A pipe replaces descriptor 2 and a daemon thread copies every other line to the original
    stderr as it arrives. Meant for worker processes, once, at start-up.
    """
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    original = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as source, os.fdopen(original, "wb", buffering=0) as sink:
            for line in source:
                if not BACKEND_CHATTER.match(line.decode("utf-8", errors="replace")):
                    sink.write(line)

    threading.Thread(target=pump, name="noisylab-stderr-filter", daemon=True).start()
