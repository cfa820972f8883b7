"""Train one model from scratch on one (noisy) label set and return a `TrainResult`; no files.

The protocol: a fresh model from `noisylab.training.models` (never warm-started), Adam, sparse
categorical cross-entropy on the softmax output (or a robust method's loss, see
`noisylab.training.methods`), early stopping on the validation accuracy by
`noisylab.training.stopping.StoppingRule` (a warm-up of ``min_epochs``, patience counted from the
first epoch above chance) with the best epoch's weights restored whether or not training stopped
early, and, on request,
ReduceLROnPlateau, augmentation, ``mixed_bfloat16`` and TensorFlow op determinism.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable

import keras
import numpy as np

from noisylab.config import TrainOptions
from noisylab.errors import NoisylabError
from noisylab.training.methods import get_method as _get_method
from noisylab.training.models import build_model, check_model_name
from noisylab.training.recipe import resolve_recipe
from noisylab.training.result import MethodCall, TrainResult
from noisylab.training.stopping import StoppingRule, chance_threshold
from noisylab.validate import check_scalar

# Inference only: large batches amortise the per-batch overhead.
_PREDICT_BATCH = 1024
_HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


class _BestWeights(keras.callbacks.Callback):
    """Early stopping by `noisylab.training.stopping.StoppingRule`, restoring the best weights.

    Keras' own ``EarlyStopping`` has neither the warm-up nor the patience counted from the first
    epoch above chance, and older Keras versions restored the best weights only when they stopped
    early; this callback restores them at the end of training in every case. Weights are copied
    only on improvement.
    """

    def __init__(self, rule: StoppingRule, monitor: str = "val_accuracy", restore: bool = True):
        super().__init__()
        self.rule = rule
        self.monitor = monitor
        self.restore = restore
        self.best_weights = None

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the best validation accuracy (0 before the first epoch)."""
        return self.rule.best_epoch

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "learning_rate" not in logs:
            # The rate in effect during this epoch, so the history always records it.
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = (logs or {}).get(self.monitor)
        if current is None:
            raise RuntimeError(f"early stopping monitors {self.monitor!r}, missing from the logs")
        improved, stop = self.rule.update(float(current))
        if improved and self.restore:
            self.best_weights = self.model.get_weights()
        if stop:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class _BaseValidation(keras.callbacks.Callback):
    """Scores the base network (not the noise channel on top) on the validation set.

    Listed before `_BestWeights`, it replaces ``val_accuracy`` in the epoch's logs, so early
    stopping and the best epoch follow the network that is tested; the channel's own score is
    kept as ``val_accuracy_channel``.
    """

    def __init__(self, base: keras.Model, x_val: np.ndarray, y_val: np.ndarray):
        super().__init__()
        self.base, self.x_val, self.y_val = base, x_val, y_val

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        probs = _predict(self.base, self.x_val)
        logs["val_accuracy_channel"] = logs.get("val_accuracy")
        logs["val_accuracy"] = float(np.mean(probs.argmax(axis=1) == self.y_val))


class _EpochHook(keras.callbacks.Callback):
    def __init__(self, hook: Callable[[int, dict], None]):
        super().__init__()
        self.hook = hook

    def on_epoch_end(self, epoch, logs=None):
        self.hook(epoch + 1, {k: float(v) for k, v in (logs or {}).items()})


def _check_data(x_train, y_train, x_val, y_val, x_test, num_classes: int) -> None:
    if x_train.ndim != 4 or x_val.shape[1:] != x_train.shape[1:] or (
        x_test.shape[1:] != x_train.shape[1:]
    ):
        raise NoisylabError(
            "images must be (n, H, W, C) with the same (H, W, C) in every split, got "
            f"train {x_train.shape}, val {x_val.shape}, test {x_test.shape}"
        )
    for split, x, y in (("train", x_train, y_train), ("val", x_val, y_val)):
        if len(x) == 0:
            raise NoisylabError(f"the {split} split is empty")
        if y.shape != (len(x),):
            raise NoisylabError(
                f"{split} labels must have shape ({len(x)},), got {y.shape}"
            )
        if y.min() < 0 or y.max() >= num_classes:
            raise NoisylabError(
                f"{split} labels must be in [0, {num_classes}), got values in "
                f"[{y.min()}, {y.max()}]"
            )


