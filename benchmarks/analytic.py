"""Benchmark of `noisylab.analytic` against brute-force enumeration (issue #5).

Run: ``python benchmarks/analytic.py``. Prints times from this one run; on a shared machine they
vary with load. The brute force enumerates every count vector, so it is timed on sizes it can
finish and the ratio is taken on the same size.
(a) perfectly learnable random-noise curve, L=10, K=1..80, 20 levels (target < 1 s);
(b) general eq. 2 curve, 10,000 Dirichlet softmaxes (per-sample C), L=10, K=100, 21 levels
    (target < 10 s on 2 cores).
"""

from __future__ import annotations

import itertools
import math
import os
import time

import numpy as np

from noisylab.analytic import accuracy_table, expected_accuracy, plurality_probability


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
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} cores, load average {load:.2f} at start (other work slows timings)")
    levels = np.linspace(0.0, 0.95, 20)
    # (a) the whole curve, every K 1..80 at once
    table, t_a = timed(lambda: accuracy_table("random", levels, range(1, 81), 10))
    print(f"(a) random, L=10, K=1..80, 20 levels: {t_a:.3f} s  (target < 1 s); "
          f"A(0.5, K=80) = {table[10, 79]:.6f}")
    # brute force on a size it can finish: L=10, K=1..8, 20 levels (same levels)
    def q_of(g):
        q = np.full(10, g / 10)
        q[0] += 1 - g
        return q

    ks = range(1, 9)
    ref, t_ref = timed(lambda: [[brute(q_of(g), k) for k in ks] for g in levels])
    fast, t_fast = timed(lambda: accuracy_table("random", levels, ks, 10))
    print(f"    brute force L=10, K=1..8, 20 levels: {t_ref:.2f} s; ours {t_fast:.4f} s; "
          f"ratio {t_ref / t_fast:.0f}x; max |diff| {np.abs(np.array(ref) - fast).max():.1e}")

    # (b) general case: 10,000 per-sample softmaxes
    rng = np.random.default_rng(0)
    n, el = 10_000, 10
    y = rng.integers(0, el, size=n)
    alpha = np.full((n, el), 0.3)
    alpha[np.arange(n), y] += 3.0                      # a net that is mostly right
    probs = rng.gamma(alpha)
    probs /= probs.sum(axis=1, keepdims=True)
    levels_b = np.linspace(0.0, 1.0, 21)
    curve, t_b = timed(lambda: expected_accuracy("random", levels_b, 100, el,
                                                 clean_probs=probs, true_labels=y))
    print(f"(b) eq. 2, {n} samples, L=10, K=100, 21 levels: {t_b:.2f} s  (target < 10 s); "
          f"A(0) = {curve[0]:.4f}, A(0.5) = {curve[10]:.4f}, A(1) = {curve[-1]:.4f}")
    # brute force on a size it can finish: 20 samples, L=10, K=7, 3 levels
    sub, sub_y, lv = probs[:20], y[:20], np.array([0.0, 0.5, 1.0])
    ref, t_ref = timed(lambda: [np.mean([brute((1 - g) * sub[i] + g / el, 7, int(sub_y[i]))
                                         for i in range(20)]) for g in lv])
    fast, t_fast = timed(lambda: expected_accuracy("random", lv, 7, el, clean_probs=sub,
                                                   true_labels=sub_y))
    print(f"    brute force 20 samples, L=10, K=7, 3 levels: {t_ref:.2f} s; ours {t_fast:.4f} s; "
          f"ratio {t_ref / t_fast:.0f}x; max |diff| {np.abs(np.array(ref) - fast).max():.1e}")
    # one q at K=1000
    value, t_k = timed(lambda: plurality_probability(np.r_[0.3, np.full(9, 0.7 / 9)], 1000))
    print(f"(c) one q, L=10, K=1000: {t_k:.2f} s, Q = {value!r}")


if __name__ == "__main__":
    main()
