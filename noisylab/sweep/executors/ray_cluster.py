"""The ``ray`` executor: each run is a Ray task, on an existing cluster or a local one.

``address`` names a running cluster (``auto``, ``host:port``, ``ray://host:10001``); without it a
local Ray instance is started for the sweep (``ray.init`` with this machine's cores) and shut down
after it. The datasets are put into Ray's object store once and every task reads them from there
(zero-copy on the same node, fetched once per node otherwise). The results folder stays on the
machine that runs ``noisylab sweep``: tasks return outcomes and the parent writes them.

Resources per task come from ``num_cpus`` and ``num_gpus`` (a fraction such as 0.25 lets four runs
share one GPU; TensorFlow is then told to grow its GPU memory instead of taking it all). A task
whose worker process dies is retried once by Ray (``max_retries=1``), then recorded as failed. The
noisylab package that the parent runs is shipped to the workers (``runtime_env`` ``py_modules``),
so every node runs the same code; its dependencies (Keras, TensorFlow) must be installed there.
Ray is an optional extra: ``pip install -e ".[ray]"``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from noisylab.errors import NoisylabError
from noisylab.sweep.executors.base import TaskFailure, one_line, pin_threads, run_task

logger = logging.getLogger(__name__)

EXTRA_HINT = ('--executor ray needs the ray extra: pip install -e ".[ray]" '
              '(or pip install "ray[default]")')


def import_ray():
    """``import ray``, or a one-line `NoisylabError` naming the extra."""
    try:
        import ray
    except ImportError:
        raise NoisylabError(EXTRA_HINT) from None
    return ray


def _ray_task(task, make_context, datasets, feature_refs, events, threads):
    """The Ray task: build the context from the object store, then run the task."""
    import ray

    pin_threads(threads)
    features = {key: ray.get(ref) for key, ref in feature_refs.items()}
    context = make_context(events.put, datasets=datasets, features=features)
    return run_task(task, context)


class RayExecutor:
    """Runs tasks as Ray tasks; see the module docstring.

    Parameters
    ----------
    make_context : callable
        Picklable ``make_context(emit, *, datasets, features) -> context``.
    datasets : dict
        The sweep's loaded datasets, put into the object store once.
    address : str, optional
        An existing cluster; None starts a local one for the sweep.
    num_cpus, num_gpus : float
        Resources each task asks for.
    threads : int, optional
        Math threads per task (default: ``num_cpus``, at least 1).
    """

    name = "ray"

    def __init__(self, make_context: Callable, *, datasets: dict, address: str | None = None,
                 num_cpus: float = 1.0, num_gpus: float = 0.0, threads: int | None = None):
        ray = import_ray()
        from ray.util.queue import Queue

        import noisylab

        self.ray = ray
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.threads = threads or max(1, int(num_cpus))
        env = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        if num_gpus:
            env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        runtime_env = {"py_modules": [str(Path(noisylab.__file__).parent)], "env_vars": env}
        kwargs: dict[str, Any] = {"runtime_env": runtime_env, "log_to_driver": False,
                                  "configure_logging": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs.update(num_cpus=os.cpu_count(), include_dashboard=False)
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            raise NoisylabError(f"cannot reach the Ray cluster at {address}: {one_line(exc)}"
                                ) from None
        self.make_context = make_context
        self._datasets = ray.put(datasets)
        self._features: dict[str, Any] = {}
        self._events = Queue(actor_options={"num_cpus": 0})
        self._remote = ray.remote(_ray_task).options(
            num_cpus=num_cpus, num_gpus=num_gpus, max_retries=1, retry_exceptions=False)
        self._pending: dict[Any, Any] = {}

    def settings(self) -> dict[str, Any]:
        resources = self.ray.cluster_resources()
        return {"executor": self.name, "ray_address": self.address or "local",
                "num_cpus": self.num_cpus, "num_gpus": self.num_gpus,
                "threads_per_run": self.threads, "ray_version": self.ray.__version__,
                "cluster": {k: resources[k] for k in ("CPU", "GPU") if k in resources}}

    def share_features(self, key: str, features) -> None:
        self._features[key] = self.ray.put(features)

    def _drain(self, on_event) -> None:
        while (n := self._events.qsize()) > 0:
            for event in self._events.get_nowait_batch(n):
                on_event(event)

    def run(self, tasks: Iterable, *, on_event: Callable[[object], None]) -> Iterator[Any]:
        ray = self.ray
        features = dict(self._features)
        self._pending = {
            self._remote.remote(task, self.make_context, self._datasets, features, self._events,
                                self.threads): task
            for task in tasks}
        while self._pending:
            ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=0.2)
            self._drain(on_event)
            for ref in ready:
                task = self._pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    died = isinstance(exc, (ray.exceptions.WorkerCrashedError,
                                            ray.exceptions.NodeDiedError,
                                            ray.exceptions.OutOfMemoryError))
                    result = TaskFailure(task.key, "WorkerDied" if died else type(exc).__name__,
                                         one_line(exc), str(exc))
                yield result
        self._drain(on_event)

    def close(self) -> None:
        """Cancel what is still pending; shut a local cluster down, or disconnect."""
        for ref in list(self._pending):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - best effort on the way out
                logger.debug("could not cancel a Ray task", exc_info=True)
        self._pending = {}
        self.ray.shutdown()
