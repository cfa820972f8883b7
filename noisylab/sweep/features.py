"""Penultimate-layer features of a model trained on clean labels, for ``features: model``.

Concentrated noise (Drory et al.) clusters each class in a feature space; with
``noise_options: {concentrated: {features: model}}`` that space is the penultimate layer of the
sweep's own CNN trained on the clean labels. The model is trained once per (dataset, model, root
seed), in a planned step before the runs that need it (`noisylab.sweep.tasks.FeatureTask`, so two
workers never train it at once), and its features are cached in the results folder's ``cache/``
as ``<key>-train.npy`` and ``<key>-test.npy``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from noisylab.atomic import atomic_save_npy
from noisylab.config import SweepConfig
from noisylab.errors import NoisylabError
from noisylab.sweep.grid import Run, run_seeds, short_name
from noisylab.sweep.splits import stratified_take


def features_key(dataset_name: str, model: str, seed: int) -> str:
    """File-name key of cached model features: ``features-<dataset>-<model>-s<seed>``."""
    return f"features-{dataset_name}-{model}-s{int(seed)}"


def needs_model_features(run: Run, config: SweepConfig) -> bool:
    """Whether ``run`` clusters the penultimate features of a clean model."""
    return run.noise == "concentrated" and config.noise_options.get(
        "concentrated", {}).get("features") == "model"


def _paths(folder: Path, key: str) -> tuple[Path, Path]:
    return folder / f"{key}-train.npy", folder / f"{key}-test.npy"


def has_cached_features(folder: str | Path, key: str) -> bool:
    """Whether both feature files of ``key`` are in ``folder``."""
    return all(p.is_file() for p in _paths(Path(folder), key))


def read_cached_features(folder: str | Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(train features, test features) of ``key`` from ``folder``."""
    train, test = _paths(Path(folder), key)
    from noisylab.readers import read_npy

    return (read_npy(train, what="cached features file"),
            read_npy(test, what="cached features file"))


def write_cached_features(folder: str | Path, key: str, train: np.ndarray,
                          test: np.ndarray) -> None:
    """Write both feature files of ``key`` atomically (float32)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path, array in zip(_paths(folder, key), (train, test), strict=True):
        atomic_save_npy(path, np.asarray(array, dtype=np.float32))


def compute_features(ds, *, dataset_entry: str, model: str, config: SweepConfig,
                     trainer: Callable, extract: Callable | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Train ``model`` on the clean labels of ``ds`` and return its features; writes nothing.

    The model is trained with the sweep's train options on 90% of the clean training set
    (validated on the other 10%, a split drawn from the seed stream of
    ``(root seed, dataset, "features", model)``); features cover the whole train and test sets.

    Returns
    -------
    (ndarray of shape (n_train, d), ndarray of shape (n_test, d)), float32
    """
    extract = extract or extract_features
    seeds = run_seeds(config.seed, short_name(dataset_entry), "features", model)
    rng = np.random.default_rng(seeds["split"])
    n = len(ds.y_train)
    val = stratified_take(ds.y_train, max(1, round(0.1 * n)), rng=rng)
    fit = np.setdiff1d(np.arange(n), val)
    result = trainer(
        ds.x_train[fit], ds.y_train[fit], ds.x_train[val], ds.y_train[val], ds.x_test[:0],
        options=dataclasses.replace(config.train, model=model), num_classes=ds.num_classes,
        seed=seeds["model"], dataset_name=ds.name, keep_model=True)
    return (np.asarray(extract(result.model, ds.x_train), dtype=np.float32),
            np.asarray(extract(result.model, ds.x_test), dtype=np.float32))


def extract_features(model, x: np.ndarray) -> np.ndarray:
    """The penultimate features of a `noisylab.training.models` model, (n, d) float32."""
    from noisylab.training.models import feature_extractor

    if model is None:
        raise NoisylabError("features: model needs a trainer that returns the model")
    return np.asarray(feature_extractor(model).predict(x, batch_size=1024, verbose=0),
                      dtype=np.float32)
