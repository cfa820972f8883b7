"""Benchmark: per-epoch training time of every method relative to ``ce``, in one process.

Same model (``seed-cnn``), batch size, data (digits, flip noise 0.3) and seed for every method;
each trains a fixed number of epochs (early stopping off), and the median of epochs 2..E (the
first traces the graph) is compared with that of ``ce``, validation included in both. The
methods that train a CE model first (``T: estimated``, ``noise-adaptation``) are timed on their
second model only (given T = the realized transition; the channel initialised to it), since the
first one *is* a ``ce`` run; ``nnaqc`` carries a layer too (its noise-aware channel);
``label-correction``'s second model is a ``ce`` model. The
two-network methods (co-teaching, co-teaching+, decoupling) train in
`noisylab.training.batchloop` and are expected near 2x (two networks; each batch is also
predicted once by each). Target: <= 1.15x for every pure loss.

Usage::

    python benchmarks/methods.py [--epochs 6] [--batch-size 64] [--rounds 2]

``--rounds`` repeats the whole list (interleaved, so machine load hits every method alike) and
reports the median over rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import numpy as np

    from noisylab.config import SweepConfig, TrainOptions
    from noisylab.noise import realized_transition
    from noisylab.sweep.execute import prepare_run
    from noisylab.sweep.plan import plan_sweep
    from noisylab.training.batchloop import fit_batchwise
    from noisylab.training.loop import _fit
    from noisylab.training.methods import METHOD_NAMES, get_method
    from noisylab.training.methods.losses import make_loss, symmetric_channel

    options = TrainOptions(epochs=args.epochs, patience=args.epochs + 1,
                           batch_size=args.batch_size)
    cfg = SweepConfig(name="bench", noise=("flip",), levels=(0.3,), train=options)
    plan = plan_sweep(cfg, "/nonexistent/methods-benchmark")   # checks only, creates nothing
    run, ds = plan.runs[0], plan.datasets["digits"]
    p = prepare_run(run, config=cfg, config_hash="bench", dataset=ds)
    x_fit, x_val = ds.x_train[p.fit_index], ds.x_test[p.val_index]
    T = realized_transition(p.y_fit_true, p.y_fit, ds.num_classes)

    def channel(name: str, opts: dict):
        if name == "noise-adaptation":
            return name, T, opts
        if name == "nnaqc":
            return name, symmetric_channel(ds.num_classes, opts["init_diag"]), opts
        return None

    def per_epoch(name: str) -> float:
        spec = get_method(name)
        opts = spec.resolve({"T": "known"} if spec.transition else {})
        stamps: list[float] = []
        if spec.batchwise:
            fit_batchwise(x_fit, p.y_fit, x_val, p.y_val, ds.x_test[:0], options=options,
                          num_classes=ds.num_classes, seed=run.seed_model,
                          dataset_name=ds.name,
                          on_epoch_end=lambda epoch, logs: stamps.append(time.perf_counter()),
                          keep_model=False, method=name, method_options=opts, level=run.level)
            return statistics.median(np.diff(stamps))
        loss = make_loss(name, opts, num_classes=ds.num_classes, transition=T)
        _fit(x_fit, p.y_fit, x_val, p.y_val, ds.x_test[:0], options=options,
             num_classes=ds.num_classes, seed=run.seed_model, dataset_name=ds.name,
             on_epoch_end=lambda epoch, logs: stamps.append(time.perf_counter()),
             keep_model=False, loss=loss, channel=channel(name, opts))
        return statistics.median(np.diff(stamps))

    times: dict[str, list[float]] = {m: [] for m in METHOD_NAMES}
    for _ in range(args.rounds):
        for name in METHOD_NAMES:
            times[name].append(per_epoch(name))
    load = os.getloadavg()
    base = statistics.median(times["ce"])
    print(f"digits flip 0.3, {len(x_fit)} training images, seed-cnn, batch {args.batch_size}, "
          f"{args.epochs} epochs x {args.rounds} rounds; load average {load[0]:.1f} "
          f"({os.cpu_count()} cores)")
    print(f"{'method':<22}{'s/epoch':>9}{'x ce':>7}  target")
    for name in METHOD_NAMES:
        t = statistics.median(times[name])
        spec = get_method(name)
        layered = name in ("noise-adaptation", "nnaqc")
        pure = not layered and not spec.batchwise
        target = "<= 1.15" if pure else "(a layer)" if layered else \
            "(two networks, ~2x)" if spec.peers else "(batch loop)"
        flag = "" if not pure or t / base <= 1.15 else "  MISSED"
        print(f"{name:<22}{t:>9.3f}{t / base:>7.2f}  {target}{flag}")


if __name__ == "__main__":
    main()
