"""Benchmark: packed training (``--trainer packed``) against one run at a time (``keras``).

Prints, measured in one run of this script (every side under the same load):

1. **Default sweep, CPU** — ``noisylab sweep`` (digits, 10 runs) with ``--trainer keras``
   (TensorFlow, the default) and ``--trainer packed`` (Keras on JAX; pack sizes from
   ``--default-sizes``, 2 and 10): wall time of the whole commands, compile time included;
   target >= 5x.
2. **MNIST 10k, CPU** — 10 runs of ``seed-cnn`` on a 10,000-image subset (levels 0-0.9, two
   epochs each): training images per second summed over a pack's members (pack sizes 2 and 10)
   against one ``keras`` run's (from ``runs.csv``); compute-bound here, an honest target is
   near or above 1.
3. **Step time by mechanism** (``--mechanisms``) — one training step of a pack of P members of
   ``seed-cnn`` on digits (batch 64) under ``unroll`` and ``vmap``, against one member alone.
4. **Equivalence** (``--equivalence``) — digits, 10 levels x 3 repeats, both trainers on the JAX
   backend: the mean test accuracy per level, and whether the two agree within 2 combined
   standard errors.
5. **Throughput by pack size** (``--sizes 1,8,32,128``, for a GPU: ``benchmarks/gpu.sh``) —
   images per second summed over the members for ``seed-cnn`` and ``drory-mnist`` on MNIST
   against one ``keras`` run on the same device, and the projected wall time of the 300-run
   ``configs/drory-mnist.yaml`` protocol at the best size.

MNIST parts need ``../shared/datasets/mnist`` (or ``--mnist DIR``) and are skipped without it.
Every sweep runs ``python -m noisylab`` in a subprocess, in a temporary folder. Usage::

    python benchmarks/packed.py [--skip-mnist] [--mechanisms] [--equivalence] [--sizes 1,8,32]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "datasets" / "mnist"


def _env(backend: str | None) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("KERAS_BACKEND", None)
    if backend:
        env["KERAS_BACKEND"] = backend
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _sweep(cwd: Path, out: str, *args: str, backend: str | None = None) -> float:
    """Wall time of one ``noisylab sweep`` (``backend``: KERAS_BACKEND, default TensorFlow)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "noisylab", "sweep", "--out", out, *args],
                          cwd=cwd, env=_env(backend), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"sweep {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds


def _runs(path: Path):
    import pandas as pd

    return pd.read_csv(path / "runs.csv")


def default_sweep(work: Path, sizes: str) -> None:
    keras = _sweep(work, "keras")
    print(f"1. default sweep (digits, 10 runs), whole command: keras {keras:.1f} s")
    for size in sizes.split(","):
        packed = _sweep(work, f"packed{size}", "--trainer", "packed", "--pack-size", size)
        print(f"   packed, pack size {size:>2}: {packed:.1f} s: {keras / packed:.2f}x "
              "(target >= 5x)")


def mnist_throughput(work: Path) -> None:
    args = ("--dataset", "mnist", "--subset", "10000", "--epochs", "2", "--min-epochs", "2",
            "--patience", "1")
    _sweep(work, "m-keras", *args, "--levels", "0:0.2:0.1")
    keras = _runs(work / "m-keras")["images_per_second"].mean()
    print(f"2. MNIST 10k, seed-cnn, 2 epochs a run: one keras run {keras:,.0f} images/s")
    for size in ("2", "10"):
        start = time.perf_counter()
        _sweep(work, f"m-packed{size}", *args, "--trainer", "packed", "--pack-size", size)
        seconds = time.perf_counter() - start
        rows = _runs(work / f"m-packed{size}")
        # a pack's throughput: every member's images over the time the members shared
        packed = (rows["images_per_second"] * rows["train_seconds"]).sum() / (
            rows["train_seconds"].sum() / rows["pack_size"].iloc[0])
        print(f"   pack size {size:>2}: {packed:,.0f} images/s summed over the members "
              f"training at once: {packed / keras:.2f}x (target ~1); whole command "
              f"{seconds:.0f} s for 10 runs")


