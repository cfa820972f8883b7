"""Per-sample targets, numpy only: ELR's running targets (Liu et al. 2020) and joint
optimisation's soft labels (Tanaka et al. 2018).

ELR keeps one target t_i per training sample, a running average of the network's own
predictions, and adds ``λ·log(1 − ⟨p_i, t_i⟩)`` to the cross-entropy: during the early-learning
phase the predictions are mostly right, so the term pulls p towards what the network learned
before it memorised the noisy labels. The update, at every step a sample is in the batch and
before that step's loss (``github.com/shengliu66/ELR``)::

    p̃ = clip(p, 1e-4, 1 − 1e-4) / Σ_k clip(p, 1e-4, 1 − 1e-4)_k
    t ← β·t + (1 − β)·p̃           (t = 0 at the start)

Joint optimisation keeps a soft label s_i per sample, the one-hot noisy label at the start;
from epoch ``begin`` on, after every epoch, s_i becomes the mean of the network's predictions
of sample i over the last ``window`` epochs (`soft_labels`), and a second stage trains a fresh
network on the final soft labels.

`noisylab.training.batchloop` holds the targets by training-sample position and passes them to
the loss (`noisylab.training.methods.losses`, ``elr`` and ``joint-optimization``) with the
labels.
"""

from __future__ import annotations

import numpy as np

from noisylab.errors import NoisylabError

#: The clip of p in ELR's target update and regulariser (the reference code's).
ELR_CLIP = 1e-4


def elr_update(targets: np.ndarray, probs: np.ndarray, beta: float) -> np.ndarray:
    """The new targets of a batch: ``β·t + (1 − β)·p̃`` (module docstring).

    Parameters
    ----------
    targets : ndarray of shape (B, L)
        The batch's current targets.
    probs : ndarray of shape (B, L)
        The network's softmax on the batch.
    beta : float
        β in [0, 1).

    Returns
    -------
    ndarray of shape (B, L), float32
    """
    targets = np.asarray(targets, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    if targets.shape != probs.shape or targets.ndim != 2:
        raise NoisylabError(f"targets and probabilities must have one shape (B, L), got "
                            f"{targets.shape} and {probs.shape}")
    clipped = np.clip(probs, ELR_CLIP, 1.0 - ELR_CLIP)
    clipped /= clipped.sum(axis=1, keepdims=True)
    return (beta * targets + (1.0 - beta) * clipped).astype(np.float32)


def pack_targets(labels: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``y_true`` for the ``elr`` loss: the label in column 0, the target in columns 1..L."""
    return np.concatenate([np.asarray(labels, dtype=np.float32)[:, None],
                           np.asarray(targets, dtype=np.float32)], axis=1)


def soft_labels(recent: list[np.ndarray]) -> np.ndarray:
    """Joint optimisation's new soft labels: the mean of the last epochs' predictions.

    Parameters
    ----------
    recent : list of ndarray of shape (n, L)
        The network's prediction of every training sample in each of the last epochs (at most
        ``window`` of them, oldest first), each row a distribution.

    Returns
    -------
    ndarray of shape (n, L), float32, rows summing to 1
    """
    if not recent:
        raise NoisylabError("soft labels need the predictions of at least one epoch")
    mean = np.mean(np.stack([np.asarray(r, dtype=np.float64) for r in recent]), axis=0)
    return (mean / mean.sum(axis=1, keepdims=True)).astype(np.float32)
