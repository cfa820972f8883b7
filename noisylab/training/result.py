"""The training contract, importable without Keras (the sweep, executors and tests use it).

A trainer is called as ``trainer(x_train, y_train, x_val, y_val, x_test, *, options,
num_classes, seed, dataset_name, on_epoch_end[, keep_model][, method])`` and returns a
`TrainResult`; nothing else about it is assumed by the sweep. ``method`` (a `MethodCall`) is
passed only for a run whose method is not ``ce``, so a trainer that supports only plain
cross-entropy need not accept it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced.

    Attributes
    ----------
    history : dict of str to list of float
        ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` (and ``learning_rate``), one value
        per epoch run. ``accuracy`` is against the (noisy) training labels.
    best_epoch : int
        1-based epoch with the highest validation accuracy (the first one on ties); its weights
        are the model's final weights.
    epochs : int
        Epochs actually run (<= ``options.epochs``).
    test_probs : ndarray of shape (n_test, L), float32
        Softmax on ``x_test`` with the restored weights.
    train_probs : ndarray of shape (n_train, L), float32
        Softmax on ``x_train`` (no augmentation, no dropout).
    train_seconds : float
        Wall time of ``fit`` only (training and per-epoch validation), in seconds.
    images_per_second : float
        ``n_train * epochs / train_seconds``.
    model : keras.Model or None
        The trained model when asked for with ``keep_model=True``.
    artifacts : dict of str to ndarray
        What a method estimated, saved as the run's ``method.npz`` (e.g.
        ``transition_estimated``); empty for ``ce``.
    """

    history: dict[str, list[float]]
    best_epoch: int
    epochs: int
    test_probs: np.ndarray
    train_probs: np.ndarray
    train_seconds: float
    images_per_second: float
    model: object | None = None
    artifacts: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodCall:
    """What a robust training method gets from the sweep for one run.

    Attributes
    ----------
    name : str
        A method of `noisylab.training.methods.METHODS`.
    options : dict
        Its resolved options.
    noise : str
        The run's noise kind.
    level : float
        Its noise level.
    transition : ndarray of shape (L, L)
        The run's realized transition on the training samples (row-stochastic). **Oracle
        information**: a method may use it only where its options say so (``T: known``), and
        the run's row is then flagged ``oracle``.
    sample_index : ndarray of shape (n_train,), int
        Each training sample's position in the dataset's training split (per-sample state).
    """

    name: str
    options: dict
    noise: str
    level: float
    transition: np.ndarray
    sample_index: np.ndarray
