"""A fast stand-in for `noisylab.training.loop.train_model`, for the sweep's bookkeeping tests.

A nearest-class-mean classifier on the pixels, trained on the (noisy) labels it is given: fast,
deterministic given the seed, and its accuracy falls with the noise like a real model's does.
"""

from __future__ import annotations

import time

import numpy as np

from noisylab.training.result import TrainResult

FAKE_MODELS = ("fake", "seed-cnn")


def _probs(means, x):
    flat = x.reshape(len(x), int(np.prod(x.shape[1:]))).astype(np.float64) / 255.0
    d = ((flat[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
    logits = -d * 4.0
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def fake_train(x_train, y_train, x_val, y_val, x_test, *, options, num_classes, seed,
               dataset_name=None, on_epoch_end=None, keep_model=False, epoch_sleep=0.0,
               method=None):
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    flat = x_train.reshape(len(x_train), -1).astype(np.float64) / 255.0
    means = np.stack([flat[y_train == c].mean(axis=0) if np.any(y_train == c)
                      else rng.random(flat.shape[1]) for c in range(num_classes)])
    history = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    epochs = min(options.epochs, 3)
    for epoch in range(1, epochs + 1):
        if epoch_sleep:
            time.sleep(epoch_sleep)
        val_p = _probs(means, x_val)
        logs = {"loss": 1.0 / epoch, "accuracy": 0.5 + 0.1 * epoch,
                "val_loss": 1.0 / epoch + 0.1,
                "val_accuracy": float((val_p.argmax(1) == y_val).mean())}
        for k, v in logs.items():
            history[k].append(v)
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)
    seconds = time.perf_counter() - start
    return TrainResult(history=history, best_epoch=epochs, epochs=epochs,
                      test_probs=_probs(means, x_test), train_probs=_probs(means, x_train),
                      train_seconds=seconds, images_per_second=len(x_train) * epochs / seconds,
                      model=means if keep_model else None,
                      artifacts={} if method is None else
                      {"method_seen": np.asarray([method.name]),
                       "transition_given": np.asarray(method.transition)})


def fake_extract(model, x):
    """'Features' of the fake model: distances to its class means."""
    flat = x.reshape(len(x), int(np.prod(x.shape[1:]))).astype(np.float64) / 255.0
    return ((flat[:, None, :] - model[None, :, :]) ** 2).sum(axis=2).astype(np.float32)



def faulty_train(*args, fail_seeds=(), kill_seeds=(), marker_dir=None, always=False, **kwargs):
    """`fake_train` that fails for chosen runs, picked by their model seed.

    A run whose seed is in ``fail_seeds`` raises ``RuntimeError``. One in ``kill_seeds`` SIGKILLs
    its own process after epoch 2 (mid-run): once (a marker file in ``marker_dir`` records it,
    so the retry trains normally), or every time with ``always=True``.
    """
    import os
    import signal
    from pathlib import Path

    seed = int(kwargs["seed"])
    if seed in fail_seeds:
        raise RuntimeError(f"injected failure for seed {seed}")
    hook = kwargs.pop("on_epoch_end", None)

    def on_epoch_end(epoch, logs):
        if hook is not None:
            hook(epoch, logs)
        if seed in kill_seeds and epoch == 2:
            marker = Path(marker_dir) / f"killed-{seed}"
            if always or not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)

    return fake_train(*args, on_epoch_end=on_epoch_end, **kwargs)