def _set_determinism(seed: int, deterministic: bool) -> None:
    check_scalar(seed, "seed", kind=int, low=0, high=2**32, closed="left")
    # Seeds Python, NumPy and the backend; fit's shuffling and the layers' initialisers, dropout
    # and augmentation all draw from it.
    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Process-wide and not undone afterwards: it only removes nondeterministic kernels.
        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def fresh_session(seed: int, options: TrainOptions):
    """Where one run builds and trains its models: a cleared Keras session (the previous run's
    graphs freed and layer-name counters reset, so a sweep's memory stays flat), the seed and
    determinism set, the ``mixed_bfloat16`` policy on request and the previous policy restored
    on exit."""
    keras.backend.clear_session()
    previous_policy = keras.mixed_precision.global_policy()
    try:
        _set_determinism(seed, options.deterministic)
        if options.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_bfloat16")
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def fresh_model(options: TrainOptions, x_train: np.ndarray, num_classes: int,
                dataset_name: str | None) -> keras.Model:
    """A freshly initialised ``options.model`` for images shaped like ``x_train``."""
    return build_model(options.model, input_shape=x_train.shape[1:], num_classes=num_classes,
                       augment=options.augment, dataset_name=dataset_name)


def train_model(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    x_test: np.ndarray,
    *,
    options: TrainOptions,
    num_classes: int,
    seed: int,
    dataset_name: str | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    keep_model: bool = False,
    method: MethodCall | None = None,
) -> TrainResult:
    """Train a fresh model on one label set, stopping early on the validation accuracy.

    Parameters
    ----------
    x_train : ndarray of shape (n_train, H, W, C)
        Raw images (uint8 or float, values in [0, 255]); the model rescales them.
    y_train : ndarray of shape (n_train,), int
        Training labels, possibly noisy, in [0, num_classes).
    x_val : ndarray of shape (n_val, H, W, C)
    y_val : ndarray of shape (n_val,), int
        Validation labels (clean or noisy, per the sweep's validation policy).
    x_test : ndarray of shape (n_test, H, W, C)
        Predicted once with the restored weights; its labels are never seen here.
    options : TrainOptions
        Model name, epochs, patience, batch size, learning rate and switches.
    num_classes : int
        L, the width of the softmax.
    seed : int
        Model seed in [0, 2**32): initialisation, data order, dropout and augmentation.
    dataset_name : str, optional
        Passed to `noisylab.training.models.build_model` (horizontal flips for CIFAR).
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, logs)`` after each epoch, ``epoch`` 1-based and ``logs``
        a dict of floats (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ...).
    keep_model : bool
        Return the trained model in `TrainResult.model` (e.g. to extract features).
    method : MethodCall, optional
        A robust training method (None or ``ce``: plain cross-entropy). A method that needs a
        CE model first (``T: estimated``, ``noise-adaptation``, ``label-correction``) trains it
        here with the same data and seed — the very model of the ``ce`` run at the same grid
        point — and then a fresh model with its own loss (label correction: on its corrected
        labels). A two-network method (co-teaching, co-teaching+, decoupling) or one with
        per-sample state (ELR) trains in `noisylab.training.batchloop` instead.

    Returns
    -------
    TrainResult

    Raises
    ------
    NoisylabError
        Unknown model, bad options, mismatched shapes, labels out of range or a seed out of range.
    """
    check_model_name(options.model)  # the other options were checked by TrainOptions
    _check_data(x_train, y_train, x_val, y_val, x_test, num_classes)
    seed = int(seed)
    loss: str | Callable = "sparse_categorical_crossentropy"
    channel = None
    artifacts: dict[str, np.ndarray] = {}
    if method is not None and _get_method(method.name).batchwise:
        from noisylab.training.batchloop import fit_batchwise

        return fit_batchwise(x_train, y_train, x_val, y_val, x_test, options=options,
                         num_classes=num_classes, seed=seed, dataset_name=dataset_name,
                         on_epoch_end=on_epoch_end, keep_model=keep_model, method=method.name,
                         method_options=_get_method(method.name).resolve(method.options),
                         level=float(method.level))
    if method is not None and method.name != "ce":
        loss, channel, artifacts, y_train = _prepare_method(
            method, x_train, y_train, x_val, y_val, x_test, options=options,
            num_classes=num_classes, seed=seed, dataset_name=dataset_name)
    result = _fit(x_train, y_train, x_val, y_val, x_test, options=options,
                  num_classes=num_classes, seed=seed, dataset_name=dataset_name,
                  on_epoch_end=on_epoch_end, keep_model=keep_model, loss=loss, channel=channel)
    if channel is not None:
        artifacts["channel_final"] = result.artifacts["channel_final"]
    return dataclasses.replace(result, artifacts=artifacts)


