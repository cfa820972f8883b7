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
reach n, so ``H = 1 - sum_j P(Bin(m, p_j) >= n)`` exactly; the tails for every such n are one
matrix product per K (`_one_violator_all`). Otherwise ``H`` comes from a truncated-polynomial
dynamic programme that adds one class at a time: with ``rho = p_j / (p_1 + ... + p_j)``::

    H_j(m) = sum_{i <= min(m, n-1)} C(m, i) rho^i (1 - rho)^(m-i) H_{j-1}(m - i)

Every quantity is a probability in [0, 1], so nothing overflows. Splitting
``rho^i (1-rho)^(m-i) = rho^m ((1-rho)/rho)^(m-i)`` leaves the matrix ``C(m, i)`` common to all
q vectors, so a batch of q vectors is one BLAS matrix product per (n, class). Classes are added
in ascending order of probability, which bounds ``(1-rho)/rho`` by the class index and keeps the
scaled values finite; past that bound (large K) a log-space elementwise version is used instead.
One table ``H(n, .)`` serves every K at once, which is what makes whole curves and `fit_k` cheap.
After r classes only the partial sums that can still end at m are kept (at most ``r (n-1)``,
at least ``m - (L-1-r)(n-1)``), and the scaling out of one product and into the next is one
multiplication.

Speed. Rows are sorted by q_c so that the rows needing a given n are one contiguous slice, and
are handed out in chunks to a few threads (numpy and BLAS release the GIL) while BLAS itself
runs on one thread: its small products gain nothing from threads, and on a loaded machine its
spinning threads made them many times slower.

Terms are dropped only when their total weight is provably below 1e-17 (binomial weights under
1e-20 per n, or a Chernoff bound on Q itself), i.e. below float64 rounding of a number near 1.

This module is numpy only.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

try:                  # a scikit-learn dependency; without it BLAS threads are left alone
    from threadpoolctl import ThreadpoolController
except ImportError:   # pragma: no cover
    ThreadpoolController = None

_WEIGHT_TOL = 1e-20   # a binomial weight Bin(n; K, q_c) below this is dropped (at most K of them)
_BOUND_TOL = 1e-18    # a q whose Chernoff bound says Q < this skips the dynamic programme
_LOG_SAFE = 690.0     # keep exp() arguments below this in the scaled matrix product
_BATCH_ELEMS = 4_000_000  # rows x columns x kernel of one elementwise block
_POW_KMAX = 300          # C(k, n) < 1e90: a weight above 1e-20 has both powers above 1e-110
_TAIL_KMAX = 1000         # C(m, i) u^i sums stay below 2^K, finite in float64
_TINY = 1e-280            # flushed to zero: far below anything that reaches a result


# --------------------------------------------------------------------------------------------
# exact binomial pieces


