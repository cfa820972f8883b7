"""Executors: how the runs of a sweep are spread over processes or machines.

An executor maps a function over the runs and yields the results as they finish, in any order;
the sweep writes each result as it arrives. `SequentialExecutor` runs them here, one after the
other. A new executor is one class with a ``map`` method, registered in `EXECUTORS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs a function over items and yields the results as they finish (any order)."""

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        ...


class SequentialExecutor:
    """Runs each item in this process, one after the other, in order."""

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)


#: Executors by name.
EXECUTORS: dict[str, type] = {"sequential": SequentialExecutor}
