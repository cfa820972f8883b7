"""Run a planned sweep: hand its runs to an executor and record each outcome as it arrives.

`run_sweep(plan)` creates the results folder, trains what the plan says is still to do (through
an `Executor`, default sequential), writes each run's files and then its ``runs.csv`` row through
`noisylab.results.ResultsFolder`, and reports progress to a `Progress` object. The trainer is
injected (default `noisylab.training.loop.train_model`) so the bookkeeping can be tested with a
fast fake; Keras is imported only when the default trainer or model features are used.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from noisylab.sweep.execute import RunOutcome, execute_run
from noisylab.sweep.executors import Executor, SequentialExecutor
from noisylab.sweep.features import FeatureCache, needs_model_features
from noisylab.sweep.grid import Run
from noisylab.sweep.plan import SweepPlan

logger = logging.getLogger(__name__)


class Progress:
    """Receives progress events; every method is a no-op here. The CLI subclasses it."""

    def sweep_started(self, *, total: int, skipped: int, folder: Path) -> None:
        """``total`` runs to do now, ``skipped`` already finished."""

    def phase(self, text: str) -> None:
        """Work outside the runs, e.g. training the clean model for concentrated noise."""

    def run_started(self, run: Run, *, index: int, total: int, epochs: int) -> None:
        """Run number ``index`` (0-based) of ``total`` starts; at most ``epochs`` epochs."""

    def epoch_end(self, run: Run, epoch: int, logs: dict) -> None:
        """``epoch`` (1-based) of ``run`` finished with Keras' ``logs``."""

    def run_finished(self, run: Run, row: dict) -> None:
        """``run`` finished and its ``runs.csv`` row is written."""


@dataclass
class SweepResult:
    """Where the results are and what this call did."""

    folder: Path
    runs_csv: Path
    summary_csv: Path
    n_runs: int
    n_done: int
    n_skipped: int
    seconds: float
    work_seconds: float


def _default_trainer():
    from noisylab.training.loop import train_model

    return train_model


def load_trainer() -> Callable:
    """The default trainer, loaded now: its framework starts here (the CLI hides its chatter)."""
    return _default_trainer()


def device_name() -> str:
    """The device Keras trains on, in words, for metadata.json (never imports TensorFlow)."""
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


def run_sweep(plan: SweepPlan, *, trainer: Callable | None = None,
              executor: Executor | None = None, progress: Progress | None = None,
              feature_extract: Callable | None = None) -> SweepResult:
    """Run every unfinished run of a planned sweep and write its results folder.

    Parameters
    ----------
    plan : SweepPlan
        From `noisylab.sweep.plan.plan_sweep`, which has checked everything.
    trainer : callable, optional
        Same signature as `noisylab.training.loop.train_model` (the default).
    executor : Executor, optional
        Default `SequentialExecutor`.
    progress : Progress, optional
        Receives run/epoch events.
    feature_extract : callable, optional
        ``(model, images) -> (n, d) features`` for ``features: model`` (default: the model's
        penultimate layer).

    Returns
    -------
    SweepResult
    """
    started = time.perf_counter()
    progress = progress or Progress()
    folder, config = plan.folder, plan.config
    trainer = trainer or _default_trainer()
    folder.create(config, device=device_name())   # "unknown" unless TensorFlow trains here
    progress.sweep_started(total=len(plan.todo), skipped=len(plan.runs) - len(plan.todo),
                           folder=folder.path)
    features = FeatureCache(folder.cache_dir, config, trainer, on_phase=progress.phase,
                            extract=feature_extract)
    executor = executor or SequentialExecutor()
    counter = iter(range(len(plan.todo)))
    config_hash = plan.config_hash

    def one(run: Run) -> RunOutcome:
        progress.run_started(run, index=next(counter), total=len(plan.todo),
                             epochs=config.train.epochs)
        dataset = plan.datasets[run.dataset]
        feats = (features.get(run.dataset, dataset, run.model)
                 if needs_model_features(run, config) else None)
        return execute_run(run, config=config, config_hash=config_hash, dataset=dataset,
                           trainer=trainer, features=feats,
                           on_epoch_end=functools.partial(progress.epoch_end, run))

    done = 0
    work = 0.0
    for outcome in executor.map(one, plan.todo):
        folder.write_run_files(outcome.run.run_id, history=outcome.history,
                               predictions=outcome.predictions, noise=outcome.noise)
        folder.append_row(outcome.row)
        folder.write_summary()
        done += 1
        work += outcome.work_seconds
        logger.info("finished %s (%d/%d)", outcome.run.run_id, done, len(plan.todo))
        progress.run_finished(outcome.run, outcome.row)
    if not plan.todo:
        folder.write_summary()
    return SweepResult(folder=folder.path, runs_csv=folder.runs_csv,
                       summary_csv=folder.summary_csv, n_runs=len(plan.runs), n_done=done,
                       n_skipped=len(plan.runs) - len(plan.todo),
                       seconds=time.perf_counter() - started, work_seconds=work)
