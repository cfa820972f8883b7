"""Run a planned sweep: hand its runs to an executor and record each outcome as it arrives.

`run_sweep(plan)` takes the results folder's lock (one sweep per folder), creates the folder,
trains the clean feature models the runs need (a planned step, before those runs), then hands
one `noisylab.sweep.tasks.RunTask` per run to the executor the config names (sequential, process
or Ray). As each outcome arrives, in whatever order, the parent — and only the parent — writes
the run's files and then appends its ``runs.csv`` row through `noisylab.results.ResultsFolder`.
A run that raises, or whose worker dies twice, is recorded in ``failures.csv`` (with its
traceback in ``runs/<id>/error.txt``) and the sweep goes on; the next start retries it.

The trainer is injected (default `noisylab.training.loop.train_model`) so the bookkeeping can be
tested with a fast fake; Keras is imported only where a run trains.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from noisylab.results import read_runs
from noisylab.sweep.executors import (
    EpochEnded,
    Executor,
    Note,
    RunDone,
    TaskFailure,
    TaskStarted,
    make_executor,
)
from noisylab.sweep.features import has_cached_features, needs_model_features, write_cached_features
from noisylab.sweep.grid import Run
from noisylab.sweep.packing import (
    PackOutcome,
    PackTask,
    plan_tasks,
    select_backend,
    trainer_settings,
)
from noisylab.sweep.plan import SweepPlan
from noisylab.sweep.tasks import FeatureTask, WorkerContext, WorkerSetup

logger = logging.getLogger(__name__)


class Progress:
    """Receives progress events; every method is a no-op here. The CLI subclasses it.

    With a parallel executor, several runs are under way at once and finish in any order.
    """

    def sweep_started(self, *, total: int, skipped: int, folder: Path) -> None:
        """``total`` runs to do now, ``skipped`` already finished."""

    def note(self, text: str) -> None:
        """Something the user should know, e.g. a repaired ``runs.csv``."""

    def phase(self, text: str) -> None:
        """Work outside the runs, e.g. training the clean model for concentrated noise."""

    def run_started(self, run: Run, *, index: int, total: int, epochs: int) -> None:
        """Run number ``index`` (0-based, in start order) of ``total`` starts."""

    def epoch_end(self, run: Run, epoch: int, logs: dict) -> None:
        """``epoch`` (1-based) of ``run`` finished with Keras' ``logs``."""

    def run_finished(self, run: Run, row: dict) -> None:
        """``run`` finished and its ``runs.csv`` row is written."""

    def run_failed(self, run: Run, failure: TaskFailure) -> None:
        """``run`` failed; it is recorded in ``failures.csv`` and retried on the next start."""


@dataclass
class SweepResult:
    """Where the results are and what this call did.

    ``failed`` lists the run ids that failed in this call (recorded in ``failures_csv``).
    """

    folder: Path
    runs_csv: Path
    summary_csv: Path
    n_runs: int
    n_done: int
    n_skipped: int
    seconds: float
    work_seconds: float
    failed: list[str] = field(default_factory=list)
    failures_csv: Path | None = None


def _default_trainer() -> Callable:
    from noisylab.training.loop import train_model

    return train_model


def load_trainer() -> Callable:
    """The default trainer, loaded now: its framework starts here (the CLI hides its chatter).

    For runs in this process (the sequential executor); worker processes load it themselves.
    """
    return _default_trainer()


def device_name() -> str:
    """The device Keras trains on, in words, for metadata.json (never imports a framework)."""
    if "jax" in sys.modules and os.environ.get("KERAS_BACKEND") == "jax":
        try:
            import jax

            devices = jax.devices()
        except Exception:  # noqa: BLE001 - metadata must never stop a sweep
            return "unknown"
        kinds = sorted({f"{d.platform.upper()}: {d.device_kind}" for d in devices})
        return ", ".join(kinds) + f" ({len(devices)} device(s), {os.cpu_count()} cores)"
    if "tensorflow" not in sys.modules:   # never import TensorFlow just for the metadata
        return "unknown"
    try:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    except Exception:  # noqa: BLE001 - metadata must never stop a sweep
        return "unknown"
    if gpus:
        return "GPU: " + ", ".join(g.name for g in gpus)
    return f"CPU ({os.cpu_count()} cores)"


