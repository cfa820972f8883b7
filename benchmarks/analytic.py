"""Benchmark of `noisylab.analytic` against its targets and brute-force enumeration (#5, #18).

Run: ``python benchmarks/analytic.py`` from the repository root. Every time below comes from this
one run: wall time, and CPU time of this process (``time.process_time``, all threads), so that a
loaded machine shows as wall >> CPU / threads. The load average is printed before and after.
(a) perfectly learnable random-noise curve, L=10, K=1..80, 20 levels (target <= 1 s);
(b) the general case, eq. 2: 10,000 Dirichlet softmaxes (per-sample C, a net that is mostly
    right), L=10, K=100, 21 levels (target <= 2 s wall on 2 cores), also on one thread;
(c) `fit_k` with those per-sample softmaxes, K=1..200, the default sweep's 10 levels 0..0.9
    (target <= 10 s wall on 2 cores);
(d) the largest deviation from brute-force enumeration (every count vector) on sizes it can
    finish: learnable curves, per-sample softmaxes and random q vectors (target <= 1e-12);
(e) one q at L=10, K=1000 (the log-space path; no target).
"""

from __future__ import annotations

import itertools
import math
import os
import time

import numpy as np

from noisylab.analytic import (
    accuracy_table,
    expected_accuracy,
    fit_k,
    plurality,
    plurality_probability,
)

TARGETS = {"a": 1.0, "b": 2.0, "c": 10.0, "oracle": 1e-12}


def brute(q, k, correct=0):
    """Reference: every count vector (n_1..n_L) with sum K, via itertools; float64 fsum."""
    el = len(q)
    logq = [math.log(v) if v > 0 else -math.inf for v in q]
    lf = [math.lgamma(i + 1) for i in range(k + 1)]
    terms = []
    for cut in itertools.combinations(range(k + el - 1), el - 1):   # stars and bars
        counts = np.diff((-1, *cut, k + el - 1)) - 1
        nc = counts[correct]
        if all(nc > c for i, c in enumerate(counts) if i != correct):
            terms.append(math.exp(lf[k] - sum(lf[c] for c in counts)
                                  + sum(c * lq for c, lq in zip(counts, logq, strict=True)
                                        if c)))
    return math.fsum(terms)


