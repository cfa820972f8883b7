"""Transition matrices for the loss corrections, numpy only.

`estimate_transition` is Patrini et al.'s anchor-point estimator (their ``est_T`` in
github.com/giorgiop/loss-correction): with p̂(ỹ | x) the softmax of a CE model trained on the noisy
labels, the anchor of class i is the training sample with the highest p̂(ỹ = i | x) (with
``filter_outlier``, the sample at the 97th percentile, as in their code), and row i of T̂ is its
p̂(ỹ | x). For an anchor x (p(y = i | x) = 1) that row is exactly T[i, :]. Rows are normalised.

`confusion_channel` is the initial channel of the noise adaptation layer (Goldberger &
Ben-Reuven): the row-normalised confusion matrix of a CE model's predicted class with the noisy
label.
"""

from __future__ import annotations

import numpy as np

from noisylab.errors import NoisylabError


def estimate_transition(probs: np.ndarray, *, filter_outlier: bool = False) -> np.ndarray:
    """Anchor-point estimate of T from a CE model's softmax on its training samples.

    Parameters
    ----------
    probs : ndarray of shape (n, L)
        p̂(ỹ | x) for the training samples.
    filter_outlier : bool
        Take the sample at the 97th percentile of p̂(ỹ = i | x) (``interpolation='higher'``,
        values at or above it dropped) instead of the maximum.

    Returns
    -------
    ndarray of shape (L, L), float64
        Row-stochastic T̂, T̂[i, j] ≈ P(ỹ = j | y = i).

    Raises
    ------
    NoisylabError
        When ``probs`` is empty or not finite, or a class has no anchor candidate (no sample
        gives it a positive probability).
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or not np.all(np.isfinite(probs)):
        raise NoisylabError(f"anchor points need finite probabilities of shape (n, L), got "
                            f"shape {probs.shape}")
    L = probs.shape[1]
    T = np.empty((L, L))
    for i in range(L):
        column = probs[:, i].copy()
        if filter_outlier:
            threshold = np.percentile(column, 97, method="higher")
            column[column >= threshold] = 0.0
        best = int(np.argmax(column))
        if column[best] <= 0:
            raise NoisylabError(f"class {i} has no anchor candidate (no training sample gives "
                                "it a positive probability); use T: known or another method")
        T[i] = probs[best]
    return T / T.sum(axis=1, keepdims=True)


def confusion_channel(predicted: np.ndarray, noisy: np.ndarray, num_classes: int) -> np.ndarray:
    """Row-normalised confusion of predicted class (rows) with noisy label (columns).

    A class the model never predicts gets the identity row.
    """
    L = int(num_classes)
    C = np.zeros((L, L))
    np.add.at(C, (np.asarray(predicted, dtype=np.int64), np.asarray(noisy, dtype=np.int64)), 1)
    counts = C.sum(axis=1, keepdims=True)
    eye = np.eye(L)
    return np.where(counts > 0, C / np.maximum(counts, 1), eye)


def max_abs_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """max |T̂ − T| over the entries."""
    return float(np.max(np.abs(np.asarray(estimate) - np.asarray(truth))))
