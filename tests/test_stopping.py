"""Tests for noisylab.training.stopping (the early-stopping rule and the chance test) and for the
Keras callback that applies it, driven by a fake model (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from noisylab.training.stopping import StoppingRule, at_chance, chance_threshold


def _stop_epoch(values, **kwargs):
    """1-based epoch at which the rule stops (None: it never does) and the rule."""
    rule = StoppingRule(**kwargs)
    for epoch, value in enumerate(values, start=1):
        _, stop = rule.update(value)
        if stop:
            return epoch, rule
    return None, rule


def test_chance_threshold_is_majority_rate_plus_two_standard_errors():
    # 100 labels, majority class 0 with 40: 0.4 + 2 * sqrt(0.4 * 0.6 / 100) = 0.4979795897...
    y = np.array([0] * 40 + [1] * 30 + [2] * 30)
    assert chance_threshold(y) == pytest.approx(0.49797958971, abs=1e-10)
    # balanced 10 classes, 1000 labels: 0.1 + 2 * sqrt(0.09 / 1000) = 0.118973665961
    assert chance_threshold(np.repeat(np.arange(10), 100)) == pytest.approx(0.118973665961)
    assert chance_threshold(np.array([], dtype=int)) == 1.0


def test_at_chance_set_and_cleared():
    assert at_chance([0.10, 0.11, 0.118], 0.119) is True
    assert at_chance([0.10, 0.5, 0.2], 0.119) is False        # one epoch above clears it
    assert at_chance([0.119], 0.119) is True                   # equal is not above
    assert at_chance([], 0.119) is True
    assert at_chance([float("nan"), 0.3], 0.119) is False


def test_warm_up_is_respected():
    # Best at epoch 1, never improved: patience 2 counts epochs 4 and 5 only (warm-up 3).
    epoch, rule = _stop_epoch([0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], patience=2, min_epochs=3,
                              threshold=0.2)
    assert epoch == 5
    assert rule.best_epoch == 1 and rule.learning_epoch == 1
    # Without a warm-up the same run stops at epoch 3.
    assert _stop_epoch([0.9, 0.5, 0.5, 0.5], patience=2, min_epochs=0, threshold=0.2)[0] == 3


def test_patience_counts_from_the_first_epoch_above_chance():
    # At chance (<= 0.3) for epochs 1-4, learns at epoch 5, best at 6, then flat: stops at 6 + 3.
    values = [0.1, 0.2, 0.1, 0.3, 0.5, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7]
    epoch, rule = _stop_epoch(values, patience=3, min_epochs=3, threshold=0.3)
    assert rule.learning_epoch == 5
    assert rule.best_epoch == 6
    assert epoch == 9
    assert rule.at_chance is False


def test_a_new_best_resets_the_count():
    values = [0.5, 0.4, 0.6, 0.55, 0.65, 0.6, 0.6, 0.6]
    epoch, rule = _stop_epoch(values, patience=2, min_epochs=0, threshold=0.2)
    assert (epoch, rule.best_epoch) == (7, 5)


def test_a_run_that_never_beats_chance_gives_up_after_warm_up_plus_patience():
    epoch, rule = _stop_epoch([0.1] * 20, patience=4, min_epochs=3, threshold=0.12)
    assert epoch == 7
    assert rule.at_chance is True
    assert rule.best_epoch == 1  # the first of the tied epochs
    assert rule.wait == 0        # the clock never started


def test_ties_keep_the_first_best_and_nan_is_never_best():
    rule = StoppingRule(patience=5, min_epochs=0, threshold=-math.inf)
    assert rule.update(0.5) == (True, False)
    assert rule.update(0.5) == (False, False)
    assert rule.update(float("nan")) == (False, False)
    assert rule.best_epoch == 1


class _FakeOptimizer:
    learning_rate = 1e-3


class _FakeModel:
    """What the callback touches: weights, stop_training, optimizer.learning_rate."""

    def __init__(self):
        self.weights = [np.zeros(2)]
        self.stop_training = False
        self.optimizer = _FakeOptimizer()

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.asarray(w).copy() for w in weights]


@pytest.mark.slow  # imports Keras (the fast suite must not)
def test_callback_restores_the_best_weights_and_stops_by_the_rule():
    pytest.importorskip("keras")
    from noisylab.training.loop import _BestWeights

    model = _FakeModel()
    callback = _BestWeights(StoppingRule(patience=2, min_epochs=2, threshold=0.15))
    callback.set_model(model)
    # at chance, at chance, learns, best, worse, worse (stop: 2 counted epochs after the best)
    values = [0.1, 0.12, 0.5, 0.8, 0.7, 0.6, 0.9]
    stopped_at = None
    for epoch, value in enumerate(values):
        model.weights = [np.full(2, float(epoch))]
        logs = {"val_accuracy": value}
        callback.on_epoch_end(epoch, logs)
        assert logs["learning_rate"] == pytest.approx(1e-3)
        if model.stop_training:
            stopped_at = epoch + 1
            break
    callback.on_train_end()
    assert stopped_at == 6
    assert callback.best_epoch == 4
    np.testing.assert_array_equal(model.weights[0], np.full(2, 3.0))  # epoch 4's (0-based 3)
    assert callback.rule.at_chance is False


@pytest.mark.slow  # imports Keras
def test_callback_needs_the_monitored_value():
    pytest.importorskip("keras")
    from noisylab.training.loop import _BestWeights

    callback = _BestWeights(StoppingRule(patience=1, min_epochs=0, threshold=0.0))
    callback.set_model(_FakeModel())
    with pytest.raises(RuntimeError, match="monitors 'val_accuracy'"):
        callback.on_epoch_end(0, {"loss": 1.0})