MECHANISMS = """
import json, sys, time
import jax, jax.numpy as jnp, numpy as np
from noisylab.config import TrainOptions
from noisylab.training.packed import _Programs, _loss_function, initial_state
import keras
sizes = [int(s) for s in sys.argv[1].split(",")]
out = {}
for mechanism in ("unroll", "vmap"):
    for P in sizes:
        if mechanism == "vmap" and P == 1:
            continue
        opts = TrainOptions(model="seed-cnn")
        model, tv, ntv = initial_state(range(P), options=opts, input_shape=(8, 8, 1),
                                       num_classes=10, dataset_name="digits")
        opt = keras.optimizers.Adam(2e-3)
        opt.build(model.trainable_variables)
        ov = [np.broadcast_to(np.asarray(v.numpy()), (P, *v.shape)).copy() for v in opt.variables]
        prog = _Programs(model, opt, _loss_function(None, 10), mechanism)
        state = ([jnp.asarray(v) for v in tv], [jnp.asarray(v) for v in ntv],
                 [jnp.asarray(v) for v in ov])
        x = jnp.zeros((1437, 8, 8, 1), jnp.uint8)
        idx = np.zeros((P, 64), np.int32); y = np.zeros((P, 64), np.int32)
        w = np.ones(64, np.float32); act = jnp.ones(P, bool)
        t = time.perf_counter(); state, l, a = prog.step(state, x, idx, y, w, act)
        jax.block_until_ready(l); compile_s = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(20):
            state, l, a = prog.step(state, x, idx, y, w, act)
        jax.block_until_ready(l)
        out[f"{mechanism} {P}"] = (compile_s, (time.perf_counter() - t) / 20)
print(json.dumps(out))
"""


