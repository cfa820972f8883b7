"""Frozen dataclasses describing what to run. YAML in, resolved YAML out (see the sweep issue).

`TrainOptions` is the contract between the sweep and `noisylab.train`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainOptions:
    """How to train one model from scratch.

    Attributes
    ----------
    model : str
        Name in the `noisylab.models` registry.
    epochs : int
        Maximum number of epochs.
    patience : int
        Early-stopping patience, in epochs, on the validation accuracy; best weights are restored.
    batch_size : int
    learning_rate : float
        Adam's learning rate.
    reduce_lr : bool
        Halve the learning rate when the validation loss plateaus (ReduceLROnPlateau).
    augment : bool
        Random shifts and rotation (plus horizontal flips for CIFAR) as Keras preprocessing layers.
    mixed_precision : bool
        Train under the ``mixed_bfloat16`` policy.
    deterministic : bool
        Turn on TensorFlow op determinism so that the same seed gives identical results.
    """

    model: str = "seed-cnn"
    epochs: int = 20
    patience: int = 3
    batch_size: int = 64
    learning_rate: float = 1e-3
    reduce_lr: bool = False
    augment: bool = False
    mixed_precision: bool = False
    deterministic: bool = False