def _prepare_method(method: MethodCall, x_train, y_train, x_val, y_val, x_test, *, options,
                    num_classes, seed, dataset_name):
    """The loss, the channel layer on top (``(method name, initial matrix, options)``, or None), the
    artifacts of a method and the labels its model trains on (``y_train`` but for label
    correction)."""
    from noisylab.training.methods import get_method
    from noisylab.training.methods.losses import make_loss, symmetric_channel
    from noisylab.training.methods.relabel import correct_labels
    from noisylab.training.methods.transition import confusion_channel, estimate_transition

    spec = get_method(method.name)
    opts = spec.resolve(method.options)
    artifacts: dict[str, np.ndarray] = {}
    ce = None
    if spec.needs_ce_model(opts):
        ce = _fit(x_train, y_train, x_val, y_val, x_test[:0], options=options,
                  num_classes=num_classes, seed=seed, dataset_name=dataset_name,
                  on_epoch_end=None, keep_model=False, loss="sparse_categorical_crossentropy",
                  channel=None)
    transition = None
    if spec.transition:
        if opts["T"] == "known":
            transition = np.asarray(method.transition, dtype=np.float64)
        else:
            transition = estimate_transition(ce.train_probs,
                                             filter_outlier=opts["filter_outlier"])
            artifacts["transition_estimated"] = transition
    channel = None
    if method.name == "noise-adaptation":
        channel = (method.name,
                   confusion_channel(ce.train_probs.argmax(axis=1), y_train, num_classes), opts)
    elif method.name == "nnaqc":
        channel = (method.name, symmetric_channel(num_classes, opts["init_diag"]), opts)
    if channel is not None:
        artifacts["channel_initial"] = channel[1]
    if method.name == "label-correction":
        corrected = correct_labels(ce.train_probs, y_train, opts["threshold"])
        artifacts["labels_corrected"] = corrected
        y_train = corrected
    loss = make_loss(method.name, opts, num_classes=num_classes, transition=transition)
    return loss, channel, artifacts, y_train


def _fit(x_train, y_train, x_val, y_val, x_test, *, options, num_classes, seed, dataset_name,
         on_epoch_end, keep_model, loss, channel) -> TrainResult:
    """One fresh model trained with ``loss``, and when ``channel`` is given, ``(method name,
    initial matrix, options)``, that method's channel layer on top (`losses.make_channel`)."""
    with fresh_session(seed, options):
        model = fresh_model(options, x_train, num_classes, dataset_name)
        learning_rate, batch_size = resolve_recipe(options.learning_rate, options.batch_size,
                                                   len(x_train))
        trained = model
        layer = None
        metrics: list = ["accuracy"]
        if channel is not None:
            from noisylab.training.methods.losses import channel_accuracy, make_channel

            inputs = keras.Input(shape=x_train.shape[1:])
            layer = make_channel(*channel)
            trained = keras.Model(inputs, layer(model(inputs)))
            metrics = [channel_accuracy(num_classes)]
        trained.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate,
                                            epsilon=options.adam_epsilon),
            loss=loss,
            metrics=metrics,
        )
        rule = StoppingRule(patience=options.patience, min_epochs=options.min_epochs,
                            threshold=chance_threshold(y_val))
        best = _BestWeights(rule, restore=options.restore_best)
        # A NaN/inf loss stops training at once; the sweep then records the run as failed
        # (noisylab.sweep.tasks checks the history) instead of training on garbage.
        callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN()]
        if channel is not None:
            callbacks.append(_BaseValidation(model, x_val, y_val))
        callbacks.append(best)
        if options.reduce_lr:
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(
                    monitor="val_loss", factor=0.5, patience=max(1, options.patience // 2)
                )
            )
        if on_epoch_end is not None:
            callbacks.append(_EpochHook(on_epoch_end))

        start = time.perf_counter()
        fit = trained.fit(
            x_train,
            y_train,
            batch_size=batch_size,
            epochs=options.epochs,
            validation_data=(x_val, y_val),
            shuffle=True,
            callbacks=callbacks,
            verbose=0,
        )
        train_seconds = time.perf_counter() - start

        test_probs = _predict(model, x_test)
        train_probs = _predict(model, x_train)
        artifacts = {} if layer is None else {"channel_final": layer.channel()}

    history = {
        key: [float(v) for v in fit.history[key]] for key in _HISTORY_KEYS if key in fit.history
    }
    epochs = len(history["loss"])
    return TrainResult(
        history=history,
        best_epoch=max(best.best_epoch, 1),
        epochs=epochs,
        test_probs=test_probs,
        train_probs=train_probs,
        train_seconds=train_seconds,
        images_per_second=len(x_train) * epochs / train_seconds if train_seconds > 0 else 0.0,
        model=model if keep_model else None,
        artifacts=artifacts,
    )


def _predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Softmax of shape (n, L), float32, in inference mode; (0, L) for an empty input.

    Calls the model eagerly in large chunks instead of ``model.predict``: a fresh model per run
    would retrace ``predict``'s graph every time (and TensorFlow warns about it), which costs more
    than the forward pass on small data sets.
    """
    num_classes = model.output_shape[-1]
    chunks = [
        keras.ops.convert_to_numpy(
            model(x[i : i + _PREDICT_BATCH].astype(np.float32, copy=False), training=False)
        )
        for i in range(0, len(x), _PREDICT_BATCH)
    ]
    if not chunks:
        return np.zeros((0, num_classes), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)
