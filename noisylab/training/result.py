"""What a trainer returns, importable without Keras (the sweep, executors and tests use it).

Any trainer (the Keras loop in `noisylab.training.loop`, a test fake, a packed trainer) returns a
`TrainResult`; nothing else about the trainer is assumed by the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """

    history: dict[str, list[float]]
    best_epoch: int
    epochs: int
    test_probs: np.ndarray
    train_probs: np.ndarray
    train_seconds: float
    images_per_second: float
    model: object | None = None