def timed(fn):
    """(value, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def verdict(seconds: float, target: float) -> str:
    return (f"target <= {target:g} s, ratio {seconds / target:.2f}: "
            f"{'met' if seconds <= target else 'NOT met'}")


def softmaxes(n: int, el: int, rng: np.random.Generator):
    """Dirichlet softmaxes of a net that is mostly right, and their true labels."""
    y = rng.integers(0, el, size=n)
    alpha = np.full((n, el), 0.3)
    alpha[np.arange(n), y] += 3.0
    probs = rng.gamma(alpha)
    return probs / probs.sum(axis=1, keepdims=True), y


def main() -> None:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(f"{os.cpu_count()} cores, {plurality._WORKERS} worker threads; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start (other work slows wall times)")
    met = {}
    deviations = []
    levels = np.linspace(0.0, 0.95, 20)
    # (a) the whole curve, every K 1..80 at once
    table, t_a, c_a = timed(lambda: accuracy_table("random", levels, range(1, 81), 10))
    met["a"] = t_a <= TARGETS["a"]
    print(f"(a) random, L=10, K=1..80, 20 levels: {t_a:.3f} s wall, {c_a:.3f} s CPU; "
          f"{verdict(t_a, TARGETS['a'])}; A(0.5, K=80) = {table[10, 79]:.6f}")

    def q_of(g):
        q = np.full(10, g / 10)
        q[0] += 1 - g
        return q

    ks = range(1, 9)
    ref, t_ref, _ = timed(lambda: [[brute(q_of(g), k) for k in ks] for g in levels])
    fast, t_fast, _ = timed(lambda: accuracy_table("random", levels, ks, 10))
    dev = float(np.abs(np.array(ref) - fast).max())
    deviations.append(dev)
    print(f"    brute force L=10, K=1..8, 20 levels: {t_ref:.2f} s; ours {t_fast:.4f} s; "
          f"ratio {t_ref / t_fast:.0f}x; max |diff| {dev:.1e}")

    # (b) general case: 10,000 per-sample softmaxes
    rng = np.random.default_rng(0)
    n, el = 10_000, 10
    probs, y = softmaxes(n, el, rng)
    levels_b = np.linspace(0.0, 1.0, 21)

    def case_b():
        return expected_accuracy("random", levels_b, 100, el, clean_probs=probs, true_labels=y)

    curve, t_b, c_b = timed(case_b)
    met["b"] = t_b <= TARGETS["b"]
    print(f"(b) eq. 2, {n} samples, L=10, K=100, 21 levels: {t_b:.2f} s wall, {c_b:.2f} s CPU; "
          f"{verdict(t_b, TARGETS['b'])}; A(0) = {curve[0]:.4f}, A(0.5) = {curve[10]:.4f}, "
          f"A(1) = {curve[-1]:.4f}")
    workers = plurality._WORKERS
    plurality._WORKERS = 1
    try:
        curve1, t_b1, c_b1 = timed(case_b)
    finally:
        plurality._WORKERS = workers
    print(f"    the same on one thread: {t_b1:.2f} s wall, {c_b1:.2f} s CPU; threads gain "
          f"{t_b1 / t_b:.2f}x in wall time; results equal: {np.array_equal(curve, curve1)}")
    # brute force on a size it can finish: 20 samples, L=10, K=7, 3 levels
    sub, sub_y, lv = probs[:20], y[:20], np.array([0.0, 0.5, 1.0])
    ref, t_ref, _ = timed(lambda: [np.mean([brute((1 - g) * sub[i] + g / el, 7, int(sub_y[i]))
                                            for i in range(20)]) for g in lv])
    fast, t_fast, _ = timed(lambda: expected_accuracy("random", lv, 7, el, clean_probs=sub,
                                                      true_labels=sub_y))
    dev = float(np.abs(np.array(ref) - fast).max())
    deviations.append(dev)
    print(f"    brute force 20 samples, L=10, K=7, 3 levels: {t_ref:.2f} s; ours {t_fast:.4f} s; "
          f"ratio {t_ref / t_fast:.0f}x; max |diff| {dev:.1e}")

    # (c) fit_k over K = 1..200 with the per-sample softmaxes, on the default sweep's levels
    levels_c = np.linspace(0.0, 0.9, 10)
    measured = np.linspace(0.85, 0.35, 10)          # an accuracy curve to fit
    fit, t_c, c_c = timed(lambda: fit_k(levels_c, measured, kind="random", num_classes=el,
                                        k_values=range(1, 201), clean_probs=probs,
                                        true_labels=y))
    met["c"] = t_c <= TARGETS["c"]
    print(f"(c) fit_k, {n} samples, L=10, K=1..200, 10 levels: {t_c:.2f} s wall, {c_c:.2f} s "
          f"CPU; {verdict(t_c, TARGETS['c'])}; best K = {fit.k}, RMSE {fit.rmse:.4f}")

    # (d) more brute force: random q vectors and per-sample curves over many K
    qrng = np.random.default_rng(1)
    worst = 0.0
    for el_d, kmax in ((3, 24), (4, 12), (6, 8)):
        q = qrng.dirichlet(np.full(el_d, 0.7), size=12)
        c = qrng.integers(0, el_d, size=12)
        ours = plurality._plurality_table(q, np.arange(1, kmax + 1), c)
        ref = [[brute(q[i], k, int(c[i])) for k in range(1, kmax + 1)] for i in range(12)]
        worst = max(worst, float(np.abs(ours - np.array(ref)).max()))
    deviations.append(worst)
    oracle = max(deviations)
    met["oracle"] = oracle <= TARGETS["oracle"]
    print(f"(d) brute force, random q (L=3 K<=24, L=4 K<=12, L=6 K<=8, 12 rows each): "
          f"max |diff| {worst:.1e}; over (a), (b) and (d): {oracle:.1e} "
          f"(target <= {TARGETS['oracle']:g}: {'met' if met['oracle'] else 'NOT met'})")

    # (e) one q at K=1000
    value, t_k, _ = timed(lambda: plurality_probability(np.r_[0.3, np.full(9, 0.7 / 9)], 1000))
    print(f"(e) one q, L=10, K=1000: {t_k:.2f} s, Q = {value!r}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end; targets met: "
          + ", ".join(f"{key} {'yes' if ok else 'NO'}" for key, ok in met.items()))


if __name__ == "__main__":
    main()
