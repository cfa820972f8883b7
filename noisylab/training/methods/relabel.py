"""Label correction by confident predictions, numpy only (the CIFAR-10 label-noise guide).

A CE model is trained on the noisy labels first; every training sample whose largest softmax
probability is at least ``threshold`` gets the predicted class as its label, the others keep
theirs, and a fresh model is trained from scratch on the corrected labels.
"""

from __future__ import annotations

import numpy as np

from noisylab.errors import NoisylabError


def correct_labels(probs: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """The corrected labels: argmax p where max p >= ``threshold``, else the given label.

    Parameters
    ----------
    probs : ndarray of shape (n, L)
        A CE model's softmax on the training samples.
    labels : ndarray of shape (n,)
        Their (noisy) labels.
    threshold : float
        The confidence from which a prediction replaces the label, in (0, 1].

    Returns
    -------
    ndarray of shape (n,), int64
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0] or not np.all(np.isfinite(probs)):
        raise NoisylabError(f"label correction needs finite probabilities of shape (n, L) for "
                            f"{labels.shape[0]} labels, got shape {probs.shape}")
    confident = probs.max(axis=1) >= float(threshold)
    return np.where(confident, probs.argmax(axis=1), labels).astype(np.int64)


def correction_scores(noisy: np.ndarray, corrected: np.ndarray, true: np.ndarray) -> dict:
    """What a label correction did, against the true labels (known to the sweep only).

    Returns
    -------
    dict of str to float
        ``labels_changed`` (how many labels changed), ``changes_right`` (how many of those now
        equal the true label), ``selection_precision`` (fraction of the changed labels that were
        corrupted; nan when none changed) and ``selection_recall`` (fraction of the corrupted
        labels that were changed; nan when none was corrupted).
    """
    noisy, corrected, true = (np.asarray(a, dtype=np.int64) for a in (noisy, corrected, true))
    changed = corrected != noisy
    corrupted = noisy != true
    n_changed, n_corrupted = int(changed.sum()), int(corrupted.sum())
    hits = int((changed & corrupted).sum())
    return {
        "labels_changed": float(n_changed),
        "changes_right": float((changed & (corrected == true)).sum()),
        "selection_precision": hits / n_changed if n_changed else float("nan"),
        "selection_recall": hits / n_corrupted if n_corrupted else float("nan"),
    }
