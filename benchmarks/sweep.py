"""Benchmark: does the sweep's machinery slow training down?

Prints two ratios, measured in one process on the same model, batch size and data (digits):

1. per-epoch training throughput of a sweep run / that of a bare ``model.fit`` (target >= 0.9);
   epochs after the first (which traces the graph) are timed, validation included in both;
2. sweep bookkeeping / sweep wall time (target < 5%): bookkeeping is everything except the
   trainer call and the metrics (splits, noise, writing files, runs.csv, summary, metadata).

Usage::

    python benchmarks/sweep.py [--epochs 6] [--runs 3] [--batch-size 64] [--model seed-cnn]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _per_epoch(stamps: list[float]) -> list[float]:
    return [b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True)]


def bare_fit(ds, *, model_name: str, epochs: int, batch_size: int, seed: int) -> list[float]:
    """Per-epoch seconds (epochs 2..E) of a plain compile + fit on the same split as a run."""
    import keras
    import numpy as np

    from noisylab.training.models import build_model

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    val = rng.permutation(len(ds.y_test))[: len(ds.y_test) // 2]
    model = build_model(model_name, input_shape=ds.input_shape, num_classes=ds.num_classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stamps: list[float] = []

    class Stamp(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            stamps.append(time.perf_counter())

    model.fit(ds.x_train, ds.y_train, batch_size=batch_size, epochs=epochs,
              validation_data=(ds.x_test[val], ds.y_test[val]), shuffle=True,
              callbacks=[Stamp()], verbose=0)
    return _per_epoch(stamps)


def sweep_runs(*, model_name: str, epochs: int, batch_size: int, runs: int):
    """Per-epoch seconds of every run and the sweep's wall and work seconds."""
    from noisylab.config import TrainOptions, default_config, resolve
    from noisylab.sweep import Progress, plan_sweep, run_sweep

    stamps: dict[str, list[float]] = {}

    class Stamp(Progress):
        def epoch_end(self, run, epoch, logs):
            stamps.setdefault(run.run_id, []).append(time.perf_counter())

    levels = ",".join(str(round(0.9 * i / max(runs - 1, 1), 3)) for i in range(runs))
    cfg = resolve(default_config(), name="bench", levels=levels, models=model_name)
    cfg = resolve(cfg, epochs=epochs, patience=epochs, batch_size=batch_size)
    assert cfg.train == TrainOptions(model=model_name, epochs=epochs, patience=epochs,
                                     batch_size=batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_sweep(plan_sweep(cfg, os.path.join(tmp, "bench")), progress=Stamp())
        wall = time.perf_counter() - start
    per_epoch = [d for s in stamps.values() for d in _per_epoch(s)]
    return per_epoch, wall, result.work_seconds, len(cfg.levels)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", default="seed-cnn")
    args = parser.parse_args(argv)

    import keras  # noqa: F401  (import cost is the same for both; keep it out of the timings)

    from noisylab.data import load_dataset

    ds = load_dataset("digits")
    n = len(ds.y_train)
    kw = dict(model_name=args.model, epochs=args.epochs, batch_size=args.batch_size)
    # bare, sweep, bare: interleaved so that drift in machine load hits both sides.
    bare = bare_fit(ds, seed=1, **kw)
    sweep_epochs, wall, work, n_runs = sweep_runs(runs=args.runs, **kw)
    bare += bare_fit(ds, seed=2, **kw)

    n_fit = n   # clean validation: the sweep trains on the whole training set, like bare_fit
    bare_ips = n / statistics.median(bare)
    sweep_ips = n_fit / statistics.median(sweep_epochs)
    book = wall - work
    print(f"data: digits, {n} training images, model {args.model}, batch {args.batch_size}, "
          f"{args.epochs} epochs; {n_runs} sweep runs; median of epochs 2..{args.epochs}")
    print(f"bare model.fit      : {bare_ips:8.0f} images/s ({len(bare)} epochs timed)")
    print(f"sweep run           : {sweep_ips:8.0f} images/s ({len(sweep_epochs)} epochs timed)")
    print(f"throughput ratio    : {sweep_ips / bare_ips:.3f}   (target >= 0.9)")
    print(f"sweep wall          : {wall:.2f} s, training + evaluation {work:.2f} s, "
          f"bookkeeping {book:.2f} s")
    print(f"bookkeeping fraction: {book / wall:.2%}   (target < 5%)")
    ok = sweep_ips / bare_ips >= 0.9 and book / wall < 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
