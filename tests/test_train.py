"""Tests for noisylab.training.loop: shapes, best-epoch restore, early stopping, seeds, options,
errors. Every test needs Keras, so the whole module is slow.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.slow
keras = pytest.importorskip("keras")

from noisylab.config import TrainOptions  # noqa: E402
from noisylab.data import load_digits  # noqa: E402
from noisylab.errors import NoisylabError  # noqa: E402
from noisylab.training.loop import _BestWeights, train_model  # noqa: E402
from noisylab.training.result import TrainResult  # noqa: E402
from noisylab.training.stopping import StoppingRule  # noqa: E402

# Recommended digits defaults (also the test of the >= 0.95 clean-accuracy promise).
DIGITS_OPTIONS = TrainOptions(model="seed-cnn")


@pytest.fixture(scope="module")
def digits():
    return load_digits(test_size=0.2, seed=0)


@pytest.fixture(scope="module")
def tiny(digits):
    """300 train, 100 val, 100 test digits: enough to learn something in 2-3 epochs."""
    x, y = digits.x_train, digits.y_train
    return x[:300], y[:300], x[300:400], y[300:400], x[400:500], y[400:500]


def _train(tiny, **kwargs):
    x_tr, y_tr, x_va, y_va, x_te, _ = tiny
    options = kwargs.pop("options", TrainOptions(epochs=3, patience=3, batch_size=32))
    return train_model(
        x_tr, y_tr, x_va, y_va, x_te, options=options, num_classes=10, seed=kwargs.pop("seed", 0),
        **kwargs,
    )


def _tiny_model():
    inputs = keras.Input((2,))
    return keras.Model(inputs, keras.layers.Dense(1, name="d")(inputs))


def test_best_weights_restores_the_best_epoch_and_stops_after_patience():
    model = _tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    callback = _BestWeights(StoppingRule(patience=2, min_epochs=0, threshold=-np.inf))
    callback.set_model(model)
    weights = {}
    for epoch, val_acc in enumerate([0.5, 0.7, 0.7, 0.6]):
        kernel = np.full((2, 1), float(epoch), dtype=np.float32)
        model.get_layer("d").set_weights([kernel, np.zeros(1, np.float32)])
        weights[epoch] = kernel
        logs = {"val_accuracy": val_acc}
        callback.on_epoch_end(epoch, logs)
        assert logs["learning_rate"] == pytest.approx(1e-3)
        assert model.stop_training is (epoch == 3)
    callback.on_train_end()
    assert callback.best_epoch == 2  # the first of the tied best epochs, 1-based
    np.testing.assert_array_equal(model.get_layer("d").get_weights()[0], weights[1])


def test_result_shapes_and_consistency(tiny):
    calls = []
    result = _train(tiny, on_epoch_end=lambda epoch, logs: calls.append((epoch, logs)))
    assert isinstance(result, TrainResult)
    assert result.epochs == 3
    assert 1 <= result.best_epoch <= result.epochs
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}
    assert all(len(v) == result.epochs for v in result.history.values())
    assert result.best_epoch - 1 == int(np.argmax(result.history["val_accuracy"]))
    assert result.test_probs.shape == (100, 10) and result.test_probs.dtype == np.float32
    assert result.train_probs.shape == (300, 10) and result.train_probs.dtype == np.float32
    np.testing.assert_allclose(result.test_probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(result.train_probs.sum(axis=1), 1.0, rtol=1e-5)
    assert result.train_seconds > 0
    assert result.images_per_second == pytest.approx(300 * 3 / result.train_seconds)
    assert result.model is None
    assert [epoch for epoch, _ in calls] == [1, 2, 3]
    assert calls[-1][1]["val_accuracy"] == pytest.approx(result.history["val_accuracy"][-1])


def test_final_weights_are_the_best_epochs(tiny):
    # A high learning rate makes validation accuracy wobble: the best epoch is often not the last.
    options = TrainOptions(epochs=4, patience=4, batch_size=32, learning_rate=1e-2)
    result = _train(tiny, options=options, keep_model=True)
    _, _, x_va, y_va, _, _ = tiny
    probs = keras.ops.convert_to_numpy(result.model(x_va.astype(np.float32), training=False))
    val_acc = float(np.mean(probs.argmax(axis=1) == y_va))
    assert val_acc == pytest.approx(result.history["val_accuracy"][result.best_epoch - 1], abs=1e-6)
    assert val_acc == pytest.approx(max(result.history["val_accuracy"]), abs=1e-6)


@pytest.mark.parametrize("method", [None, "coteaching"])
def test_last_epoch_weights_when_restore_best_is_off(tiny, method):
    """restore_best=False tests the last epoch's weights, in fit and in the two-network loop."""
    from noisylab.training.methods import get_method
    from noisylab.training.result import MethodCall

    call = None if method is None else MethodCall(
        name=method, options=get_method(method).resolve(), noise="symmetric", level=0.2,
        transition=np.eye(10), sample_index=np.arange(len(tiny[1])))
    options = TrainOptions(epochs=4, patience=4, batch_size=32, learning_rate=1e-2,
                           restore_best=False)
    result = _train(tiny, options=options, keep_model=True, method=call)
    _, _, x_va, y_va, _, _ = tiny
    probs = keras.ops.convert_to_numpy(result.model(x_va.astype(np.float32), training=False))
    val_acc = float(np.mean(probs.argmax(axis=1) == y_va))
    assert result.epochs == 4
    assert val_acc == pytest.approx(result.history["val_accuracy"][-1], abs=1e-6)


