"""Benchmark the label-noise injectors against a per-sample Python loop, in one run.

Usage::

    python benchmarks/noise.py [--n 1000000] [--repeats 5] [--level 0.4]

Prints, for 1,000,000 labels over 10 classes, the best and median time of `symmetric`, `random`,
`flip` and `confusion` (target < 0.2 s each); `concentrated` on 60,000 x 64 features (target
< 15 s); and the speed-up over a plain per-sample loop in the style of the original blog's
`scramble_labels`, timed in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time

import numpy as np

from noisylab.noise import inject


def scramble_labels_loop(labels, level, num_classes, seed):
    """Symmetric noise, one sample at a time: the baseline the vectorized code replaces."""
    rnd = random.Random(seed)
    n = len(labels)
    chosen = set(rnd.sample(range(n), round(level * n)))
    noisy = list(labels)
    for i in range(n):
        if i in chosen:
            others = [c for c in range(num_classes) if c != noisy[i]]
            noisy[i] = rnd.choice(others)
    return np.array(noisy)


def _time(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def _blobs(n, d, num_classes, rng):
    labels = rng.integers(0, num_classes, n)
    centers = rng.normal(0, 4, size=(num_classes * 8, d))
    sub = rng.integers(0, 8, n)
    features = centers[labels * 8 + sub] + rng.normal(0, 1, size=(n, d))
    return labels, features.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--level", type=float, default=0.4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concentrated-n", type=int, default=60_000)
    parser.add_argument("--concentrated-d", type=int, default=64)
    args = parser.parse_args()

    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.2f}")
    rng = np.random.default_rng(0)
    L = args.classes
    labels = rng.integers(0, L, args.n)
    matrix = rng.dirichlet(np.ones(L), size=L)
    cases = {
        "symmetric": {},
        "random": {},
        "flip": {},
        "confusion": {"matrix": matrix},
        "symmetric --stratify": {"stratify": True},
    }
    print(f"\n{args.n:,} labels, {L} classes, level {args.level}, "
          f"best / median of {args.repeats} (target < 0.2 s)")
    results = {}
    for name, options in cases.items():
        kind = name.split()[0]
        best, median = _time(lambda kind=kind, options=options: inject(
            labels, kind=kind, level=args.level, rng=np.random.default_rng(1), num_classes=L,
            **options), args.repeats)
        results[name] = best
        print(f"  {name:22s} {best:8.4f} s  {median:8.4f} s")

    loop_n = args.n
    start = time.perf_counter()
    scramble_labels_loop(labels.tolist(), args.level, L, seed=1)
    loop = time.perf_counter() - start
    print(f"\nper-sample Python loop (scramble_labels style), symmetric on {loop_n:,}: "
          f"{loop:.3f} s")
    print(f"  speed-up of vectorized symmetric (best time): {loop / results['symmetric']:.0f}x")

    c_labels, features = _blobs(args.concentrated_n, args.concentrated_d, L,
                                np.random.default_rng(2))
    print(f"\nconcentrated on {args.concentrated_n:,} x {args.concentrated_d} features, "
          f"{L} classes (target < 15 s)")
    for level in (0.1, args.level):
        start = time.perf_counter()
        out = inject(c_labels, kind="concentrated", level=level, rng=np.random.default_rng(3),
                     features=features)
        elapsed = time.perf_counter() - start
        clusters = sorted(set(out.spec["clusters_used"].values()))
        print(f"  level {level}: {elapsed:7.3f} s  (k-means clusters per class {clusters}, "
              f"realized rate {out.realized_rate:.4f})")


if __name__ == "__main__":
    main()
