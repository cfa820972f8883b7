"""The work that travels to an executor's workers: picklable tasks and the worker's context.

A task is a small frozen dataclass (a `RunTask` names one `Run`; a `FeatureTask` one clean feature
model) with ``execute(context)``; everything bulky — the datasets, the trainer, cached features —
lives in the `WorkerContext`, built once per worker process from a picklable `WorkerSetup` (the
datasets are loaded there on first use, or handed over from an object store by the Ray executor).
Events (`noisylab.sweep.executors.base.EpochEnded`) go back through ``context.emit``; outcomes are
returned. Nothing here writes a file: only the parent process does, through `noisylab.results`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from noisylab.config import SweepConfig
from noisylab.errors import NoisylabError
from noisylab.sweep.execute import RunOutcome, finish_run, prepare_run, train_run
from noisylab.sweep.executors.base import EpochEnded
from noisylab.sweep.features import (
    compute_features,
    features_key,
    needs_model_features,
    read_cached_features,
)
from noisylab.sweep.grid import Run


class TrainingDiverged(NoisylabError):
    """The loss or the predictions of a run became NaN or infinite."""


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to build its `WorkerContext`; small and picklable.

    Attributes
    ----------
    config : SweepConfig
    config_hash : str
    data_dir : str
        Where prepared datasets are looked up by name.
    cache_dir : str
        The results folder's ``cache/`` (model features written there by the parent).
    trainer : callable, optional
        A picklable trainer (module-level function or `functools.partial` of one); None means
        `noisylab.training.loop.train_model`, imported in the worker.
    extract : callable, optional
        ``(model, images) -> features`` for feature models; None means the penultimate layer.
    """

    config: SweepConfig
    config_hash: str
    data_dir: str = "data"
    cache_dir: str = "cache"
    trainer: Callable | None = None
    extract: Callable | None = None


class WorkerContext:
    """One worker's datasets, trainer and feature cache, and its way to send events.

    Parameters
    ----------
    setup : WorkerSetup
    emit : callable
        ``emit(event)`` sends an event to the parent.
    datasets : dict, optional
        Already loaded datasets (by config entry); loaded from ``setup`` on first use otherwise.
    features : dict, optional
        Feature arrays by key; read from ``setup.cache_dir`` on first use otherwise.
    """

    def __init__(self, setup: WorkerSetup, emit: Callable[[object], None], *,
                 datasets: Mapping[str, Any] | None = None,
                 features: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None):
        self.setup = setup
        self.emit = emit
        self._datasets = dict(datasets) if datasets is not None else None
        self._features = dict(features or {})
        self._trainer = setup.trainer

    @property
    def config(self) -> SweepConfig:
        return self.setup.config

    def dataset(self, entry: str):
        """The loaded dataset of a config entry (all of them are loaded on the first call)."""
        if self._datasets is None:
            from noisylab.sweep.plan import load_datasets

            self._datasets = load_datasets(self.config, data_dir=self.setup.data_dir)
        return self._datasets[entry]

    def features(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Cached (train, test) model features of ``key``."""
        if key not in self._features:
            self._features[key] = read_cached_features(Path(self.setup.cache_dir), key)
        return self._features[key]

    def add_features(self, key: str, features: tuple[np.ndarray, np.ndarray]) -> None:
        self._features[key] = features

    @property
    def trainer(self) -> Callable:
        if self._trainer is None:
            from noisylab.training.loop import train_model

            self._trainer = train_model
        return self._trainer


def check_finite(result) -> None:
    """Raise `TrainingDiverged` when a `TrainResult`'s losses or predictions are not finite."""
    for epoch, loss in enumerate(result.history.get("loss", []), start=1):
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged: the loss is {loss} at epoch {epoch} (try a smaller "
                "learning rate)")
    for name in ("test_probs", "train_probs"):
        if not np.all(np.isfinite(getattr(result, name))):
            raise TrainingDiverged(f"training diverged: {name} holds NaN or infinite values")


@dataclass(frozen=True)
class RunTask:
    """Train and score one run of the grid; returns a `RunOutcome`."""

    run: Run
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", self.run.run_id)

    def execute(self, context: WorkerContext) -> RunOutcome:
        run, config = self.run, context.config
        dataset = context.dataset(run.dataset)
        feats = None
        if needs_model_features(run, config):
            feats = context.features(features_key(run.dataset_name, run.model, config.seed))
        prepared = prepare_run(run, config=config, config_hash=context.setup.config_hash,
                               dataset=dataset, features=feats)
        start = time.perf_counter()

        def on_epoch_end(epoch: int, logs: dict) -> None:
            context.emit(EpochEnded(run.run_id, epoch, {k: float(v) for k, v in logs.items()}))

        result = train_run(prepared, config=config, dataset=dataset, trainer=context.trainer,
                           on_epoch_end=on_epoch_end)
        check_finite(result)
        outcome = finish_run(prepared, result, dataset=dataset)
        outcome.work_seconds = time.perf_counter() - start
        return outcome


@dataclass(frozen=True)
class FeatureOutcome:
    """The clean model's penultimate features of one dataset, for the parent to cache."""

    key: str
    train: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class FeatureTask:
    """Train the clean model of (dataset, model) and return its features."""

    dataset: str
    model: str
    key: str

    @classmethod
    def for_run(cls, run: Run, config: SweepConfig) -> FeatureTask:
        return cls(run.dataset, run.model, features_key(run.dataset_name, run.model, config.seed))

    def execute(self, context: WorkerContext) -> FeatureOutcome:
        train, test = compute_features(
            context.dataset(self.dataset), dataset_entry=self.dataset, model=self.model,
            config=context.config, trainer=context.trainer, extract=context.setup.extract)
        return FeatureOutcome(self.key, train, test)