@lru_cache(maxsize=4)
def _log_comb(mmax: int) -> np.ndarray:
    """log C(m, i) for 0 <= i <= m <= mmax (-inf above the diagonal), from exact integers."""
    table = np.full((mmax + 1, mmax + 1), -np.inf)
    for m in range(mmax + 1):
        c = 1
        row = table[m]
        for i in range(m // 2 + 1):
            row[i] = row[m - i] = math.log(c)
            c = c * (m - i) // (i + 1)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=4)
def _comb_float(mmax: int) -> np.ndarray:
    """C(m, i) as float64, correctly rounded (mmax <= 1029)."""
    table = np.zeros((mmax + 1, mmax + 1))
    for m in range(mmax + 1):
        c = 1
        for i in range(m // 2 + 1):
            table[m, i] = table[m, m - i] = float(c)
            c = c * (m - i) // (i + 1)
    table.setflags(write=False)
    return table


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) with 0 * log(0) = 0."""
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    out = np.zeros(x.shape)
    nz = x != 0
    with np.errstate(divide="ignore"):
        out[nz] = x[nz] * np.log(y[nz])
    return out


def _binom_pmf(k: int, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Bin(n; k, p) for p of shape (B,) and n of shape (N,), as (B, N).

    Up to k = `_POW_KMAX` as C(k, n) p^n (1 - p)^(k - n) with pow (a few ulp; exp of a sum of
    logs near k |log p| in size would be off by that many ulp); past it in log space, where
    C(k, n) and the powers would leave the float64 range.
    """
    n = np.asarray(n)
    if k <= _POW_KMAX:
        comb = _comb_float(_table_size(k))[k, n]
        nf = n.astype(np.float64)
        return comb[None, :] * np.power(p[:, None], nf) * np.power(1.0 - p[:, None], k - nf)
    logc = _log_comb(_table_size(k))[k, n]
    lp = _xlogy(n[None, :], p[:, None]) + _xlogy((k - n)[None, :], 1.0 - p[:, None])
    return np.exp(logc[None, :] + lp)


# --------------------------------------------------------------------------------------------
# H(n, m): the other classes all stay at or below n - 1


def _scaled_powers(p: np.ndarray, mmax: int) -> np.ndarray:
    """The diagonal scalings of the product, (J, B, W) with W >= mmax + 1, for m = 0..W-1.

    With sigma_j = p_0 + ... + p_j and rho_j = p_j / sigma_j, row 0 is
    ((1 - rho_1) / rho_1)^m (into the first product), row j in 1..J-2 is
    rho_j^m ((1 - rho_(j+1)) / rho_(j+1))^m (out of product j and into the next) and row J-1 is
    rho_(J-1)^m (out of the last product). The bases simplify to p_0 / p_1, p_j / p_(j+1) and
    p_(J-1) / sigma_(J-1): one division each, at most 1 as the classes are ascending.
    """
    sigma = np.cumsum(p, axis=1)
    nxt = p[:, 1:]
    # a zero p_(j+1) means p_j = 0 too (ascending): the class takes no votes, base 0
    ratio = np.divide(p[:, :-1], nxt, out=np.zeros_like(nxt), where=nxt > 0)
    last = np.divide(p[:, -1], sigma[:, -1], out=np.ones(p.shape[0]), where=sigma[:, -1] > 0)
    bases = np.concatenate([ratio.T, last[None]])                                # (J, B)
    return _pow_multiples(np.minimum(bases, 1.0), mmax)


def _pow_multiples(x: np.ndarray, mmax: int) -> np.ndarray:
    """x^m for x in [0, 1] and m = 0..W-1 (W >= mmax + 1), as (..., W), within 2 roundings.

    x^(a + b s) = x^a x^(b s) from two short pow tables: as accurate as pow (exp(m log x) would
    be off by up to m |log x| ulp) at the cost of about 2 sqrt(mmax) pow calls per entry of x.
    Values under `_TINY` are flushed to zero.
    """
    step = max(1, math.isqrt(mmax + 1))
    lo = np.power(x[..., None], np.arange(step, dtype=np.float64))
    hi = np.power(x[..., None], np.arange(mmax // step + 1, dtype=np.float64) * step)
    out = (hi[..., :, None] * lo[..., None, :]).reshape(*x.shape, -1)
    np.putmask(out, out < _TINY, 0.0)
    return out


@lru_cache(maxsize=256)
def _tail_coefficients(k: int, n0: int, n1: int, width: int):
    """C(k - n, i) for n = n0..n1 on n <= i <= k - n and on i <= k - 2n, both (width, N).

    Rows past k (up to width) are zero.
    """
    comb = _comb_float(_table_size(k))
    i = np.arange(width)[:, None]
    n = np.arange(n0, n1 + 1)[None, :]
    c = comb[k - n, np.minimum(i, k)]                    # zero where i > k - n
    upper = np.where(i >= n, c, 0.0)
    lower = np.where(i <= k - 2 * n, c, 0.0)
    upper.setflags(write=False)
    lower.setflags(write=False)
    return upper, lower


def _one_violator_all(p: np.ndarray, k: int, n0: int, n1: int) -> np.ndarray:
    """H(n, k - n) for n = n0..n1, all with n <= k - n <= 2n - 1, as (B, N); k <= `_TAIL_KMAX`.

    At most one class can reach n, so H = 1 - sum_j P(Bin(m, p_j) >= n) with m = k - n. With
    u = min(p, 1 - p) / max(p, 1 - p) <= 1 each tail is max(p, 1-p)^m times a polynomial in u,
    so the tails for every n are one matrix product. The polynomial is
    sum_{i=n}^{m} C(m, i) u^i when p <= 1/2 and sum_{i=0}^{m-n} C(m, i) u^i otherwise (only the
    largest class, the last one, can have p > 1/2). Every term is positive and at most 2^k.
    """
    b, j_count = p.shape
    large = np.maximum(p, 1.0 - p)
    u = _pow_multiples(np.minimum(p, 1.0 - p) / large, k)                      # (B, J, W)
    upper, lower = _tail_coefficients(k, n0, n1, u.shape[-1])
    poly = (u.reshape(b * j_count, -1) @ upper).reshape(b, j_count, -1)
    big = p[:, -1] > 0.5
    if big.any():
        poly[big, -1] = u[big, -1] @ lower
    m = (k - np.arange(n0, n1 + 1)).astype(np.float64)
    # pow, not exp(m log): the largest tail is near 1 and H = 1 - sum cancels, so this factor's
    # rounding matters (exp of a rounded m log x would be off by ~m |log x| ulp)
    tails = poly * np.power(large[..., None], m)
    return 1.0 - tails.sum(axis=1)


@lru_cache(maxsize=8192)
def _band(n: int, r0: int, r1: int, c0: int, c1: int, size: int) -> np.ndarray:
    """Rows r0..r1, columns c0..c1 of the band A[k, m] = C(m, m - k) for 0 <= m - k < n."""
    comb = _comb_float(size)
    kk = np.arange(r0, r1 + 1)[:, None]
    mm = np.arange(c0, c1 + 1)[None, :]
    i = mm - kk
    a = np.where((i >= 0) & (i <= n - 1), comb[mm, np.clip(i, 0, size)], 0.0)
    a.setflags(write=False)
    return a


def _h_matmul(p: np.ndarray, n: int, mlo: int, mhi: int, powers=None) -> np.ndarray:
    """H(n, m) for m = mlo..mhi, one BLAS product per class; p (B, J) ascending, rows sum to 1.

    After j classes only the sums that can still reach [mlo, mhi] are kept:
    mlo - (J - j)(n - 1) <= sum <= min(mhi, j (n - 1)). The matrix is banded (a new class adds at
    most n - 1 votes), so the product is taken in column blocks against the rows that reach them.
    """
    b, j_count = p.shape
    scale = powers if powers is not None else _scaled_powers(p, mhi)
    size = _table_size(mhi)
    block = max(n // 2, 8)          # measured: narrow column blocks waste less of the band
    lo, hi = 0, min(mhi, n - 1)
    x = scale[0][:, lo:hi + 1]
    for j in range(1, j_count):
        new_lo = max(0, mlo - (j_count - 1 - j) * (n - 1))
        new_hi = min(mhi, (j + 1) * (n - 1))
        h = np.empty((b, new_hi - new_lo + 1))
        for c0 in range(new_lo, new_hi + 1, block):
            c1 = min(new_hi, c0 + block - 1)
            r0, r1 = max(lo, c0 - (n - 1)), min(hi, c1)
            np.matmul(x[:, r0 - lo:r1 - lo + 1], _band(n, r0, r1, c0, c1, size),
                      out=h[:, c0 - new_lo:c1 - new_lo + 1])
        lo, hi = new_lo, new_hi
        h *= scale[j][:, lo:hi + 1]
        if j + 1 < j_count:
            # subnormal numbers would slow BLAS down by orders of magnitude, and are negligible
            np.putmask(h, h < _TINY, 0.0)
            x = h
    return np.minimum(h[:, mlo - lo:mhi - lo + 1], 1.0)


def _table_size(m: int) -> int:
    """Round table sizes up (powers of two) so that one cached table serves many calls."""
    size = 2 ** math.ceil(math.log2(max(m, 16)))
    return int(size if size <= 1024 else max(m, 1029) if m <= 1029 else m)


def _one_violator(logp: np.ndarray, log1mp: np.ndarray, n: int, m: int) -> np.ndarray:
    """H(n, m) when n <= m <= 2n - 1: at most one class can reach n, so H = 1 - sum_j P(n_j >= n).

    logp, log1mp : (B, J) logs of p and 1 - p.
    """
    i = np.arange(n, m + 1)
    logc = _log_comb(_table_size(m))[m, i]
    lw = logc + i * logp[..., None]
    tail = m - i
    with np.errstate(invalid="ignore"):                  # 0 * log(0) is masked
        lw = lw + np.where(tail == 0, 0.0, tail * log1mp[..., None])
    return 1.0 - np.exp(lw).sum(axis=(1, 2))


def _h_elementwise(p: np.ndarray, n: int, mmax: int) -> np.ndarray:
    """The same as `_h_matmul` with log-space binomial weights: slower, safe for any K."""
    b, j_count = p.shape
    m = np.arange(mmax + 1)
    i = np.arange(min(n, mmax + 1))
    logc = _log_comb(_table_size(mmax))[m[:, None], np.minimum(i[None, :], m[:, None])]
    valid = i[None, :] <= m[:, None]                      # (M, I)
    mi = np.where(valid, m[:, None] - i[None, :], 0)      # index of H_{j-1}
    h = np.broadcast_to((m <= n - 1).astype(float), (b, mmax + 1)).copy()
    sigma = p[:, 0].copy()
    step = max(1, _BATCH_ELEMS // max(1, mi.size))
    for j in range(1, j_count):
        sigma = sigma + p[:, j]
        rho = np.divide(p[:, j], sigma, out=np.ones(b), where=sigma > 0)
        new = np.empty_like(h)
        for s in range(0, b, step):
            r = rho[s:s + step, None, None]
            logw = logc[None] + _xlogy(i[None, None, :], r) + _xlogy(
                (m[:, None] - i[None, :])[None], 1.0 - r
            )
            w = np.where(valid[None], np.exp(logw), 0.0)
            new[s:s + step] = np.einsum("bmi,bmi->bm", w, h[s:s + step][:, mi])
        h = new
    return np.minimum(h, 1.0)


def _matmul_safe(j_count: int, mmax: int) -> bool:
    # C(m, i) <= 2^m and ((1 - rho)/rho)^m <= (J - 1)^m with classes in ascending order
    return mmax <= 1029 and mmax * math.log(2.0 * max(j_count, 1)) < _LOG_SAFE


def _h_table(p: np.ndarray, n: int, mlo: int, mhi: int, powers=None) -> np.ndarray:
    """H(n, m) for m = mlo..mhi (mhi <= J (n - 1)), shape (B, mhi - mlo + 1)."""
    if p.shape[1] == 1:
        m = np.arange(mlo, mhi + 1)
        return np.broadcast_to((m <= n - 1).astype(float), (p.shape[0], m.size)).copy()
    if _matmul_safe(p.shape[1], mhi):
        return _h_matmul(p, n, mlo, mhi, powers)
    return _h_elementwise(p, n, mhi)[:, mlo:]


# --------------------------------------------------------------------------------------------
# the plurality probability for many q and many K

_CHUNK = 2048                # rows per chunk at most
_CHUNK_ELEMS = 8_000_000     # float64 numbers in the biggest tables of one chunk (64 MB)
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


def _plurality_rows(q: np.ndarray, ks: np.ndarray, correct: np.ndarray) -> np.ndarray:
    # Sorted by q_c, the rows that need a given correct count n form one contiguous run, so a
    # chunk works on slices (views) instead of gathered copies.
    if q.shape[0] == 0:
        return np.zeros((0, ks.size))
    order = np.argsort(q[np.arange(q.shape[0]), correct], kind="stable")
    q, correct = q[order], correct[order]
    # rows per chunk: the (rows, n, K) weights and the (classes, rows, K) power tables of one
    # chunk stay near _CHUNK_ELEMS numbers whatever the number of K
    kmax = int(ks.max())
    per_row = (kmax // 2 + 1) * ks.size + 3 * q.shape[1] * (kmax + 1)
    size = int(min(_CHUNK, max(64, _CHUNK_ELEMS // per_row)))
    starts = range(0, q.shape[0], size)

    def chunk(s: int) -> np.ndarray:
        return _plurality_chunk(q[s:s + size], ks, correct[s:s + size])

    if len(starts) > 1 and _WORKERS > 1:
        # numpy lets go of the GIL inside its loops and BLAS, so chunks run side by side
        with ThreadPoolExecutor(max_workers=min(_WORKERS, len(starts))) as pool:
            parts = list(pool.map(chunk, starts))
    else:
        parts = [chunk(s) for s in starts]
    out = np.empty((q.shape[0], ks.size))
    out[order] = np.concatenate(parts)
    return out


def _plurality_chunk(q: np.ndarray, ks: np.ndarray, correct: np.ndarray) -> np.ndarray:
    b, l_count = q.shape
    j_count = l_count - 1
    rows = np.arange(b)
    qc = q[rows, correct]
    mask = np.ones_like(q, dtype=bool)
    mask[rows, correct] = False
    others = q[mask].reshape(b, j_count)
    s = others.sum(axis=1)
    p = np.divide(others, s[:, None], out=np.full_like(others, 1.0 / j_count),
                  where=s[:, None] > 0)
    p = np.sort(p, axis=1)
    with np.errstate(divide="ignore"):
        logp, log1mp = np.log(p), np.log1p(-p)
    # n > K/2 always wins: a binomial tail
    out = np.zeros((b, ks.size))
    for t, k in enumerate(ks):
        out[:, t] = _binom_pmf(int(k), np.arange(k // 2 + 1, k + 1), qc).sum(axis=1)
    nmax = int(ks.max()) // 2
    if nmax < 1 or j_count == 1:
        return np.clip(out, 0.0, 1.0)
    # Weights Bin(n; K, q_c) for n <= K/2 where H(n, K - n) can be non-zero
    weights = np.zeros((b, nmax + 1, ks.size))
    for t, k in enumerate(ks):
        ns = np.arange(0, int(k) // 2 + 1)
        ns = ns[(k - ns) <= j_count * (ns - 1)]
        weights[:, ns, t] = _binom_pmf(int(k), ns, qc)
    # Chernoff: Q <= P(n_c >= n_j) <= (1 - (sqrt q_j - sqrt q_c)^2)^K for the largest other q_j
    qmax = others.max(axis=1)
    gap = np.where(qmax > qc, (np.sqrt(qmax) - np.sqrt(qc)) ** 2, 0.0)
    with np.errstate(divide="ignore"):
        log_bound = ks[None, :] * np.log1p(-np.minimum(gap, 1.0))[:, None]
    weights *= (log_bound > math.log(_BOUND_TOL))[:, None, :]
    live = weights > _WEIGHT_TOL                                               # (B, N, T)
    if not live.any():
        return np.clip(out, 0.0, 1.0)
    kmax_live = int(ks[live.any(axis=(0, 1))].max())
    powers = None
    if _matmul_safe(j_count, kmax_live):
        powers = _scaled_powers(p, kmax_live)
    # H where at most one other class can reach n, for every such n at once (per K)
    single = {}
    for t, k in enumerate(ks):
        n0, n1 = (int(k) + 1 + 2) // 3, int(k) // 2                      # n <= k - n <= 2n - 1
        if k > _TAIL_KMAX or n0 > n1:
            continue
        rows_t = np.flatnonzero(live[:, n0:n1 + 1].any(axis=(1, 2)))         # any K, as below
        if rows_t.size:
            r0, r1 = int(rows_t[0]), int(rows_t[-1]) + 1
            single[t] = (r0, n0, _one_violator_all(p[r0:r1], int(k), n0, n1))
    for n in range(1, nmax + 1):
        live_n = live[:, n, :]
        rows_n = np.flatnonzero(live_n.any(axis=1))
        if rows_n.size == 0:
            continue
        # rows come sorted by q_c, so the rows that need this n are (nearly) one contiguous run
        need = slice(int(rows_n[0]), int(rows_n[-1]) + 1)
        count = need.stop - need.start
        live_k = live_n[need].any(axis=0)
        h = np.zeros((count, ks.size))
        for t in np.flatnonzero(live_k & (ks - n <= 2 * n - 1)):
            if t in single:
                rows0, n0, table = single[t]
                h[:, t] = table[need.start - rows0:need.stop - rows0, n - n0]
            else:
                h[:, t] = _one_violator(logp[need], log1mp[need], n, int(ks[t]) - n)
        deep = np.flatnonzero(live_k & (ks - n > 2 * n - 1))
        if deep.size:
            mlo, mhi = int(ks[deep].min()) - n, int(ks[deep].max()) - n
            pw = None if powers is None else powers[:, need]
            table = _h_table(p[need], n, mlo, mhi, pw)                         # (B', mhi-mlo+1)
            h[:, deep] = table[:, ks[deep] - n - mlo]
        out[need] += np.where(live_n[need], weights[need, n, :], 0.0) * h
    return np.clip(out, 0.0, 1.0)
