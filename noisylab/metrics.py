"""Per-run metrics from predictions and labels (numpy and scikit-learn only).

Every function takes arrays and returns plain floats, so the sweep, the tests and the benchmark can
share them without Keras.
"""

from __future__ import annotations

import numpy as np

from noisylab.errors import NoisylabError
from noisylab.validate import check_choice


def _labels(name: str, values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise NoisylabError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = _labels("y_true", y_true), _labels("y_pred", y_pred)
    if y_true.shape != y_pred.shape:
        raise NoisylabError(
            f"y_true and y_pred must have the same length, got {y_true.size} and {y_pred.size}")
    return y_true, y_pred


def accuracy(y_true, y_pred) -> float:
    """Fraction of ``y_pred == y_true``; NaN for empty input.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (n,), int
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred)) if y_true.size else float("nan")


def f1(y_true, y_pred, *, average: str = "weighted", num_classes: int | None = None) -> float:
    """F1 score, ``average`` in {'weighted', 'macro'}; NaN for empty input.

    ``num_classes`` fixes the label set to ``range(num_classes)`` so that a class that never
    occurs in either array counts as F1 = 0 under the macro average rather than being dropped.
    """
    from sklearn.metrics import f1_score

    check_choice(average, "average", ("weighted", "macro"))
    y_true, y_pred = _pair(y_true, y_pred)
    if not y_true.size:
        return float("nan")
    labels = None if num_classes is None else np.arange(num_classes)
    return float(f1_score(y_true, y_pred, labels=labels, average=average, zero_division=0))


def per_sample_loss(probs, labels, *, eps: float = 1e-7) -> np.ndarray:
    """Cross-entropy of each sample against its (possibly noisy) label.

    Parameters
    ----------
    probs : ndarray of shape (n, L)
        Softmax outputs.
    labels : array_like of shape (n,), int

    Returns
    -------
    ndarray of shape (n,), float64
        ``-log(max(probs[i, labels[i]], eps))``.
    """
    probs = np.asarray(probs)
    labels = _labels("labels", labels)
    if probs.ndim != 2 or probs.shape[0] != labels.size:
        raise NoisylabError(
            f"probs must have shape (n, L) with n = {labels.size}, got {probs.shape}")
    picked = probs[np.arange(labels.size), labels].astype(np.float64)
    return -np.log(np.clip(picked, eps, 1.0))


def detection_scores(scores, corrupted) -> tuple[float, float]:
    """How well ``scores`` (higher = more suspicious) flag the corrupted labels.

    Parameters
    ----------
    scores : array_like of shape (n,)
        E.g. the per-sample training loss.
    corrupted : array_like of shape (n,), bool
        The known mask of labels that the noise changed.

    Returns
    -------
    auroc, average_precision : float
        Both NaN when the mask is all False or all True (nothing to rank).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = np.asarray(scores, dtype=np.float64)
    corrupted = np.asarray(corrupted, dtype=bool)
    if scores.shape != corrupted.shape or scores.ndim != 1:
        raise NoisylabError(
            f"scores and corrupted must be 1-D of the same length, got {scores.shape} and "
            f"{corrupted.shape}")
    positives = int(corrupted.sum())
    if positives == 0 or positives == corrupted.size:
        return float("nan"), float("nan")
    return (float(roc_auc_score(corrupted, scores)),
            float(average_precision_score(corrupted, scores)))


def run_metrics(*, test_probs, y_test, y_test_noisy, train_probs, y_train_true, y_train_noisy,
                num_classes: int) -> dict[str, float]:
    """All per-run metrics of the sweep's ``runs.csv``.

    Parameters
    ----------
    test_probs : ndarray of shape (n_test, L)
    y_test : array_like of shape (n_test,)
        True test labels.
    y_test_noisy : array_like of shape (n_test,)
        Test labels noised by the same injector as the training labels.
    train_probs : ndarray of shape (n_train, L)
        Predictions on the training images (best weights).
    y_train_true, y_train_noisy : array_like of shape (n_train,)
        The labels before and after the noise; the model was trained on ``y_train_noisy``.
    num_classes : int

    Returns
    -------
    dict
        ``test_accuracy, test_f1, test_f1_macro, test_f1_noisy, train_acc_noisy, train_acc_true,
        detection_auroc, detection_ap``.
    """
    test_pred = np.asarray(test_probs).argmax(axis=1)
    train_pred = np.asarray(train_probs).argmax(axis=1)
    y_train_true = _labels("y_train_true", y_train_true)
    y_train_noisy = _labels("y_train_noisy", y_train_noisy)
    auroc, ap = detection_scores(per_sample_loss(train_probs, y_train_noisy),
                                 y_train_true != y_train_noisy)
    return {
        "test_accuracy": accuracy(y_test, test_pred),
        "test_f1": f1(y_test, test_pred, average="weighted", num_classes=num_classes),
        "test_f1_macro": f1(y_test, test_pred, average="macro", num_classes=num_classes),
        "test_f1_noisy": f1(y_test_noisy, test_pred, average="weighted",
                            num_classes=num_classes),
        "train_acc_noisy": accuracy(y_train_noisy, train_pred),
        "train_acc_true": accuracy(y_train_true, train_pred),
        "detection_auroc": auroc,
        "detection_ap": ap,
    }
