"""Why anchor-point T estimates miss on digits (#12): the error of T̂ from the CE model's softmax on
its own training samples (what `forward`/`backward` with ``T: estimated`` use) against the same
estimator on held-out validation images, each by argmax and by the 97th percentile, and, under
``val: clean``, the trusted-data estimate (mean softmax per clean validation class, Hendrycks et
al. 2018) — which needs no anchor at all and so shows how far the softmax itself is from the noisy
posterior.

Run: ``python benchmarks/anchors.py [NOISE LEVEL VAL REPEATS]`` from the repository root
(default ``flip 0.3 clean 4``: four digits runs of the default recipe, about a minute here).
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from noisylab.config import SweepConfig, config_hash
from noisylab.noise.core import realized_transition
from noisylab.sweep.execute import prepare_run
from noisylab.sweep.plan import plan_sweep
from noisylab.training.loop import _fit
from noisylab.training.methods.transition import estimate_transition, max_abs_error


def main(noise: str = "flip", level: float = 0.3, val: str = "clean", repeats: int = 4) -> None:
    cfg = SweepConfig(name="anchors", noise=(noise,), levels=(level,), repeats=repeats, val=val)
    plan = plan_sweep(cfg, "results/benchmark-anchors")   # nothing is written
    ds = plan.datasets["digits"]
    digest = config_hash(cfg)
    errors: dict[str, list[float]] = {}
    for run in plan.runs:
        p = prepare_run(run, config=cfg, config_hash=digest, dataset=ds)
        x_val = (ds.x_test if p.val_split == "test" else ds.x_train)[p.val_index]
        options = dataclasses.replace(cfg.train, model=run.model)
        # the CE model exactly as forward/backward train it first; the held-out images as "test"
        ce = _fit(ds.x_train[p.fit_index], p.y_fit, x_val, p.y_val, x_val, options=options,
                  num_classes=ds.num_classes, seed=run.seed_model, dataset_name=ds.name,
                  on_epoch_end=None, keep_model=False, loss="sparse_categorical_crossentropy",
                  channel=None)
        truth = realized_transition(p.y_fit_true, p.y_fit, ds.num_classes)
        row = {}
        for where, probs in (("train", ce.train_probs), ("val", ce.test_probs)):
            for pct in (False, True):
                est = estimate_transition(probs, filter_outlier=pct)
                row[f"{where}{'-97' if pct else ''}"] = max_abs_error(est, truth)
        if val == "clean":
            gold = np.stack([ce.test_probs[p.y_val == i].mean(axis=0)
                             for i in range(ds.num_classes)])
            row["trusted"] = max_abs_error(gold / gold.sum(axis=1, keepdims=True), truth)
        for key, value in row.items():
            errors.setdefault(key, []).append(value)
        print(f"{run.run_id}: best epoch {ce.best_epoch}, {len(x_val)} held-out images; "
              + " | ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    print("mean max |T̂ - T|: " + " | ".join(f"{k} {np.mean(v):.3f}" for k, v in errors.items())
          + "  (target 0.15)")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(*(args[:1] + [float(a) for a in args[1:2]] + args[2:3] + [int(a) for a in args[3:4]]))
