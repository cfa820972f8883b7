"""The ``process`` executor: a pool of worker processes on this machine.

`concurrent.futures.ProcessPoolExecutor` with a ``spawn`` context (no fork of a process that holds
TensorFlow threads) and ``max_tasks_per_child`` (a worker is replaced after that many runs, which
gives back what TensorFlow accumulates per trained model). Each worker pins its math libraries to
``cores // workers`` threads before TensorFlow is imported, loads the datasets once, and sends
events through a `multiprocessing.Manager` queue (a killed worker cannot leave it locked).

A worker that dies (SIGKILL, the OOM killer) breaks the whole pool: the parent starts a new one,
charges the run that the dead worker was running, retries it once, and records it as failed the
second time; runs that were only interrupted because the pool broke are resubmitted free.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue as queue_module
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.managers import SyncManager
from typing import Any

from noisylab.errors import NoisylabError
from noisylab.sweep.executors.base import TaskFailure, TaskStarted, pin_threads, run_task
from noisylab.training.backend import filter_backend_chatter

logger = logging.getLogger(__name__)

#: How many times a run whose worker died is tried in all.
ATTEMPTS = 2

_WORKER: dict[str, Any] = {}


def _exit_with_parent() -> None:
    """End this process when its parent ends, even by SIGKILL (no orphan keeps its memory)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="noisylab-parent-watch", daemon=True).start()


def _init_worker(make_context: Callable, events, threads: int | None) -> None:
    # Ctrl-C reaches every process of the terminal's group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    filter_backend_chatter()
    pin_threads(threads)
    # Several workers may share one GPU: let each grow its memory instead of taking it all.
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    _WORKER["context"] = make_context(events.put)


def _call(task):
    return run_task(task, _WORKER["context"])


class ProcessExecutor:
    """Runs tasks in ``workers`` processes; see the module docstring.

    Parameters
    ----------
    make_context : callable
        Picklable ``make_context(emit) -> context``, called once in each worker (it loads the
        datasets there).
    workers : int
    max_tasks_per_worker : int
        Tasks a worker runs before it is replaced.
    threads : int, optional
        Intra-op threads per worker (default ``cpu_count // workers``, at least 1).
    """

    name = "process"

    def __init__(self, make_context: Callable, *, workers: int, max_tasks_per_worker: int,
                 threads: int | None = None):
        self.make_context = make_context
        self.workers = workers
        self.max_tasks = max_tasks_per_worker
        self.threads = threads or max(1, (os.cpu_count() or 1) // workers)
        self._ctx = multiprocessing.get_context("spawn")
        self._manager: SyncManager | None = None
        self._events = None
        self._pool: ProcessPoolExecutor | None = None
        self._processes: dict[int, Any] = {}

    def settings(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers,
                "max_runs_per_worker": self.max_tasks, "threads_per_run": self.threads}

    def share_features(self, key, features) -> None:
        """Nothing to do: workers read the feature cache the parent wrote."""

    # -- the pool -----------------------------------------------------------------------------

    def _start(self) -> None:
        if self._manager is None:
            manager = SyncManager(ctx=self._ctx)
            # Kept only once started: a failed start must not leave close() a manager to stop.
            manager.start(initializer=_exit_with_parent)
            self._manager, self._events = manager, manager.Queue()
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=self._ctx, initializer=_init_worker,
                initargs=(self.make_context, self._events, self.threads),
                max_tasks_per_child=self.max_tasks)
            self._processes = {}

    def _remember_processes(self) -> None:
        # The pool forgets a worker once it is gone; keep each Process to read its exit code.
        self._processes.update(getattr(self._pool, "_processes", None) or {})

    def _stop_pool(self, *, kill: bool) -> dict[int, int | None]:
        """Shut the pool down (terminating its workers when ``kill``); exit codes by pid."""
        if self._pool is None:
            return {}
        self._remember_processes()
        pool, self._pool = self._pool, None
        if kill:
            for proc in list(self._processes.values()):
                if proc.is_alive():
                    proc.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        return {pid: proc.exitcode for pid, proc in self._processes.items()}

    def close(self) -> None:
        """Stop the workers (terminating any still running) and the event queue's server."""
        self._stop_pool(kill=True)
        if self._manager is not None:
            self._manager.shutdown()
            self._manager = None

    # -- running ------------------------------------------------------------------------------

    def _drain(self, on_event, running: dict[int, str]) -> None:
        while True:
            try:
                event = self._events.get_nowait()
            except queue_module.Empty:
                return
            if isinstance(event, TaskStarted):
                running[event.pid] = event.task_key
            on_event(event)

    def run(self, tasks: Iterable, *, on_event: Callable[[object], None]) -> Iterator[Any]:
        todo = collections.deque(tasks)
        deaths: collections.Counter[str] = collections.Counter()
        running: dict[int, str] = {}   # worker pid -> key of the task it started last
        fruitless = 0                   # broken pools in a row in which no task even started
        while todo:
            self._start()
            inflight: dict[Any, Any] = {}
            broken = False
            # At most one task per worker in flight, so that every submitted task is running.
            while (todo or inflight) and not broken:
                while todo and len(inflight) < self.workers and not broken:
                    task = todo[0]
                    try:
                        inflight[self._pool.submit(_call, task)] = task
                    except BrokenProcessPool:   # a worker died since the last wait
                        broken = True
                        continue
                    todo.popleft()
                if broken:
                    break
                self._remember_processes()
                done, _ = wait(inflight, timeout=0.2, return_when=FIRST_COMPLETED)
                self._drain(on_event, running)
                for future in done:
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    del inflight[future]
                    fruitless = 0
                    yield result
            if not broken:
                return
            exit_codes = self._stop_pool(kill=True)
            self._drain(on_event, running)
            for future in [f for f in inflight
                           if f.done() and not f.cancelled() and f.exception() is None]:
                yield future.result()        # finished before the pool broke: keep it
                del inflight[future]
            started = {t.key for t in inflight.values()} & set(running.values())
            # The pool terminates the survivors with SIGTERM; the dead one ended otherwise.
            dead = [pid for pid, code in exit_codes.items()
                    if code not in (None, 0, -signal.SIGTERM)]
            culprits = ({running.get(pid) for pid in dead} & started) if dead else started
            if not started:
                fruitless += 1
                if fruitless > ATTEMPTS:
                    raise NoisylabError("the worker processes die before they start a run; "
                                        "see the errors printed above")
            how = ", ".join(_describe_exit(exit_codes[pid]) for pid in dead) or "unknown cause"
            retry = []
            for task in inflight.values():
                if task.key in culprits:
                    deaths[task.key] += 1
                    if deaths[task.key] >= ATTEMPTS:
                        yield TaskFailure(
                            task.key, "WorkerDied",
                            f"its worker process died {deaths[task.key]} times ({how})",
                            f"the worker process died while running {task.key}: {how}\n")
                        continue
                    logger.warning("a worker died (%s) running %s; retrying it", how, task.key)
                retry.append(task)
            todo.extendleft(reversed(retry))


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
