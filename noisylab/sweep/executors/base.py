"""What every executor shares: the events and failures that cross process boundaries, the call
that runs one task inside a worker, and thread pinning.

A task is a picklable object with a ``key`` (the run id) and ``execute(context)``; an executor
yields, for each task, what ``execute`` returned or a `TaskFailure`, in the order they finish. It
passes the workers' events to the parent's ``on_event`` callback, in the parent's thread, and it
never writes a results file: the parent does (`noisylab.sweep.runner`).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)

#: Environment variables that size the math libraries' thread pools, read when they load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


@dataclass(frozen=True)
class TaskStarted:
    """A worker began the task ``key``; ``pid`` and ``host`` say which worker.

    A task that trains several runs (a pack) announces each of them with its run id as ``key``
    and its own key as ``task``.
    """

    key: str
    pid: int
    host: str
    task: str | None = None

    @property
    def task_key(self) -> str:
        """The key of the task that the worker runs."""
        return self.task or self.key


@dataclass(frozen=True)
class EpochEnded:
    """Epoch ``epoch`` (1-based) of the task ``key`` ended with these Keras logs."""

    key: str
    epoch: int
    logs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunDone:
    """One run of a task that trains several (a pack) finished: its outcome (a
    `noisylab.sweep.execute.RunOutcome` or a `TaskFailure`), for the parent to write now."""

    key: str
    outcome: Any


@dataclass(frozen=True)
class Note:
    """Something the user should know about the task ``key`` (e.g. a pack that was split)."""

    key: str
    text: str


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised, or whose worker died, instead of returning.

    Attributes
    ----------
    key : str
        The task's key (the run id).
    error_type : str
        The exception's class name, or ``WorkerDied`` when the worker process ended abruptly.
    message : str
        One line.
    traceback : str
        The formatted traceback, or what is known of the worker's death.
    """

    key: str
    error_type: str
    message: str
    traceback: str


class Task(Protocol):
    key: str

    def execute(self, context) -> Any:
        ...


class Executor(Protocol):
    """Runs tasks somewhere and yields their results as they finish (any order).

    ``settings()`` describes the executor for ``metadata.json``; ``share_features`` makes cached
    model features available to later tasks; ``close`` stops whatever the executor started.
    """

    name: str

    def run(self, tasks: Iterable[Task], *,
            on_event: Callable[[object], None]) -> Iterator[Any]:
        ...

    def share_features(self, key: str, features) -> None:
        ...

    def settings(self) -> dict[str, Any]:
        ...

    def close(self) -> None:
        ...


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def run_task(task: Task, context) -> Any:
    """Run ``task`` in this process: announce it, return its result or a `TaskFailure`.

    ``KeyboardInterrupt`` and ``SystemExit`` propagate; any other exception is returned as a
    failure, its traceback as text, so that nothing unpicklable crosses a process boundary.
    """
    context.emit(TaskStarted(task.key, os.getpid(), socket.gethostname()))
    try:
        return task.execute(context)
    except Exception as exc:  # noqa: BLE001 - one run's error must not stop the sweep
        return TaskFailure(task.key, type(exc).__name__, one_line(exc) or type(exc).__name__,
                           traceback.format_exc())


def pin_threads(threads: int | None) -> None:
    """Size this process's math thread pools to ``threads`` (None leaves the defaults).

    Effective when called before TensorFlow starts (a fresh worker); if TensorFlow already runs
    with other settings, a warning says so and the defaults stay.
    """
    if not threads:
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            if tf.config.threading.get_intra_op_parallelism_threads() != threads:
                logger.warning("TensorFlow already started in this process; its thread pools "
                               "keep their size (wanted %d threads)", threads)
