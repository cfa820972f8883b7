"""Per-run metrics: accuracy, F1, detection scores, realized transitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from noisylab.errors import NoisylabError
from noisylab.metrics import (
    accuracy,
    detection_scores,
    f1,
    per_sample_loss,
    run_metrics,
)


def test_accuracy_and_f1_known_values():
    y = np.array([0, 0, 1, 1])
    p = np.array([0, 1, 1, 1])
    assert accuracy(y, p) == 0.75
    # class 0: P=1, R=.5, F1=2/3; class 1: P=2/3, R=1, F1=.8
    assert f1(y, p, average="macro") == pytest.approx((2 / 3 + 0.8) / 2)
    assert f1(y, p, average="weighted") == pytest.approx((2 / 3 + 0.8) / 2)
    y2 = np.array([0, 1, 1, 1])
    assert f1(y2, np.array([0, 1, 1, 0]), average="weighted") == pytest.approx(
        0.25 * (2 / 3) + 0.75 * 0.8)


def test_macro_f1_counts_absent_classes_when_asked():
    y = np.array([0, 1])
    assert f1(y, y, average="macro") == 1.0
    assert f1(y, y, average="macro", num_classes=4) == 0.5


def test_bad_inputs():
    with pytest.raises(NoisylabError, match="same length, got 2 and 3"):
        accuracy([0, 1], [0, 1, 1])
    with pytest.raises(NoisylabError, match="average must be"):
        f1([0], [0], average="micro")
    assert math.isnan(accuracy([], []))


def test_per_sample_loss():
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [1.0, 0.0]])
    loss = per_sample_loss(probs, [0, 1, 1])
    assert loss[0] == pytest.approx(np.log(2))
    assert loss[1] == pytest.approx(-np.log(0.1))
    assert np.isfinite(loss[2])


def test_detection_perfect_random_and_degenerate():
    corrupted = np.array([False, False, True, True])
    assert detection_scores([0.1, 0.2, 0.8, 0.9], corrupted) == (1.0, 1.0)
    auroc, ap = detection_scores([0.9, 0.8, 0.2, 0.1], corrupted)
    assert auroc == 0.0 and ap < 0.6
    for mask in (np.zeros(4, bool), np.ones(4, bool)):
        a, b = detection_scores(np.arange(4.0), mask)
        assert math.isnan(a) and math.isnan(b)


def test_run_metrics_memorization_and_detection():
    y_true = np.array([0, 1, 0, 1, 0, 1])
    y_noisy = np.array([0, 1, 0, 1, 1, 0])       # last two corrupted
    # A model that memorised the noisy labels: train acc vs noisy 1, vs true 4/6.
    train_probs = np.eye(2)[y_noisy] * 0.98 + 0.01
    test_probs = np.eye(2)[[0, 1, 1]] * 0.9 + 0.05
    m = run_metrics(test_probs=test_probs, y_test=[0, 1, 0], y_test_noisy=[0, 1, 1],
                    train_probs=train_probs, y_train_true=y_true, y_train_noisy=y_noisy,
                    num_classes=2)
    assert m["train_acc_noisy"] == 1.0
    assert m["train_acc_true"] == pytest.approx(4 / 6)
    assert m["test_accuracy"] == pytest.approx(2 / 3)
    assert m["test_f1_noisy"] == 1.0
    # memorised: corrupted samples have low loss like the rest -> no better than chance
    assert m["detection_auroc"] == pytest.approx(0.5)
    assert set(m) == {"test_accuracy", "test_f1", "test_f1_macro", "test_f1_noisy",
                      "train_acc_noisy", "train_acc_true", "detection_auroc", "detection_ap"}
