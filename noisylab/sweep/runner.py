"""Run a sweep: validate it, expand it into runs, hand them to an executor, record the results.

The pieces, each replaceable:

- `plan_sweep` checks everything (names, levels, datasets, the output folder) and creates nothing;
- `noisylab.runs.expand` gives the runs and their seeds;
- `execute_run` does one run (split, noise, train, metrics) and returns a `RunOutcome`; it writes
  nothing, so an executor may run it in another process;
- an `Executor` maps `execute_run` over the runs; `SequentialExecutor` runs them in this process;
- `run_sweep` writes each outcome through `noisylab.results.ResultsFolder` as it arrives (files
  first, runs.csv row last) and reports progress through a `Progress` object.

The trainer is injected (default `noisylab.train.train_model`) so the bookkeeping can be tested
with a fast fake. Keras is imported only when the default trainer or model features are used.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from noisylab.config import SweepConfig, config_hash
from noisylab.errors import NoisylabError
from noisylab.metrics import run_metrics
from noisylab.noise import realized_transition
from noisylab.results import N_IMAGES, ResultsFolder
from noisylab.runs import Run, expand, run_seeds, short_name
from noisylab.splits import features_key, stratified_take

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Noise kinds that `noisylab.noise.inject` knows but a sweep cannot vary over a level grid.
UNSWEEPABLE_NOISE = ("file",)


class Executor(Protocol):
    """Runs a function over items and yields the results as they finish (any order)."""

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        ...


class SequentialExecutor:
    """Runs each item in this process, one after the other, in order."""

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)


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
class RunOutcome:
    """What one run produced, before anything is written."""

    run: Run
    row: dict[str, Any]
    history: dict[str, list[float]]
    predictions: dict[str, np.ndarray]
    noise: dict[str, np.ndarray]
    work_seconds: float = 0.0   # training and evaluation inside the run (the trainer's call)


@dataclass
class SweepPlan:
    """A validated sweep: what to run and where, before anything is written."""

    config: SweepConfig
    folder: ResultsFolder
    runs: list[Run]
    todo: list[Run]
    datasets: dict[str, Any] = field(repr=False)
    force: bool = False


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
    from noisylab.train import train_model

    return train_model


def _model_names() -> Sequence[str]:
    from noisylab.models import MODEL_NAMES

    return MODEL_NAMES


def check_noise_kinds(config: SweepConfig) -> None:
    """Check the noise kinds (and their options' keys) against `noisylab.noise.NOISE_KINDS`."""
    from noisylab.noise import KIND_OPTIONS, NOISE_KINDS
    from noisylab.noise.core import check_options

    kinds = [k for k in NOISE_KINDS if k not in UNSWEEPABLE_NOISE]
    for kind in config.noise:
        if kind not in kinds:
            raise NoisylabError(
                f"unknown noise kind {kind!r} for a sweep; valid: {', '.join(kinds)}")
    for kind in config.noise_options:
        if kind not in config.noise:
            raise NoisylabError(
                f"noise_options names {kind!r}, which is not among the swept kinds: "
                f"{', '.join(config.noise)}")
        check_options(kind, dict(config.noise_options[kind]), KIND_OPTIONS[kind])


def check_models(config: SweepConfig, *, model_names: Sequence[str] | None = None) -> None:
    """Check the models against the registry (default `noisylab.models.MODEL_NAMES`)."""
    names = model_names if model_names is not None else _model_names()
    for model in config.models:
        if model not in names:
            raise NoisylabError(f"unknown model {model!r}; valid: {', '.join(names)}")


def load_datasets(config: SweepConfig, *, data_dir: str | Path = "data") -> dict[str, Any]:
    """Load and validate every dataset of the sweep (an invalid HDF5 file raises here)."""
    from noisylab.data import load_dataset

    loaded = {}
    for name in config.datasets:
        ds = load_dataset(name, test_size=config.test_size, seed=config.seed, data_dir=data_dir)
        n_train = len(ds.y_train)
        if config.subset is not None and config.subset > n_train:
            raise NoisylabError(
                f"subset must be at most the training set size of {name} ({n_train}), "
                f"got {config.subset}")
        if config.val == "clean" and len(ds.y_test) < 2:
            raise NoisylabError(f"val clean needs >= 2 test images in {name}, got {len(ds.y_test)}")
        loaded[name] = ds
    return loaded


def plan_sweep(config: SweepConfig, out: str | Path | None = None, *, force: bool = False,
               model_names: Sequence[str] | None = None,
               data_dir: str | Path = "data") -> SweepPlan:
    """Validate a sweep and decide which runs to do; creates no file or folder.

    Parameters
    ----------
    config : SweepConfig
    out : path-like, optional
        Results folder; ``results/<config.name>`` when None.
    force : bool
        Redo runs already in runs.csv (same config). A folder of another config is refused
        even with ``force``.
    model_names : sequence of str, optional
        Valid model names (default: `noisylab.models.MODEL_NAMES`, which imports Keras).
    data_dir : path-like
        Where prepared datasets are looked up by name.

    Raises
    ------
    NoisylabError
        Unknown noise kind, model or dataset, an invalid HDF5 file, a subset larger than the
        training set, an unwritable output folder, or a folder holding another config.
    """
    folder = ResultsFolder(out if out is not None else Path("results") / config.name)
    check_noise_kinds(config)
    folder.check(config)
    datasets = load_datasets(config, data_dir=data_dir)
    check_models(config, model_names=model_names)
    runs = expand(config)
    done = set() if force else folder.finished(config)
    todo = [r for r in runs if r.run_id not in done]
    return SweepPlan(config=config, folder=folder, runs=runs, todo=todo, datasets=datasets,
                     force=force)


# ---------------------------------------------------------------------------------------------
# one run

class FeatureCache:
    """Penultimate features of a CNN trained on clean labels, for ``features: model``.

    One clean model per (dataset, model, root seed), trained with the sweep's train options on
    90% of the clean training set (validated on the other 10%), its features computed for the
    whole train and test sets and cached as ``<folder>/<key>-train.npy`` / ``-test.npy``.
    """

    def __init__(self, folder: Path, config: SweepConfig, trainer: Callable,
                 progress: Progress, extract: Callable | None = None):
        self.folder = Path(folder)
        self.config = config
        self.trainer = trainer
        self.progress = progress
        self.extract = extract or _extract_features
        self._memory: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def get(self, dataset: str, ds, model: str) -> tuple[np.ndarray, np.ndarray]:
        """(train features, test features) for the whole dataset."""
        name = short_name(dataset)
        key = features_key(name, model, self.config.seed)
        if key in self._memory:
            return self._memory[key]
        paths = (self.folder / f"{key}-train.npy", self.folder / f"{key}-test.npy")
        if all(p.is_file() for p in paths):
            feats = (np.load(paths[0]), np.load(paths[1]))
        else:
            from noisylab.results import atomic_save_npy

            self.progress.phase(f"training {model} on clean {name} labels for model features")
            seeds = run_seeds(self.config.seed, name, "features", model)
            rng = np.random.default_rng(seeds["split"])
            n = len(ds.y_train)
            val = stratified_take(ds.y_train, max(1, round(0.1 * n)), rng=rng)
            fit = np.setdiff1d(np.arange(n), val)
            result = self.trainer(
                ds.x_train[fit], ds.y_train[fit], ds.x_train[val], ds.y_train[val],
                ds.x_test[:0], options=dataclasses.replace(self.config.train, model=model),
                num_classes=ds.num_classes, seed=seeds["model"], dataset_name=ds.name,
                keep_model=True)
            feats = (self.extract(result.model, ds.x_train), self.extract(result.model, ds.x_test))
            self.folder.mkdir(parents=True, exist_ok=True)
            for path, array in zip(paths, feats, strict=True):
                atomic_save_npy(path, np.asarray(array, dtype=np.float32))
        self._memory[key] = feats
        return feats


def _extract_features(model, x: np.ndarray) -> np.ndarray:
    from noisylab.models import feature_extractor

    if model is None:
        raise NoisylabError("features: model needs a trainer that returns the model")
    return np.asarray(feature_extractor(model).predict(x, batch_size=1024, verbose=0),
                      dtype=np.float32)


def _inject(labels, run: Run, config: SweepConfig, *, rng, num_classes: int, images,
            features):
    from noisylab.noise import inject

    options = dict(config.noise_options.get(run.noise, {}))
    if run.noise == "concentrated":
        if options.get("features") == "model":
            options["features"] = features
        elif not isinstance(options.get("features"), np.ndarray):
            options.setdefault("images", images)
    return inject(labels, kind=run.noise, level=run.level, rng=rng, num_classes=num_classes,
                  **options)


def execute_run(run: Run, *, config: SweepConfig, datasets: dict, trainer: Callable,
                progress: Progress | None = None,
                features: FeatureCache | None = None) -> RunOutcome:
    """Do one run: subset, noise, validation split, training, metrics. Writes nothing.

    The split stream picks the training subset and the validation split; the noise stream
    corrupts the training labels and then, continuing, the test labels (for ``test_f1_noisy``);
    the model stream seeds Keras.
    """
    progress = progress or Progress()
    ds = datasets[run.dataset]
    L = ds.num_classes
    rng_split = np.random.default_rng(run.seed_split)
    rng_noise = np.random.default_rng(run.seed_noise)
    n_all = len(ds.y_train)
    train_idx = (np.arange(n_all) if config.subset is None
                 else stratified_take(ds.y_train, config.subset, rng=rng_split))
    feats_train = feats_test = None
    if run.noise == "concentrated" and config.noise_options.get(
            "concentrated", {}).get("features") == "model":
        if features is None:
            raise NoisylabError("features: model needs a feature cache")
        feats_train, feats_test = features.get(run.dataset, ds, run.model)
        feats_train = feats_train[train_idx]
    y_true = ds.y_train[train_idx].astype(np.int64)
    noisy = _inject(y_true, run, config, rng=rng_noise, num_classes=L,
                    images=ds.x_train[train_idx], features=feats_train)
    y_noisy = np.asarray(noisy.labels, dtype=np.int64)

    n_test_all = len(ds.y_test)
    if config.val == "clean":
        val_idx = stratified_take(ds.y_test, n_test_all // 2, rng=rng_split)
        test_idx = np.setdiff1d(np.arange(n_test_all), val_idx)
        fit = np.arange(train_idx.size)
        x_val, y_val = ds.x_test[val_idx], ds.y_test[val_idx].astype(np.int64)
    else:
        n_hold = max(1, round(config.val_fraction * train_idx.size))
        hold = stratified_take(y_noisy, n_hold, rng=rng_split)
        fit = np.setdiff1d(np.arange(train_idx.size), hold)
        test_idx = np.arange(n_test_all)
        x_val, y_val = ds.x_train[train_idx[hold]], y_noisy[hold]
    y_test = ds.y_test[test_idx].astype(np.int64)
    noisy_test = _inject(y_test, run, config, rng=rng_noise, num_classes=L,
                         images=ds.x_test[test_idx],
                         features=None if feats_test is None else feats_test[test_idx])
    y_test_noisy = np.asarray(noisy_test.labels, dtype=np.int64)

    x_fit = ds.x_train[train_idx[fit]]
    y_fit, y_fit_true = y_noisy[fit], y_true[fit]
    options = dataclasses.replace(config.train, model=run.model)
    start = time.perf_counter()
    result = trainer(x_fit, y_fit, x_val, y_val, ds.x_test[test_idx], options=options,
                     num_classes=L, seed=run.seed_model, dataset_name=ds.name,
                     on_epoch_end=functools.partial(progress.epoch_end, run))
    metrics = run_metrics(test_probs=result.test_probs, y_test=y_test,
                          y_test_noisy=y_test_noisy, train_probs=result.train_probs,
                          y_train_true=y_fit_true, y_train_noisy=y_fit, num_classes=L)
    work_seconds = time.perf_counter() - start

    corrupted = y_fit != y_fit_true
    row = {
        "run_id": run.run_id, "config_hash": config_hash(config), "dataset": run.dataset_name,
        "noise": run.noise, "level": run.level, "repeat": run.repeat, "model": run.model,
        "val_policy": config.val, "seed_split": run.seed_split, "seed_noise": run.seed_noise,
        "seed_model": run.seed_model, "n_train": int(fit.size), "n_val": int(len(y_val)),
        "n_test": int(test_idx.size), "realized_noise_rate": float(corrupted.mean()),
        **metrics,
        "best_epoch": int(result.best_epoch), "epochs": int(result.epochs),
        "train_seconds": float(result.train_seconds),
        "images_per_second": float(result.images_per_second),
    }
    predictions = {
        "probs": np.asarray(result.test_probs, dtype=np.float32),
        "y_true": y_test, "y_noisy": y_test_noisy,
        "test_index": test_idx.astype(np.int64),
        "images": np.asarray(ds.x_test[test_idx[:N_IMAGES]], dtype=np.uint8),
        "class_names": np.asarray(ds.class_names, dtype=str),
    }
    noise = {
        "transition": realized_transition(y_fit_true, y_fit, L),
        "corrupted": corrupted,
        "noisy_labels": y_fit,
        "train_index": train_idx[fit].astype(np.int64),
    }
    return RunOutcome(run=run, row=row, history=dict(result.history), predictions=predictions,
                      noise=noise, work_seconds=work_seconds)


# ---------------------------------------------------------------------------------------------
# the sweep

def device_name() -> str:
    """The device Keras trains on, in words, for metadata.json (never imports TensorFlow)."""
    import sys

    if "tensorflow" not in sys.modules:   # never import TensorFlow just for the metadata
        return "unknown"
    try:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    except Exception:  # noqa: BLE001 - metadata must never stop a sweep
        return "unknown"
    if gpus:
        return "GPU: " + ", ".join(g.name for g in gpus)
    import os

    return f"CPU ({os.cpu_count()} cores)"


def run_sweep(config: SweepConfig, out: str | Path | None = None, *, force: bool = False,
              trainer: Callable | None = None, executor: Executor | None = None,
              progress: Progress | None = None, model_names: Sequence[str] | None = None,
              data_dir: str | Path = "data", feature_extract: Callable | None = None,
              plan: SweepPlan | None = None) -> SweepResult:
    """Run every unfinished run of a sweep and write its results folder.

    Parameters
    ----------
    config : SweepConfig
    out : path-like, optional
        Results folder (default ``results/<config.name>``).
    force : bool
        Redo the runs already finished under this config.
    trainer : callable, optional
        Same signature as `noisylab.train.train_model` (the default).
    executor : Executor, optional
        Default `SequentialExecutor`.
    progress : Progress, optional
        Receives run/epoch events.
    model_names : sequence of str, optional
        Valid model names; defaults to the Keras registry.
    data_dir : path-like
        Where prepared datasets are looked up by name.
    feature_extract : callable, optional
        ``(model, images) -> (n, d) features`` for ``features: model`` (default: the model's
        penultimate layer via `noisylab.models.feature_extractor`).
    plan : SweepPlan, optional
        A plan from `plan_sweep`, to skip validating twice.

    Returns
    -------
    SweepResult

    Raises
    ------
    NoisylabError
        Any validation error, raised before the results folder is created.
    """
    started = time.perf_counter()
    progress = progress or Progress()
    plan = plan or plan_sweep(config, out, force=force, model_names=model_names,
                              data_dir=data_dir)
    folder = plan.folder
    default = trainer is None
    trainer = trainer or _default_trainer()
    folder.create(plan.config, device=device_name() if default else "unknown (custom trainer)")
    progress.sweep_started(total=len(plan.todo), skipped=len(plan.runs) - len(plan.todo),
                           folder=folder.path)
    features = FeatureCache(folder.cache_dir, plan.config, trainer, progress,
                            extract=feature_extract)
    executor = executor or SequentialExecutor()
    counter = iter(range(len(plan.todo)))

    def one(run: Run) -> RunOutcome:
        progress.run_started(run, index=next(counter), total=len(plan.todo),
                             epochs=plan.config.train.epochs)
        return execute_run(run, config=plan.config, datasets=plan.datasets, trainer=trainer,
                           progress=progress, features=features)

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
