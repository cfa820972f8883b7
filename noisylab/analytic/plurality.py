"""The exact plurality probability Q(q, K) of the K-NN model (Drory, Avidan and Giryes, eq. 3).

A prediction is the plurality label among K training neighbours whose noisy labels are drawn i.i.d.
from q = (q_1..q_L). The prediction is right when the correct label has strictly more votes than
every other label (ties are wrong), eq. 3 of the paper::

    Q(q, K) = sum over (n_1..n_L), sum n = K, n_c > n_j for all j != c, of
              K! / prod(n_j!) * prod(q_j ** n_j)

Algorithm. Condition on the correct count ``n_c = n`` (a binomial weight) and let the other
``m = K - n`` votes fall on the other classes with the renormalised probabilities ``p``::

    Q = sum_n Bin(n; K, q_c) * H(n, K - n),   H(n, m) = P(every count of Multinomial(m, p) <= n - 1)

``H = 1`` when ``m < n`` (so the upper half of n is a binomial tail) and ``H = 0`` when
``m > (L-1)(n-1)`` (pigeonhole: no work at all). When ``m <= 2n - 1`` at most one class can
reach n, so ``H = 1 - sum_j P(Bin(m, p_j) >= n)`` exactly (`_one_violator_tails`). Otherwise
``H`` comes from a truncated-polynomial dynamic programme that adds one class at a time: with
``rho = p_j / (p_1 + ... + p_j)``::

    H_j(m) = sum_{i <= min(m, n-1)} C(m, i) rho^i (1 - rho)^(m-i) H_{j-1}(m - i)

Every quantity is a probability in [0, 1], so nothing overflows. Splitting
``rho^i (1-rho)^(m-i) = rho^m ((1-rho)/rho)^(m-i)`` leaves the band matrix ``C(m, i)`` common to
all q vectors, so a batch of q vectors is one BLAS product per (n, class) (`_dp_contributions`).
Classes are added in ascending order of probability, which bounds ``(1-rho)/rho`` by the class
index and keeps the scaled values finite; past that bound (large K) a log-space elementwise
version is used instead. One programme for a given n gives H(n, m) for a whole window of m,
i.e. for every K at once, which is what makes whole curves and `fit_k` cheap. After r classes
only the partial sums that can still end in the window are kept (at most ``r (n-1)``, at least
``m_lo - (L-1-r)(n-1)``). The binomial weight of n is folded into the programme: the first
state is scaled by q_c^n, the last band matrix by C(K, n) and the last diagonal scaling by
(1 - q_c)^m, so the programme's output is already the term of Q.

Speed. The q vectors are reduced to a canonical form (q_c, the other probabilities sorted) and
duplicates are computed once. Rows of similar q_c need the same n, so rows are grouped in bands
of q_c (then by their second-largest other share) and cut into chunks; per chunk and n, the
classes that cannot reach n but with negligible probability lose their cap (merged into one
first state, or left out of the closed form, which then serves when at most one class can
reach n: the Bonferroni error is below the same bound). The upper binomial tail and the
one-class tails of every K or m are one matrix product each, the binomial weights are folded
into the programme, and the tables are degree-major (rows last), so every BLAS operand is a
contiguous block. Chunks run on a few threads (numpy and BLAS release the GIL) while BLAS
itself runs on one thread: its small products gain nothing from threads, and on a loaded
machine its spinning threads made them many times slower. On the benchmark the band products
are about half the time; the rest is the diagonal scalings and the power tables.

Terms are dropped only when their total weight is provably below 1e-16 (binomial weights under
1e-20 per n, a Chernoff bound on Q itself, and caps whose chance to bind, times the weight of n,
is under 1e-18), i.e. below float64 rounding of a number near 1.

This module is numpy only.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from noisylab.analytic.binomial import _TAIL_KMAX, _live_grid, _upper_tail
from noisylab.analytic.capped import (  # noqa: F401  (some re-exported for the tests)
    _ChunkTables,
    _dp_contributions,
    _h_elementwise,
    _h_matmul,
    _matmul_safe,
    _one_violator_log,
    _one_violator_tails,
    _scaled_powers,
    _split,
)

try:                  # a scikit-learn dependency; without it BLAS threads are left alone
    from threadpoolctl import ThreadpoolController
except ImportError:   # pragma: no cover
    ThreadpoolController = None

_BOUND_TOL = 1e-18    # a q whose Chernoff bound says Q < this skips the dynamic programme

# --------------------------------------------------------------------------------------------
# the plurality probability for many q and many K

_CHUNK = 4096                # rows per chunk at most
_CHUNK_ELEMS = 12_000_000    # float64 numbers in the power tables of one chunk (96 MB)
_WORKERS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)    # threads working on chunks at once


def _plurality_table(q: np.ndarray, ks: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Q(q_b, K) for q (B, L) (validated), ks (T,) ints >= 1, correct (B,) ints -> (B, T).

    The matrix products are small, so BLAS runs on one thread: on a loaded machine its threads
    spin against each other and a product is many times slower.
    """
    controller = _blas_controller()
    if controller is None:
        return _plurality_rows(q, ks, correct)
    with controller.limit(limits=1, user_api="blas"):
        return _plurality_rows(q, ks, correct)