def mechanisms(work: Path, sizes: str) -> None:
    script = work / "mechanisms.py"
    script.write_text(MECHANISMS)
    done = subprocess.run([sys.executable, str(script), sizes], env=_env("jax"),
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    one = out.get("unroll 1", (0, math.nan))[1]
    print("3. one training step, seed-cnn on digits, batch 64 (compile s, step ms, ms per "
          "member, members per time of one alone):")
    for key, (compile_s, step) in out.items():
        P = int(key.split()[1])
        print(f"   {key:>10}: compile {compile_s:5.1f} s, step {step * 1e3:7.1f} ms, "
              f"{step / P * 1e3:6.1f} ms/member, {one * P / step:4.2f}x")


def equivalence(work: Path) -> None:
    # the same backend for both (JAX), as the equivalence is stated: initial weights and
    # numerics differ between TensorFlow and JAX for the same seed
    args = ("--repeats", "3")
    _sweep(work, "e-keras", *args, backend="jax")
    _sweep(work, "e-packed", *args, "--trainer", "packed", "--pack-size", "2")
    a, b = _runs(work / "e-keras"), _runs(work / "e-packed")
    print("4. digits, 10 levels x 3 repeats, Keras on JAX: mean test accuracy (standard error)")
    print("   level   keras            packed           |diff| <= 2 SE")
    agree = 0
    for level, ka in a.groupby("level")["test_accuracy"]:
        pa = b[b["level"] == level]["test_accuracy"]
        se = math.sqrt(ka.var(ddof=1) / len(ka) + pa.var(ddof=1) / len(pa))
        ok = abs(ka.mean() - pa.mean()) <= 2 * se
        agree += ok
        print(f"   {level:.1f}   {ka.mean():.3f} ({ka.std(ddof=1) / math.sqrt(len(ka)):.3f})"
              f"    {pa.mean():.3f} ({pa.std(ddof=1) / math.sqrt(len(pa)):.3f})    {ok}")
    same = all((a.sort_values("run_id")[c].to_numpy() == b.sort_values("run_id")[c].to_numpy())
               .all() for c in ("seed_split", "seed_noise", "seed_model", "realized_noise_rate"))
    print(f"   {agree}/10 levels agree within 2 SE; seeds and realized noise identical: {same}")


SIZES = """
import json, sys, time
import numpy as np
from noisylab.config import TrainOptions
from noisylab.data import load_dataset
from noisylab.training.packed import PackMember, train_pack
from noisylab.training.loop import train_model
ds = load_dataset("mnist")
sizes = [int(s) for s in sys.argv[1].split(",")]
out = {}
rng = np.random.default_rng(0)
n = len(ds.y_train)
for model in ("seed-cnn", "drory-mnist"):
    opts = TrainOptions(model=model, epochs=2, patience=1, min_epochs=2)
    alone = train_model(ds.x_train, ds.y_train, ds.x_test[:5000], ds.y_test[:5000],
                        ds.x_test[5000:], options=opts, num_classes=10, seed=0)
    out[f"{model} keras"] = n * 1 / (alone.train_seconds / 2)
    for P in sizes:
        members = [PackMember(seed=s, fit_index=np.arange(n), y_fit=ds.y_train,
                              val_index=np.arange(5000), y_val=ds.y_test[:5000],
                              test_index=np.arange(5000, 10000)) for s in range(P)]
        try:
            res = train_pack(ds.x_train, ds.x_test, ds.x_test, members, options=opts,
                             num_classes=10, dataset_name="mnist")
        except Exception as exc:
            out[f"{model} {P}"] = str(exc)[:200]
            break
        out[f"{model} {P}"] = sum(r.images_per_second for r in res)
print(json.dumps(out))
"""


def sizes(work: Path, sizes_text: str) -> None:
    script = work / "sizes.py"
    script.write_text(SIZES)
    done = subprocess.run([sys.executable, str(script), sizes_text], env=_env("jax"),
                          cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    print("5. MNIST (60k), 2 epochs, images/s summed over a pack's members (compile included) "
          "against one keras run (same backend):")
    for model in ("seed-cnn", "drory-mnist"):
        base = out[f"{model} keras"]
        print(f"   {model}: keras {base:,.0f} images/s")
        best = base
        for key, value in out.items():
            if key.startswith(model) and not key.endswith("keras"):
                if isinstance(value, str):
                    print(f"   {key}: {value}")
                    continue
                best = max(best, value)
                print(f"   {key:>16}: {value:,.0f} images/s, {value / base:.1f}x")
        if model == "drory-mnist":
            # 300 runs; ~15 epochs a run on average (30 at most, patience 5) on 60k images
            hours = 300 * 15 * 60000 / best / 3600
            print(f"   projected configs/drory-mnist.yaml (300 runs x ~15 epochs): "
                  f"{hours * 60:.0f} min at {best:,.0f} images/s (target < 30 min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-default", action="store_true")
    parser.add_argument("--default-sizes", default="2,10",
                        help="pack sizes for part 1 (default 2,10)")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--mechanisms", nargs="?", const="1,2,10", default=None,
                        help="pack sizes for part 3 (default 1,2,10)")
    parser.add_argument("--equivalence", action="store_true")
    parser.add_argument("--sizes", help="pack sizes for part 5, e.g. 1,8,32,128")
    parser.add_argument("--mnist", type=Path, default=MNIST)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        needs_mnist = not args.skip_mnist or args.sizes
        if needs_mnist and args.mnist.is_dir():
            subprocess.run([sys.executable, "-m", "noisylab", "data", "prepare", "mnist",
                            "--source", str(args.mnist)], cwd=work, env=_env(None), check=True,
                           capture_output=True)
        elif needs_mnist:
            print(f"MNIST parts skipped: {args.mnist} is not there")
        if not args.skip_default:
            default_sweep(work, args.default_sizes)
        if not args.skip_mnist and args.mnist.is_dir():
            mnist_throughput(work)
        if args.mechanisms:
            mechanisms(work, args.mechanisms)
        if args.equivalence:
            equivalence(work)
        if args.sizes and args.mnist.is_dir():
            sizes(work, args.sizes)


if __name__ == "__main__":
    main()
