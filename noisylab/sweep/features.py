"""Penultimate-layer features of a model trained on clean labels, for ``features: model``.

Concentrated noise (Drory et al.) clusters each class in a feature space; with
``noise_options: {concentrated: {features: model}}`` that space is the penultimate layer of the
sweep's own CNN trained on the clean labels. The model is trained once per (dataset, model, root
seed) and its features are cached in the results folder's ``cache/``.
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


class FeatureCache:
    """Penultimate features of a CNN trained on clean labels, computed once and cached.

    One clean model per (dataset, model, root seed), trained with the sweep's train options on
    90% of the clean training set (validated on the other 10%), its features computed for the
    whole train and test sets and cached as ``<folder>/<key>-train.npy`` / ``-test.npy``.

    Parameters
    ----------
    folder : path-like
        The cache folder (created on first write).
    config : SweepConfig
    trainer : callable
        As `noisylab.training.loop.train_model`; must honour ``keep_model=True``.
    on_phase : callable, optional
        Called with a line of text before a model is trained.
    extract : callable, optional
        ``(model, images) -> (n, d)`` features; default: the layer named ``features``.
    """

    def __init__(self, folder: str | Path, config: SweepConfig, trainer: Callable,
                 on_phase: Callable[[str], None] | None = None,
                 extract: Callable | None = None):
        self.folder = Path(folder)
        self.config = config
        self.trainer = trainer
        self.on_phase = on_phase or (lambda text: None)
        self.extract = extract or extract_features
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
            self.on_phase(f"training {model} on clean {name} labels for model features")
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


def extract_features(model, x: np.ndarray) -> np.ndarray:
    """The penultimate features of a `noisylab.training.models` model, (n, d) float32."""
    from noisylab.training.models import feature_extractor

    if model is None:
        raise NoisylabError("features: model needs a trainer that returns the model")
    return np.asarray(feature_extractor(model).predict(x, batch_size=1024, verbose=0),
                      dtype=np.float32)
