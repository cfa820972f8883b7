"""The ``sequential`` executor: every task in this process, one after the other, in order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from noisylab.sweep.executors.base import pin_threads, run_task


class SequentialExecutor:
    """Runs tasks here, in order; events reach ``on_event`` as they happen.

    Parameters
    ----------
    make_context : callable
        ``make_context(emit, datasets=...) -> context``.
    datasets : dict, optional
        The datasets the plan loaded (not loaded again).
    threads : int, optional
        Math threads for this process (None: the backend's default, every core).
    """

    name = "sequential"

    def __init__(self, make_context: Callable, *, datasets: dict | None = None,
                 threads: int | None = None):
        self.threads = threads
        self._on_event: Callable[[object], None] = lambda event: None
        self.context = make_context(lambda event: self._on_event(event), datasets=datasets)

    def settings(self) -> dict[str, Any]:
        return {"executor": self.name, "threads_per_run": self.threads or "default"}

    def share_features(self, key: str, features) -> None:
        self.context.add_features(key, features)

    def run(self, tasks: Iterable, *, on_event: Callable[[object], None]) -> Iterator[Any]:
        pin_threads(self.threads)
        self._on_event = on_event
        for task in tasks:
            yield run_task(task, self.context)

    def close(self) -> None:
        """Nothing to stop."""