class _Dispatch:
    """Turns executor events into `Progress` calls (in the parent's thread)."""

    def __init__(self, progress: Progress, runs: dict[str, Run], total: int, epochs: int,
                 record: Callable[[object], None]):
        self.progress, self.runs, self.total, self.epochs = progress, runs, total, epochs
        self.record = record
        self.started = 0

    def __call__(self, event) -> None:
        if isinstance(event, Note):
            self.progress.note(event.text)
            return
        if isinstance(event, RunDone):
            self.record(event.outcome)
            return
        run = self.runs.get(getattr(event, "key", None))
        if run is None:
            return
        if isinstance(event, TaskStarted):
            self.progress.run_started(run, index=self.started, total=self.total,
                                      epochs=self.epochs)
            self.started += 1
        elif isinstance(event, EpochEnded):
            self.progress.epoch_end(run, event.epoch, event.logs)


def _feature_step(plan: SweepPlan, executor: Executor, progress: Progress,
                  runs: list[Run]) -> dict[str, TaskFailure]:
    """Train the clean feature models that ``runs`` need and are not cached; failures by key."""
    folder, config = plan.folder, plan.config
    tasks: dict[str, FeatureTask] = {}
    for run in runs:
        if needs_model_features(run, config):
            task = FeatureTask.for_run(run, config)
            if not has_cached_features(folder.cache_dir, task.key):
                tasks.setdefault(task.key, task)
    failed: dict[str, TaskFailure] = {}
    if not tasks:
        return failed
    progress.phase(f"training {len(tasks)} clean model(s) for model features")
    for result in executor.run(list(tasks.values()), on_event=lambda event: None):
        if isinstance(result, TaskFailure):
            failed[result.key] = result
            continue
        write_cached_features(folder.cache_dir, result.key, result.train, result.test)
        executor.share_features(result.key, (result.train, result.test))
    return failed


def run_sweep(plan: SweepPlan, *, trainer: Callable | None = None,
              executor: Executor | None = None, progress: Progress | None = None,
              feature_extract: Callable | None = None) -> SweepResult:
    """Run every unfinished run of a planned sweep and write its results folder.

    Parameters
    ----------
    plan : SweepPlan
        From `noisylab.sweep.plan.plan_sweep`, which has checked everything.
    trainer : callable, optional
        Same signature as `noisylab.training.loop.train_model` (the default, imported where the
        runs train). It must be picklable (a module-level function or a `functools.partial` of
        one) for the process and Ray executors.
    executor : Executor, optional
        Default: the one ``plan.config.executor`` names, built by
        `noisylab.sweep.executors.make_executor`.
    progress : Progress, optional
        Receives run/epoch events.
    feature_extract : callable, optional
        ``(model, images) -> (n, d) features`` for ``features: model`` (default: the model's
        penultimate layer).

    Returns
    -------
    SweepResult

    Raises
    ------
    NoisylabError
        When another sweep holds the folder (the message names its pid and host), the folder
        changed since the plan into another config's, or the executor cannot start (e.g. a Ray
        cluster that cannot be reached).
    """
    started = time.perf_counter()
    progress = progress or Progress()
    folder, config = plan.folder, plan.config
    setup = WorkerSetup(config=config, config_hash=plan.config_hash, data_dir=str(plan.data_dir),
                        cache_dir=str(folder.cache_dir.absolute()), trainer=trainer,
                        extract=feature_extract)
    if plan.trainer == "packed" and plan.todo:
        select_backend()      # before Keras loads here or in a worker
    own = executor is None and bool(plan.todo)
    if own:
        # Before the folder is touched: a Ray cluster that cannot be reached creates nothing.
        executor = make_executor(config.executor,
                                 make_context=functools.partial(WorkerContext, setup),
                                 datasets=plan.datasets, deterministic=config.train.deterministic)
    existed = folder.path.exists()
    entries = set(os.listdir(folder.path)) if existed and folder.path.is_dir() else set()
    try:
        with folder.lock():
            # Under the lock: no config.yaml means no sweep has written here, so whatever is
            # in the folder after a failure before the first finished run is this command's.
            fresh = not folder.config_file.exists()
            try:
                result = _locked(plan, folder, config, executor, progress)
            except Exception:
                if fresh:
                    _remove_created(folder, existed=existed, entries=entries)
                raise
    finally:
        if own:
            executor.close()
    result.seconds = time.perf_counter() - started
    return result


