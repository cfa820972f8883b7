"""One run of a sweep, in three steps with plain-data inputs and outputs.

- `prepare_run` (numpy only): the training subset, the noisy training labels, the validation
  split and the noisy test labels, as indices into the dataset and label arrays — a
  `PreparedRun`;
- `train_run`: the trainer on those arrays, returning a `noisylab.training.result.TrainResult`;
- `finish_run` (numpy only): metrics, the ``runs.csv`` row and the per-run artifacts — a
  `RunOutcome`.

Nothing here writes a file: the sweep writes each outcome through `noisylab.results`. The three
steps take the dataset as an argument rather than holding it, so a run can be prepared, trained
and finished in different places (a worker process, a packed trainer) as long as each has the
same dataset loaded.

Seeds: the split stream picks the training subset and the validation split; the noise stream
corrupts the training labels and then, continuing, the test labels (for ``test_f1_noisy``); the
model stream seeds the trainer.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from noisylab.config import SweepConfig
from noisylab.metrics import run_metrics
from noisylab.noise import realized_transition
from noisylab.results import N_IMAGES
from noisylab.sweep.grid import Run
from noisylab.sweep.splits import stratified_take
from noisylab.training.stopping import at_chance, chance_threshold


@dataclass(frozen=True)
class PreparedRun:
    """Everything a run decides before training, as indices into one dataset and labels.

    Attributes
    ----------
    run : Run
    config_hash : str
    val_policy : {'clean', 'noisy'}
    fit_index : ndarray of shape (n_fit,), int64
        Positions in the dataset's training split that the model is trained on.
    y_fit, y_fit_true : ndarray of shape (n_fit,), int64
        Their noisy and true labels.
    val_split : {'test', 'train'}
        Which split of the dataset ``val_index`` points into.
    val_index : ndarray of shape (n_val,), int64
    y_val : ndarray of shape (n_val,), int64
        Validation labels (clean under ``val: clean``, noisy under ``val: noisy``).
    test_index : ndarray of shape (n_test,), int64
        Positions in the dataset's test split that are scored.
    y_test, y_test_noisy : ndarray of shape (n_test,), int64
        True test labels, and the same labels noised by the run's injector.
    """

    run: Run
    config_hash: str
    val_policy: str
    fit_index: np.ndarray
    y_fit: np.ndarray
    y_fit_true: np.ndarray
    val_split: str
    val_index: np.ndarray
    y_val: np.ndarray
    test_index: np.ndarray
    y_test: np.ndarray
    y_test_noisy: np.ndarray


@dataclass
class RunOutcome:
    """What one run produced, before anything is written."""

    run: Run
    row: dict[str, Any]
    history: dict[str, list[float]]
    predictions: dict[str, np.ndarray]
    noise: dict[str, np.ndarray]
    work_seconds: float = 0.0   # training and evaluation inside the run (the trainer's call)
    method: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # method.npz


def _inject(labels, run: Run, config: SweepConfig, *, rng, num_classes: int, images,
            features, index=None):
    """One injector call with the run's options; ``index``: the labels' positions in the
    training split (for label sets, which list the whole split)."""
    from noisylab.noise import KINDS, inject

    kind = KINDS[run.noise]
    if kind.grid == "label_sets":
        return inject(labels, kind=run.noise, level=None, rng=rng, num_classes=num_classes,
                      label_set=run.label_set, index=index)
    options = dict(config.noise_options.get(run.noise, {}))
    if run.noise == "concentrated" and options.get("features") == "model":
        options["features"] = features
    elif kind.images and not isinstance(options.get("features"), np.ndarray):
        options.setdefault("images", images)
    return inject(labels, kind=run.noise, level=run.level, rng=rng, num_classes=num_classes,
                  **options)


def _inject_test(labels, train_noise, run: Run, config: SweepConfig, *, rng, num_classes: int,
                 images, features):
    """The test labels noised like the training labels (for ``test_f1_noisy``).

    A label set (human noise) has no test labels, so each test label is drawn from the row of
    the training set's realized transition matrix (the class-conditional approximation of the
    human noise, as Wei et al. use for their synthetic CIFAR-N counterparts).
    """
    from noisylab.noise import KINDS, inject

    if KINDS[run.noise].grid == "label_sets":
        return inject(labels, kind="confusion", level=1.0, rng=rng, num_classes=num_classes,
                      matrix=np.asarray(train_noise.transition))
    return _inject(labels, run, config, rng=rng, num_classes=num_classes, images=images,
                   features=features)


def prepare_run(run: Run, *, config: SweepConfig, config_hash: str, dataset,
                features: tuple[np.ndarray, np.ndarray] | None = None) -> PreparedRun:
    """Subset, noise and validation split of one run (numpy only, no training).

    Parameters
    ----------
    run : Run
    config : SweepConfig
    config_hash : str
        Recorded in the row.
    dataset : noisylab.data.Dataset
    features : (train features, test features), optional
        Whole-dataset features for ``concentrated`` noise with ``features: model``.
    """
    ds = dataset
    L = ds.num_classes
    rng_split = np.random.default_rng(run.seed_split)
    rng_noise = np.random.default_rng(run.seed_noise)
    n_all = len(ds.y_train)
    train_idx = (np.arange(n_all) if config.subset is None
                 else stratified_take(ds.y_train, config.subset, rng=rng_split))
    feats_train = feats_test = None
    if features is not None:
        feats_train, feats_test = features[0][train_idx], features[1]
    y_true = ds.y_train[train_idx].astype(np.int64)
    noisy = _inject(y_true, run, config, rng=rng_noise, num_classes=L,
                    images=ds.x_train[train_idx], features=feats_train, index=train_idx)
    y_noisy = np.asarray(noisy.labels, dtype=np.int64)

    n_test_all = len(ds.y_test)
    if config.val == "clean":
        val_idx = stratified_take(ds.y_test, n_test_all // 2, rng=rng_split)
        test_idx = np.setdiff1d(np.arange(n_test_all), val_idx)
        fit = np.arange(train_idx.size)
        val_split, val_index = "test", val_idx
        y_val = ds.y_test[val_idx].astype(np.int64)
    else:
        n_hold = max(1, round(config.val_fraction * train_idx.size))
        hold = stratified_take(y_noisy, n_hold, rng=rng_split)
        fit = np.setdiff1d(np.arange(train_idx.size), hold)
        test_idx = np.arange(n_test_all)
        val_split, val_index = "train", train_idx[hold]
        y_val = y_noisy[hold]
    y_test = ds.y_test[test_idx].astype(np.int64)
    noisy_test = _inject_test(y_test, noisy, run, config, rng=rng_noise, num_classes=L,
                              images=ds.x_test[test_idx],
                              features=None if feats_test is None else feats_test[test_idx])
    return PreparedRun(
        run=run, config_hash=config_hash, val_policy=config.val,
        fit_index=train_idx[fit].astype(np.int64), y_fit=y_noisy[fit], y_fit_true=y_true[fit],
        val_split=val_split, val_index=np.asarray(val_index, dtype=np.int64), y_val=y_val,
        test_index=test_idx.astype(np.int64), y_test=y_test,
        y_test_noisy=np.asarray(noisy_test.labels, dtype=np.int64),
    )


def train_run(prepared: PreparedRun, *, config: SweepConfig, dataset, trainer: Callable,
              on_epoch_end: Callable[[int, dict], None] | None = None):
    """Call ``trainer`` on the prepared arrays; returns its `TrainResult`.

    A run whose method is not ``ce`` also passes ``method=`` a
    `noisylab.training.result.MethodCall` (with the realized transition of the training
    samples, oracle information).
    """
    ds, p = dataset, prepared
    x_val = (ds.x_test if p.val_split == "test" else ds.x_train)[p.val_index]
    options = dataclasses.replace(config.train, model=p.run.model)
    extra = {}
    if p.run.method != "ce":
        from noisylab.training.result import MethodCall

        extra["method"] = MethodCall(
            name=p.run.method, options=json.loads(p.run.method_options), noise=p.run.noise,
            level=p.run.level,
            transition=realized_transition(p.y_fit_true, p.y_fit, ds.num_classes),
            sample_index=p.fit_index)
    return trainer(ds.x_train[p.fit_index], p.y_fit, x_val, p.y_val, ds.x_test[p.test_index],
                   options=options, num_classes=ds.num_classes, seed=p.run.seed_model,
                   dataset_name=ds.name, on_epoch_end=on_epoch_end, **extra)


def finish_run(prepared: PreparedRun, result, *, dataset, work_seconds: float = 0.0,
               trainer: str = "keras", pack_size: int = 1) -> RunOutcome:
    """Metrics, the ``runs.csv`` row and the artifacts of one trained run (numpy only).

    ``trainer`` and ``pack_size`` say how it was trained (``keras``: alone, pack size 1;
    ``packed``: in a pack of ``pack_size`` runs, `noisylab.training.packed`).
    """
    ds, p, run = dataset, prepared, prepared.run
    L = ds.num_classes
    metrics = run_metrics(test_probs=result.test_probs, y_test=p.y_test,
                          y_test_noisy=p.y_test_noisy, train_probs=result.train_probs,
                          y_train_true=p.y_fit_true, y_train_noisy=p.y_fit, num_classes=L)
    corrupted = p.y_fit != p.y_fit_true
    artifacts = dict(getattr(result, "artifacts", None) or {})
    transition = realized_transition(p.y_fit_true, p.y_fit, L)
    t_error = math.nan
    if "transition_estimated" in artifacts:
        artifacts["transition_realized"] = transition
        t_error = float(np.max(np.abs(artifacts["transition_estimated"] - transition)))
    if "labels_corrected" in artifacts:
        from noisylab.training.methods.relabel import correction_scores

        scores = correction_scores(p.y_fit, artifacts["labels_corrected"], p.y_fit_true)
        artifacts.update({k: np.float64(v) for k, v in scores.items()})
    if "selected" in artifacts:
        from noisylab.training.methods.peers import label_precision, rejection_scores

        artifacts["label_precision"] = label_precision(artifacts["selected"], corrupted)
        # what network 1 left out in its last epoch, as a detector of the corrupted labels
        # (small-loss rules: the large-loss samples; decoupling: the samples agreed on)
        scores = rejection_scores(artifacts["selected"][0, -1], corrupted)
        artifacts.update({k: np.float64(v) for k, v in scores.items()})
        # 1 bit per sample and epoch: np.unpackbits(selected, axis=-1, count=n_train)
        artifacts["selected"] = np.packbits(artifacts["selected"], axis=-1)
    from noisylab.training.methods import get_method

    options = json.loads(run.method_options)
    row = {
        "run_id": run.run_id, "config_hash": p.config_hash, "dataset": run.dataset_name,
        "noise": run.noise, "level": run.level, "repeat": run.repeat, "method": run.method,
        "model": run.model, "method_options": run.method_options,
        "oracle": get_method(run.method).oracle(options), "transition_error": t_error,
        "val_policy": p.val_policy, "seed_split": run.seed_split, "seed_noise": run.seed_noise,
        "seed_model": run.seed_model, "n_train": int(p.fit_index.size),
        "n_val": int(p.y_val.size), "n_test": int(p.test_index.size),
        "realized_noise_rate": float(corrupted.mean()),
        **metrics,
        "best_epoch": int(result.best_epoch), "epochs": int(result.epochs),
        "at_chance": at_chance(result.history.get("val_accuracy", []),
                               chance_threshold(p.y_val)),
        "train_seconds": float(result.train_seconds),
        "images_per_second": float(result.images_per_second),
        "trainer": trainer, "pack_size": int(pack_size),
    }
    predictions = {
        "probs": np.asarray(result.test_probs, dtype=np.float32),
        "y_true": p.y_test, "y_noisy": p.y_test_noisy,
        "test_index": p.test_index,
        "images": np.asarray(ds.x_test[p.test_index[:N_IMAGES]], dtype=np.uint8),
        "class_names": np.asarray(ds.class_names, dtype=str),
    }
    noise = {
        "transition": transition,
        "corrupted": corrupted,
        "noisy_labels": p.y_fit,
        "train_index": p.fit_index,
    }
    return RunOutcome(run=run, row=row, history=dict(result.history), predictions=predictions,
                      noise=noise, work_seconds=work_seconds, method=artifacts)


def execute_run(run: Run, *, config: SweepConfig, config_hash: str, dataset, trainer: Callable,
                features: tuple[np.ndarray, np.ndarray] | None = None,
                on_epoch_end: Callable[[int, dict], None] | None = None) -> RunOutcome:
    """`prepare_run`, `train_run` and `finish_run` in a row. Writes nothing."""
    prepared = prepare_run(run, config=config, config_hash=config_hash, dataset=dataset,
                           features=features)
    start = time.perf_counter()
    result = train_run(prepared, config=config, dataset=dataset, trainer=trainer,
                       on_epoch_end=on_epoch_end)
    outcome = finish_run(prepared, result, dataset=dataset)
    outcome.work_seconds = time.perf_counter() - start
    return outcome
