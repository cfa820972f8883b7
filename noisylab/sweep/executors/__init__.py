"""Executors: how the runs of a sweep are spread over processes or machines.

An executor takes picklable tasks (`noisylab.sweep.tasks`) and yields their outcomes, or a
`TaskFailure`, as they finish, in any order; the parent writes each one as it arrives. Three are
registered in `EXECUTORS` by the name ``--executor`` takes:

- ``sequential`` (`sequential.SequentialExecutor`): in this process, one run after the other;
- ``process`` (`process.ProcessExecutor`): a pool of worker processes on this machine;
- ``ray`` (`ray_cluster.RayExecutor`): Ray tasks on a cluster (the optional ``ray`` extra).

A new executor is one module with a class that has ``run``, ``share_features``, ``settings`` and
``close`` (see `base.Executor`), plus one entry here: a builder from the sweep's
`noisylab.config.ExecutorOptions`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from noisylab.config import ExecutorOptions
from noisylab.sweep.executors.base import (
    EpochEnded,
    Executor,
    Note,
    RunDone,
    TaskFailure,
    TaskStarted,
    run_task,
)
from noisylab.sweep.executors.sequential import SequentialExecutor


def _sequential(options: ExecutorOptions, *, make_context, datasets, threads):
    return SequentialExecutor(make_context, datasets=datasets, threads=threads)


def default_workers() -> int:
    """Workers of the process executor when ``--workers`` is not given: one per core."""
    return os.cpu_count() or 1


def _process(options: ExecutorOptions, *, make_context, datasets, threads):
    from noisylab.sweep.executors.process import ProcessExecutor

    return ProcessExecutor(make_context, workers=options.workers or default_workers(),
                           max_tasks_per_worker=options.max_runs_per_worker, threads=threads)


def _ray(options: ExecutorOptions, *, make_context, datasets, threads):
    from noisylab.sweep.executors.ray_cluster import RayExecutor

    return RayExecutor(make_context, datasets=datasets, address=options.ray_address,
                       num_cpus=options.num_cpus, num_gpus=options.num_gpus, threads=threads)


#: Executor builders by name: ``builder(options, *, make_context, datasets, threads)``.
EXECUTORS: dict[str, Callable[..., Any]] = {
    "sequential": _sequential,
    "process": _process,
    "ray": _ray,
}


def make_executor(options: ExecutorOptions, *, make_context: Callable, datasets: dict,
                  deterministic: bool = False) -> Executor:
    """Build the executor that ``options.kind`` names.

    Parameters
    ----------
    options : ExecutorOptions
    make_context : callable
        Picklable ``make_context(emit, *, datasets=None, features=None)`` that builds a worker's
        context (`noisylab.sweep.tasks.WorkerContext`).
    datasets : dict
        The datasets the plan loaded (used in-process, or shipped by the Ray executor).
    deterministic : bool
        Pin every run to one math thread whatever the executor, so that results do not depend
        on the executor or the number of cores (TensorFlow's reductions split by thread).
    """
    threads = 1 if deterministic else None
    return EXECUTORS[options.kind](options, make_context=make_context, datasets=datasets,
                                   threads=threads)


__all__ = ["EXECUTORS", "EpochEnded", "Executor", "Note", "RunDone", "SequentialExecutor",
           "TaskFailure", "TaskStarted", "default_workers", "make_executor", "run_task"]