def _locked(plan: SweepPlan, folder, config, executor: Executor | None,
            progress: Progress) -> SweepResult:
    folder.check(config)     # again, under the lock: another sweep may have written it
    for text in folder.repair():
        progress.note(text)
    # Runs that another sweep finished between the plan and the lock are not redone.
    done_ids = set() if plan.force else folder.finished(config)
    todo = [r for r in plan.todo if r.run_id not in done_ids]
    settings = executor.settings() if executor is not None else {
        "executor": config.executor.kind, "note": "no run to do"}
    # The device is "unknown" unless TensorFlow trains in this process.
    folder.create(config, device=device_name(), executor=settings,
                  methods={m: json.loads(t) for m, t in plan.method_options.items()},
                  trainer=trainer_settings(config, plan.trainer))
    folder.write_summary()
    progress.sweep_started(total=len(todo), skipped=len(plan.runs) - len(todo),
                           folder=folder.path)
    try:
        result = _execute(plan, todo, executor, progress)
    except BaseException:
        # After Ctrl-C or a refused write too: one row per run and a summary.csv that matches
        # runs.csv, as far as the disk lets us (the first error is the one reported).
        with contextlib.suppress(Exception):
            folder.repair()
            folder.write_summary()
        raise
    # At the end: one row per run (a --force rerun appended newer ones), summary.csv again.
    folder.repair()
    folder.write_summary()
    return result


def _remove_created(folder, *, existed: bool, entries: set[str]) -> None:
    """After a failure in a folder no sweep had written: remove what this command created,
    unless a run finished (its results are kept)."""
    with contextlib.suppress(Exception):
        if folder.runs_csv.is_file() and not read_runs(folder.runs_csv).empty:
            return
    if not existed:
        shutil.rmtree(folder.path, ignore_errors=True)
        return
    for name in set(os.listdir(folder.path)) - entries:
        path = folder.path / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()


def _execute(plan: SweepPlan, todo: list[Run], executor: Executor | None,
             progress: Progress) -> SweepResult:
    folder, config = plan.folder, plan.config
    runs = {r.run_id: r for r in todo}
    failed: list[str] = []
    done, work = 0, 0.0
    feature_failures = _feature_step(plan, executor, progress, todo) if todo else {}

    def record_failure(run: Run, failure: TaskFailure) -> None:
        folder.record_failure(run.run_id, config_hash=plan.config_hash,
                              error_type=failure.error_type, message=failure.message,
                              traceback=failure.traceback)
        failed.append(run.run_id)
        logger.warning("run %s failed: %s: %s", run.run_id, failure.error_type, failure.message)
        progress.run_failed(run, failure)

    ready = []
    for run in todo:
        key = FeatureTask.for_run(run, config).key if needs_model_features(run, config) else None
        if key in feature_failures:
            f = feature_failures[key]
            record_failure(run, TaskFailure(run.run_id, f.error_type,
                                            f"its clean feature model failed: {f.message}",
                                            f.traceback))
        else:
            ready.append(run)
    tasks, notes = plan_tasks(ready, config, plan.trainer)
    for text in notes:
        progress.note(text)
    packs = {t.key: t.runs for t in tasks if isinstance(t, PackTask)}
    recorded: set[str] = set()

    def record(outcome) -> None:
        nonlocal done, work
        run = runs[outcome.key if isinstance(outcome, TaskFailure) else outcome.run.run_id]
        recorded.add(run.run_id)
        if isinstance(outcome, TaskFailure):
            record_failure(run, outcome)
            return
        folder.write_run_files(run.run_id, history=outcome.history,
                               predictions=outcome.predictions, noise=outcome.noise,
                               method=outcome.method)
        folder.append_row(outcome.row)
        folder.clear_failure(run.run_id)
        done += 1
        work += outcome.work_seconds
        logger.info("finished %s (%d/%d)", run.run_id, done, len(ready))
        progress.run_finished(run, outcome.row)

    dispatch = _Dispatch(progress, runs, total=len(ready), epochs=config.train.epochs,
                         record=record)
    for result in (executor.run(tasks, on_event=dispatch) if tasks else ()):
        if isinstance(result, PackOutcome):
            continue              # its members were recorded as they finished (RunDone)
        if isinstance(result, TaskFailure) and result.key in packs:
            # the pack failed (or its worker died twice): its unfinished members failed so
            for run in packs[result.key]:
                if run.run_id not in recorded:
                    record(TaskFailure(run.run_id, result.error_type, result.message,
                                       result.traceback))
            continue
        record(result)
    return SweepResult(folder=folder.path, runs_csv=folder.runs_csv,
                       summary_csv=folder.summary_csv, n_runs=len(plan.runs), n_done=done,
                       n_skipped=len(plan.runs) - len(todo), seconds=0.0, work_seconds=work,
                       failed=failed, failures_csv=folder.failures_csv if failed else None)