@lru_cache(maxsize=1)
def _blas_controller():
    """One threadpoolctl controller (finding the BLAS libraries costs a few tenths of a ms)."""
    return None if ThreadpoolController is None else ThreadpoolController()


def _canonical(q: np.ndarray, correct: np.ndarray):
    """(q_c, the other probabilities sorted ascending) per row: Q depends on nothing else."""
    b, l_count = q.shape
    rows = np.arange(b)
    mask = np.ones_like(q, dtype=bool)
    mask[rows, correct] = False
    others = np.sort(q[mask].reshape(b, l_count - 1), axis=1)
    return np.column_stack([q[rows, correct], others])


_Q_BAND = 0.02     # rows are grouped by q_c in bands this wide, then by their other shares


def _dedupe(rows: np.ndarray):
    """The distinct rows and, per input row, the index of its distinct row (exact equality).

    Sorting by (first column, a fixed linear hash of the row) brings equal rows together; rows
    whose first column and hash agree but that differ are kept apart by the exact comparison.
    """
    weights = np.sqrt(np.arange(2, rows.shape[1] + 2, dtype=np.float64))   # irrational
    order = np.lexsort((rows @ weights, rows[:, 0]))
    ordered = rows[order]
    start = np.ones(rows.shape[0], dtype=bool)
    start[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    inv = np.empty(rows.shape[0], dtype=np.int64)
    inv[order] = np.cumsum(start) - 1
    return ordered[start], inv


def _plurality_rows(q: np.ndarray, ks: np.ndarray, correct: np.ndarray) -> np.ndarray:
    if q.shape[0] == 0:
        return np.zeros((0, ks.size))
    uk, kinv = np.unique(np.asarray(ks, dtype=np.int64), return_inverse=True)
    # rows equal up to a permutation of the other classes have the same Q: one row each
    keys, inv = _dedupe(_canonical(q, correct))
    # neighbouring rows should need the same work: the same correct counts n (a narrow band of
    # q_c) and the same classes that can reach n (similar second-largest other shares)
    band = np.floor(keys[:, 0] / _Q_BAND)
    order = np.lexsort((keys[:, -2], band))
    keys = keys[order]
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    inv = rank[inv]
    qc, others = keys[:, 0], keys[:, 1:]
    s = others.sum(axis=1)
    p = np.divide(others, s[:, None], out=np.full_like(others, 1.0 / others.shape[1]),
                  where=s[:, None] > 0)
    # Chernoff: Q <= P(n_c >= n_j) <= (1 - (sqrt q_j - sqrt q_c)^2)^K for the largest other q_j
    qmax = others[:, -1]
    gap = np.where(qmax > qc, (np.sqrt(qmax) - np.sqrt(qc)) ** 2, 0.0)
    with np.errstate(divide="ignore"):
        log_bound = uk[None, :] * np.log1p(-np.minimum(gap, 1.0))[:, None]
    alive = log_bound > math.log(_BOUND_TOL)                                  # (U, T)
    kmax = int(uk.max())
    width = p.shape[1] * (kmax + 1) * 3
    size = int(min(_CHUNK, max(64, _CHUNK_ELEMS // width)))
    starts = range(0, qc.size, size)

    def chunk(a: int) -> np.ndarray:
        sl = slice(a, a + size)
        return _plurality_chunk(qc[sl], p[sl], uk, alive[sl])

    if len(starts) > 1 and _WORKERS > 1:
        # numpy lets go of the GIL inside its loops and BLAS, so chunks run side by side
        with ThreadPoolExecutor(max_workers=min(_WORKERS, len(starts))) as pool:
            parts = list(pool.map(chunk, starts))
    else:
        parts = [chunk(a) for a in starts]
    table = np.concatenate(parts, axis=1).T                                   # (U, T)
    return np.clip(table, 0.0, 1.0)[inv][:, kinv]


def _plurality_chunk(qc: np.ndarray, p: np.ndarray, ks: np.ndarray,
                     alive: np.ndarray) -> np.ndarray:
    """Q for rows of similar q_c and sorted unique ks, as (T, B)."""
    b, j_count = p.shape
    out = _upper_tail(qc, ks)                                  # n > K/2 always wins
    if j_count == 1 or int(ks.max()) < 3:
        return out
    # rows by the largest K for which their Q can exceed the Chernoff bound (descending): the
    # rows that a given n needs are then a leading run, and the rows no K needs drop out
    kalive = np.where(alive.any(axis=1), ks[np.maximum(alive.sum(axis=1) - 1, 0)], 0)
    order = np.argsort(-kalive, kind="stable")
    count = int((kalive > 0).sum())
    if count == 0:
        return out
    sel = order[:count]
    kalive = kalive[sel]
    qc_r, p_r = qc[sel], p[sel]
    live, logw = _live_grid(float(qc_r.min()), float(qc_r.max()), ks, j_count)  # (N, T) x2
    live &= alive[sel].any(axis=0)[None, :]
    if not live.any():
        return out
    pmax = p_r.max(axis=0)                 # per column (ascending): the largest share there
    plans = []
    for n in np.flatnonzero(live.any(axis=1)):
        t = np.flatnonzero(live[n])
        m = ks[t] - n
        rows_n = int(np.searchsorted(-kalive, -int(ks[t].min()), side="right"))
        plans.append((int(n), t, m, rows_n) + _split(pmax, rows_n, int(n), int(m.max()),
                                                     float(logw[n, t].max())))
    dp_mmax = max((int(m.max()) for n, t, m, r, c, f in plans if c < r), default=-1)
    ov_mmax = max((int(m.max()) for n, t, m, r, c, f in plans if c > 0), default=-1)
    ov_mmin = min((int(m.min()) for n, t, m, r, c, f in plans if c > 0), default=0)
    tables = _ChunkTables(qc_r, p_r, dp_mmax, ov_mmax, int(ks.max()), ov_mmin)
    acc = np.zeros((ks.size, count))
    for n, t, m, count, closed, free in plans:
        if count == 0:
            continue
        mlo, mhi = int(m.min()), int(m.max())
        if closed:
            # rows [0, closed): at most one class reaches n but with negligible probability,
            # so H = 1 - sum of the one-class tails (exactly so when m <= 2n - 1); the
            # classes below `free` are dropped from the sum
            cut = slice(0, closed)
            if mhi <= _TAIL_KMAX:
                h = 1.0 - _one_violator_tails(tables.small, tables.large, tables.big, n, mlo,
                                              mhi, min(free, j_count - 1), cut)
            else:
                with np.errstate(divide="ignore"):
                    logp, log1mp = np.log(p_r[cut]), np.log1p(-p_r[cut])
                h = np.stack([_one_violator_log(logp, log1mp, n, int(mm))
                              for mm in range(mlo, mhi + 1)])
            acc[_as_slice(t), cut] += tables.weights(n, ks[t], cut) * h[m - mlo]
        if closed == count:
            continue
        rows = slice(closed, count)
        if tables.foldable(n, mhi, int(ks[t].max())):
            # the programme's output is already Bin(n; K, q_c) H(n, K - n)
            first, start = tables.merged(n, mlo, mhi, free, rows)
            acc[_as_slice(t), rows] += _dp_contributions(tables.scale, n, mlo, mhi, rows,
                                              tables.qpow(n, rows), n, first=first,
                                              start=start)[m - mlo]
            continue
        if _matmul_safe(j_count, mhi):
            h = np.minimum(_dp_contributions(_scaled_powers(p_r[rows], mhi), n, mlo, mhi,
                                             slice(None), None, 0), 1.0)
        else:
            h = _h_elementwise(p_r[rows], n, mhi)[:, mlo:].T
        acc[_as_slice(t), rows] += tables.weights(n, ks[t], rows) * h[m - mlo]
    out[:, sel] += acc
    return out


def _as_slice(idx: np.ndarray):
    """A run of consecutive indices as a slice: ``acc[t, rows] +=`` then adds in place instead
    of gathering and scattering (on `fit_k`'s 200 K values a measurable part of the time)."""
    if idx.size and int(idx[-1]) - int(idx[0]) + 1 == idx.size and (np.diff(idx) == 1).all():
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx
