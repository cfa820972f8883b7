"""Noise on a whole dataset's training labels: what ``noisylab inject`` computes and prints.

Takes any object with the attributes of `noisylab.data.Dataset` (``y_train``, ``x_train``,
``num_classes``, ``name``), so this package still imports nothing from `noisylab.data`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from noisylab.noise.core import NoisyLabels
from noisylab.noise.kinds import KINDS, inject


def inject_training_labels(dataset, *, kind: str, level: float | None, seed: int,
                           features: np.ndarray | str | None = None, **options) -> NoisyLabels:
    """Corrupt ``dataset.y_train`` with one injector, seeded by ``seed``.

    Parameters
    ----------
    dataset : noisylab.data.Dataset
    kind : str
        A kind of `noisylab.noise.NOISE_KINDS`.
    level : float or None
        None only for ``file``.
    seed : int
        Seed of the noise generator (``numpy.random.default_rng(seed)``); recorded in ``spec``.
    features : ndarray of shape (n, d) or 'pca', optional
        Features for ``concentrated`` and ``instance``; without them they use the training
        images (``concentrated``: a PCA of them).
    **options
        The kind's options, as `noisylab.noise.inject` takes them.

    Returns
    -------
    NoisyLabels
        With ``spec["dataset"]`` and ``spec["seed"]`` added.
    """
    if features is not None and not (isinstance(features, str) and features == "pca"):
        options["features"] = features
    elif kind in KINDS and KINDS[kind].images:
        options["images"] = dataset.x_train
    elif features is not None:
        options["features"] = features   # refused below: the kind takes no features
    noisy = inject(dataset.y_train, kind=kind, level=level, rng=np.random.default_rng(seed),
                   num_classes=dataset.num_classes, **options)
    return dataclasses.replace(noisy, spec={**noisy.spec, "dataset": dataset.name, "seed": seed})


def format_transition(matrix: np.ndarray) -> str:
    """A realized transition matrix as a text table (row = true class, column = noisy class)."""
    size = matrix.shape[0]
    width = max(5, len(str(size - 1)) + 1)
    header = "true\\noisy " + " ".join(f"{j:>{width}}" for j in range(size))
    rows = [
        f"{i:>10} " + " ".join(f"{value:>{width}.3f}" for value in row)
        for i, row in enumerate(matrix)
    ]
    return "\n".join([header, *rows])


def describe_noisy(noisy: NoisyLabels) -> str:
    """What ``noisylab inject`` prints: kind, dataset, realized rate and matrix."""
    spec = noisy.spec
    n, changed = noisy.labels.size, int(noisy.corrupted.sum())
    source = (f"label set {spec['file']}:{spec['key']}" if spec["kind"] == "human"
              else f"level {spec['level']}, seed {spec.get('seed', '?')}")
    return "\n".join([
        f"{spec['kind']} noise on {spec.get('dataset', '?')}: {n} training labels, "
        f"{spec['num_classes']} classes, {source}",
        f"realized rate: {noisy.realized_rate:.4f} ({changed} of {n} labels changed)",
        "realized transition (row = true class, column = noisy class):",
        format_transition(noisy.transition),
    ])