def test_early_stopping_when_validation_cannot_improve(tiny):
    x_tr, y_tr, _, _, x_te, _ = tiny
    # Ten identical blank images labelled 0..9: whatever the model predicts, exactly one is right.
    x_va = np.zeros((10, *x_tr.shape[1:]), dtype=x_tr.dtype)
    y_va = np.arange(10)
    options = TrainOptions(epochs=10, patience=2, min_epochs=1, batch_size=32)
    result = train_model(x_tr, y_tr, x_va, y_va, x_te, options=options, num_classes=10, seed=0)
    assert result.history["val_accuracy"] == pytest.approx([0.1] * 3)
    # Never above chance: it gives up after min_epochs + patience = 3 epochs.
    assert result.epochs == 3
    assert result.best_epoch == 1


@pytest.mark.parametrize(("model", "augment"), [("seed-cnn", False), ("robust-cnn", True)])
def test_same_seed_is_reproducible_and_seeds_differ(tiny, model, augment):
    # robust-cnn with augmentation also covers dropout and the augmentation layers' seeds.
    options = TrainOptions(
        model=model, epochs=2, patience=2, batch_size=32, augment=augment, deterministic=True
    )
    first = _train(tiny, options=options, seed=7)
    second = _train(tiny, options=options, seed=7)
    other = _train(tiny, options=options, seed=8)
    np.testing.assert_array_equal(first.test_probs, second.test_probs)
    np.testing.assert_array_equal(first.train_probs, second.train_probs)
    assert first.history == second.history
    assert not np.array_equal(first.test_probs, other.test_probs)


# Keras' own ReduceLROnPlateau converts its learning-rate variable with a NumPy 2 deprecation.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_options_augment_reduce_lr_and_mixed_precision(tiny):
    options = TrainOptions(
        model="robust-cnn", epochs=2, patience=2, batch_size=64,
        augment=True, reduce_lr=True, mixed_precision=True,
    )
    result = _train(tiny, options=options, dataset_name="digits", keep_model=True)
    assert keras.mixed_precision.global_policy().name == "float32"
    assert result.model.dtype_policy.name == "mixed_bfloat16"
    assert result.test_probs.dtype == np.float32
    np.testing.assert_allclose(result.test_probs.sum(axis=1), 1.0, rtol=1e-2)
    assert len(result.history["learning_rate"]) == result.epochs


def test_clean_digits_reach_95_percent(digits):
    rng = np.random.default_rng(0)
    order = rng.permutation(len(digits.y_test))
    val, test = order[: len(order) // 2], order[len(order) // 2 :]
    result = train_model(
        digits.x_train, digits.y_train, digits.x_test[val], digits.y_test[val],
        digits.x_test[test], options=DIGITS_OPTIONS, num_classes=10, seed=0,
    )
    accuracy = float(np.mean(result.test_probs.argmax(axis=1) == digits.y_test[test]))
    assert accuracy >= 0.95, result.history


@pytest.mark.parametrize("name", ["drory-mnist", "robust-cnn"])
def test_batchnorm_models_work_at_inference(digits, name):
    # Regression: with Keras' default BatchNorm momentum (0.99) these reached 100 % training
    # accuracy on digits while predicting a single class at inference (validation ~0.1).
    options = TrainOptions(model=name, epochs=5, patience=5, batch_size=64, learning_rate=1e-3)
    result = train_model(
        digits.x_train, digits.y_train, digits.x_test[:180], digits.y_test[:180],
        digits.x_test[180:], options=options, num_classes=10, seed=0,
    )
    assert max(result.history["val_accuracy"]) >= 0.9, result.history
    accuracy = float(np.mean(result.test_probs.argmax(axis=1) == digits.y_test[180:]))
    assert accuracy >= 0.9


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"model": "vgg"}, "unknown model 'vgg'; valid: seed-cnn"),
        ({"epochs": 0}, "train.epochs must be an integer >= 1, got 0"),
        ({"batch_size": 1.5}, "train.batch_size must be an integer >= 1, got 1.5"),
        ({"learning_rate": 0.0}, "train.learning_rate must be > 0, got 0.0"),
    ],
)
def test_bad_options_are_user_errors(tiny, change, match):
    # TrainOptions checks its own values; train_model checks the model name in the registry.
    with pytest.raises(NoisylabError, match=match):
        _train(tiny, options=dataclasses.replace(TrainOptions(), **change))


def test_bad_data_are_user_errors(tiny):
    x_tr, y_tr, x_va, y_va, x_te, _ = tiny
    options = TrainOptions(epochs=1)
    with pytest.raises(NoisylabError, match=r"train labels must be in \[0, 10\), got values in"):
        train_model(x_tr, y_tr + 1, x_va, y_va, x_te, options=options, num_classes=10, seed=0)
    with pytest.raises(NoisylabError, match="the val split is empty"):
        train_model(x_tr, y_tr, x_va[:0], y_va[:0], x_te, options=options, num_classes=10, seed=0)
    with pytest.raises(NoisylabError, match="same"):
        train_model(x_tr, y_tr, x_va[:, :4], y_va, x_te, options=options, num_classes=10, seed=0)
    with pytest.raises(NoisylabError,
                       match=r"seed must be an integer in \[0, 4294967296\), got -1"):
        train_model(x_tr, y_tr, x_va, y_va, x_te, options=options, num_classes=10, seed=-1)
