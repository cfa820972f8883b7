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
duplicates are computed once. Rows sorted by q_c need similar n, so they are cut into chunks of
neighbouring rows; the tables are stored with the rows last (degree-major), so every BLAS
operand is a contiguous block. Chunks run on a few threads (numpy and BLAS release the GIL)
while BLAS itself runs on one thread: its small products gain nothing from threads, and on a
loaded machine its spinning threads made them many times slower.

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


def _table_size(m: int) -> int:
    """Round table sizes up (powers of two) so that one cached table serves many calls."""
    size = 2 ** math.ceil(math.log2(max(m, 16)))
    return int(size if size <= 1024 else max(m, 1029) if m <= 1029 else m)


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


def _pow_multiples(x: np.ndarray, mmax: int) -> np.ndarray:
    """x^m for m = 0..W-1 (W >= mmax + 1), as (W, *x.shape) (x of shape (B,)) or (J, W, B)
    (x of shape (J, B)), within 2 roundings.

    x^(a + b s) = x^a x^(b s) from two short pow tables: as accurate as pow (exp(m log x) would
    be off by up to m |log x| ulp) at the cost of about 2 sqrt(mmax) pow calls per entry of x.
    The degree comes before the rows so that a window of degrees for a batch of rows is one
    contiguous block. Values under `_TINY` are flushed to zero.
    """
    step = max(1, math.isqrt(mmax + 1))
    x2 = np.ascontiguousarray(x).reshape(-1, x.shape[-1])[:, None, :]        # (J, 1, B)
    lo = np.power(x2, np.arange(step, dtype=np.float64)[None, :, None])
    hi = np.power(x2, (np.arange(mmax // step + 1, dtype=np.float64) * step)[None, :, None])
    out = (hi[:, :, None] * lo[:, None]).reshape(x2.shape[0], -1, x.shape[-1])  # (J, W, B)
    np.putmask(out, out < _TINY, 0.0)
    return out[0] if x.ndim == 1 else out


def _ratio_powers(num: np.ndarray, den: np.ndarray, mmax: int) -> np.ndarray:
    """(num / den)^m for m = 0..W-1 (num <= den), as (W, B), without the division's rounding.

    A rounded ratio v(1 + e) would put an error of m e on its m-th power, up to ~m/2 ulp; the
    exact remainder num - v den (Dekker's product) gives e, and the table is corrected by the
    first-order factor 1 + m e (the second order, m^2 e^2, is far below one ulp).
    """
    v = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    prod, err = _two_product(v, den)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(v > 0, ((num - prod) - err) / (v * den), 0.0)
    table = _pow_multiples(v, mmax)
    table *= 1.0 + np.arange(table.shape[0], dtype=np.float64)[:, None] * rel[None, :]
    return table


def _two_product(a: np.ndarray, b: np.ndarray):
    """a * b = prod + err exactly (Dekker, with Veltkamp's splitting; no fused multiply-add)."""
    prod = a * b
    split = 134217729.0                     # 2^27 + 1
    t = split * a
    ahi = t - (t - a)
    alo = a - ahi
    t = split * b
    bhi = t - (t - b)
    blo = b - bhi
    err = ((ahi * bhi - prod) + ahi * blo + alo * bhi) + alo * blo
    return prod, err


# --------------------------------------------------------------------------------------------
# the binomial pieces of Q: the upper tail (n > K/2) and the weights of the other n


@lru_cache(maxsize=64)
def _tail_coefficients(ks: tuple, width: int):
    """C(K, i) on i <= ceil(K/2) - 1 and on i > K/2, as (T, width) each (zero elsewhere)."""
    comb = _comb_float(_table_size(max(ks)))
    i = np.arange(width)[None, :]
    k = np.asarray(ks)[:, None]
    c = comb[k, np.minimum(i, k)]
    low = np.where(i <= (k + 1) // 2 - 1, c, 0.0)
    high = np.where((2 * i > k) & (i <= k), c, 0.0)
    low.setflags(write=False)
    high.setflags(write=False)
    return low, high


def _upper_tail(qc: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """P(Bin(K, q_c) > K/2) for every K of ks, as (T, B).

    Each tail is max(q, 1-q)^K times a polynomial in u = min(q, 1-q) / max(q, 1-q) <= 1 with
    positive terms: sum_{n > K/2} C(K, n) u^n when q < 1/2 and sum_{i < K/2} C(K, i) u^i
    otherwise, so the tails of every K are one matrix product.
    """
    kmax = int(ks.max())
    if kmax > _TAIL_KMAX:
        return np.stack([
            _binom_pmf(int(k), np.arange(int(k) // 2 + 1, int(k) + 1), qc).sum(axis=1)
            for k in ks
        ])
    large = np.maximum(qc, 1.0 - qc)
    upow = _ratio_powers(np.minimum(qc, 1.0 - qc), large, kmax)               # (W, B)
    low, high = _tail_coefficients(tuple(int(k) for k in ks), upow.shape[0])
    below = qc < 0.5
    poly = np.empty((ks.size, qc.size))
    if below.all():
        poly[:] = high @ upow
    elif not below.any():
        half = kmax // 2 + 1
        poly[:] = low[:, :half] @ upow[:half]
    else:
        half = kmax // 2 + 1
        poly[:, below] = high @ upow[:, below]
        poly[:, ~below] = low[:, :half] @ upow[:half, ~below]
    return poly * np.power(large[None, :], ks[:, None].astype(np.float64))


def _weights(qc: np.ndarray, n: int, ks: np.ndarray) -> np.ndarray:
    """Bin(n; K, q_c) for the K of ks (all >= n), as (T, B)."""
    return np.stack([_binom_pmf(int(k), np.array([n]), qc)[:, 0] for k in ks])


def _live_grid(qa: float, qb: float, ks: np.ndarray, j_count: int) -> np.ndarray:
    """Which (n, K), n = 0..max(K)//2, can carry weight for some q_c in [qa, qb], as (N, T).

    A pair is kept when n <= K/2, H(n, K - n) is not zero by pigeonhole, and the largest
    binomial weight over the interval (at q = n/K clipped into it) exceeds the tolerance.
    Also returns the log of that largest weight (rounded up), (N, T).
    """
    nmax = int(ks.max()) // 2
    n = np.arange(nmax + 1)[:, None]
    k = ks[None, :]
    ok = (2 * n <= k) & (n >= 1) & (k - n <= j_count * (n - 1))
    qstar = np.clip(n / k, qa, qb)
    with np.errstate(divide="ignore", invalid="ignore"):
        logw = _lgamma_comb(k, n) + _xlogy(n, qstar) + _xlogy(k - n, 1.0 - qstar)
    # the log form is within ~1e-12 relative of the weight; the margin keeps every live pair
    return ok & (logw > math.log(_WEIGHT_TOL) - 1e-6), logw + 1e-6


def _lgamma_comb(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """log C(k, n) from lgamma (k - n clipped at 0)."""
    kk, nn = np.broadcast_arrays(k, n)
    table = _log_factorials(_table_size(int(kk.max())))
    return table[kk] - table[np.clip(nn, 0, None)] - table[np.clip(kk - nn, 0, None)]


@lru_cache(maxsize=4)
def _log_factorials(size: int) -> np.ndarray:
    table = np.array([math.lgamma(i + 1.0) for i in range(size + 1)])
    table.setflags(write=False)
    return table


# --------------------------------------------------------------------------------------------
# H(n, m): the other classes all stay at or below n - 1


def _scaled_powers(p: np.ndarray, mmax: int) -> np.ndarray:
    """The diagonal scalings of the product, (J, W, B) with W >= mmax + 1, for m = 0..W-1.

    With sigma_j = p_0 + ... + p_j and rho_j = p_j / sigma_j, table 0 is
    ((1 - rho_1) / rho_1)^m (into the first product), table j in 1..J-2 is
    rho_j^m ((1 - rho_(j+1)) / rho_(j+1))^m (out of product j and into the next) and table J-1 is
    rho_(J-1)^m (out of the last product). The bases simplify to p_0 / p_1, p_j / p_(j+1) and
    p_(J-1) / sigma_(J-1): one division each, at most 1 as the classes are ascending.
    """
    sigma = np.cumsum(p, axis=1)
    nxt = p[:, 1:]
    # a zero p_(j+1) means p_j = 0 too (ascending): the class takes no votes, base 0
    ratio = np.divide(p[:, :-1], nxt, out=np.zeros_like(nxt), where=nxt > 0)
    last = np.divide(p[:, -1], sigma[:, -1], out=np.ones(p.shape[0]), where=sigma[:, -1] > 0)
    bases = np.ascontiguousarray(np.concatenate([ratio.T, last[None]]))          # (J, B)
    return _pow_multiples(np.minimum(bases, 1.0), mmax)                          # (J, W, B)


@lru_cache(maxsize=16384)
def _band(n: int, c0: int, c1: int, r0: int, r1: int, size: int, weight_n: int) -> np.ndarray:
    """Rows c0..c1, columns r0..r1 of the band A[m, k] = C(m, m - k) for 0 <= m - k < n.

    With ``weight_n`` > 0 row m is multiplied by C(m + weight_n, weight_n): the binomial
    coefficient of the weight of n = weight_n when K = m + n.
    """
    comb = _comb_float(size)
    mm = np.arange(c0, c1 + 1)[:, None]
    kk = np.arange(r0, r1 + 1)[None, :]
    i = mm - kk
    a = np.where((i >= 0) & (i <= n - 1), comb[mm, np.clip(i, 0, size)], 0.0)
    if weight_n:
        wsize = _table_size(c1 + weight_n)
        a = a * _comb_float(wsize)[mm + weight_n, weight_n]
    a.setflags(write=False)
    return a


def _dp_contributions(scale: np.ndarray, n: int, mlo: int, mhi: int, rows: slice,
                      factor: np.ndarray | None, weight_n: int, *,
                      first: np.ndarray | None = None, start: int = 1) -> np.ndarray:
    """H(n, m) for m = mlo..mhi as (M, B'), one BLAS product per class block.

    ``scale`` holds the diagonal scalings (J, W, B) of `_scaled_powers`; with ``factor`` (a row
    factor q_c^n) and ``weight_n`` = n, and the last scaling times (1 - q_c)^m, the result is the
    term Bin(n; n + m, q_c) H(n, m) of Q instead. After j classes only the sums that can still
    reach [mlo, mhi] are kept: mlo - (J - j)(n - 1) <= sum <= min(mhi, j (n - 1)). The matrix is
    banded (a new class adds at most n - 1 votes), so the product is taken in blocks of rows of
    the output against the part of the state that reaches them. With ``first`` (the scaled
    state (mhi + 1, B') of the classes before ``start`` merged without a cap, see
    `_ChunkTables.merged`) the programme begins at class ``start``.
    """
    j_count = scale.shape[0]
    size = _table_size(mhi + 1)
    block = 16                      # measured: 8..24 alike; narrower wastes less of the band
    if first is None:
        lo, hi = 0, min(mhi, n - 1)
        x = scale[0, lo:hi + 1, rows]
    else:
        lo, hi = max(0, mlo - (j_count - start) * (n - 1)), mhi
        x = first[lo:hi + 1]
    if factor is not None:
        x = x * factor[None, :]
    for j in range(start, j_count):
        new_lo = max(0, mlo - (j_count - 1 - j) * (n - 1))
        new_hi = min(mhi, hi + n - 1)
        wn = weight_n if j == j_count - 1 else 0
        h = np.empty((new_hi - new_lo + 1, x.shape[1]))
        for c0 in range(new_lo, new_hi + 1, block):
            c1 = min(new_hi, c0 + block - 1)
            r0, r1 = max(lo, c0 - (n - 1)), min(hi, c1)
            np.matmul(_band(n, c0, c1, r0, r1, size, wn), x[r0 - lo:r1 - lo + 1],
                      out=h[c0 - new_lo:c1 - new_lo + 1])
        lo, hi = new_lo, new_hi
        h *= scale[j, lo:hi + 1, rows]
        # no flush of subnormal states here: the power tables are flushed, and on the benchmark
        # 1e-5 of the states are subnormal, too few to slow BLAS down (a flush pass cost 20%)
        x = h
    return h[mlo - lo:mhi - lo + 1]


def _one_violator_tails(small: np.ndarray, large: np.ndarray, big: np.ndarray, n: int,
                        m0: int, m1: int, j0: int = 0, rows: slice = slice(None)) -> np.ndarray:
    """sum_{j >= j0} P(Bin(m, p_j) >= n) for m = m0..m1 (n <= m0, m1 <= `_TAIL_KMAX`), (M, B).

    ``small`` and ``large`` are the power tables (W, J, B) of u = min(p, 1-p) / max(p, 1-p)
    and of max(p, 1-p); ``big`` marks the rows whose largest class has p > 1/2. Each tail is
    max(p, 1-p)^m times a polynomial in u with positive terms,
    sum_{i=n}^{m} C(m, i) u^i when p <= 1/2 and sum_{i=0}^{m-n} C(m, i) u^i otherwise (only the
    largest class, the last one, can have p > 1/2), so the tails of a window of m are one matrix
    product.
    """
    j_count = small.shape[1]
    upper, lower = _violator_coefficients(n, m0, m1)
    part = small[n:m1 + 1, j0:, rows]
    cols, b = part.shape[1:]
    poly = (upper @ part.reshape(m1 - n + 1, -1)).reshape(-1, cols, b)
    big = big[rows]
    if big.any():
        poly[:, -1, big] = lower @ small[:m1 - n + 1, -1, rows][:, big]
    # pow-accurate powers: the largest tail is near 1 and H = 1 - sum cancels, so the rounding
    # of this factor matters (exp of a rounded m log x would be off by ~m |log x| ulp)
    poly *= large[m0:m1 + 1, j0:, rows]
    return poly.sum(axis=1)


@lru_cache(maxsize=4096)
def _violator_coefficients(n: int, m0: int, m1: int):
    """C(m, i) for m = m0..m1 on n <= i <= m (upper) and on i <= m - n (lower), as (M, I)."""
    comb = _comb_float(_table_size(m1))
    m = np.arange(m0, m1 + 1)[:, None]
    i = np.arange(m1 - n + 1)[None, :]
    upper = np.where(i + n <= m, comb[m, np.minimum(i + n, m)], 0.0)
    lower = np.where(i <= m - n, comb[m, np.minimum(i, m)], 0.0)
    upper.setflags(write=False)
    lower.setflags(write=False)
    return upper, lower


def _one_violator_log(logp: np.ndarray, log1mp: np.ndarray, n: int, m: int) -> np.ndarray:
    """H(n, m) when n <= m <= 2n - 1 in log space (any m): H = 1 - sum_j P(n_j >= n).

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
    """H(n, m) for m = 0..mmax as (B, M), with log-space binomial weights: slower, any K."""
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


def _h_matmul(p: np.ndarray, n: int, mlo: int, mhi: int) -> np.ndarray:
    """H(n, m) for m = mlo..mhi as (B, M) by the scaled matrix products (small K)."""
    scale = _scaled_powers(p, mhi)
    return np.minimum(_dp_contributions(scale, n, mlo, mhi, slice(None), None, 0), 1.0).T


def _matmul_safe(j_count: int, mmax: int) -> bool:
    # C(m, i) <= 2^m and ((1 - rho)/rho)^m <= (J - 1)^m with classes in ascending order
    return mmax <= 1029 and mmax * math.log(2.0 * max(j_count, 1)) < _LOG_SAFE


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
    tables = _ChunkTables(qc_r, p_r, dp_mmax, ov_mmax, int(ks.max()))
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
                                              mhi, min(free[0], j_count - 1), cut)
            else:
                with np.errstate(divide="ignore"):
                    logp, log1mp = np.log(p_r[cut]), np.log1p(-p_r[cut])
                h = np.stack([_one_violator_log(logp, log1mp, n, int(mm))
                              for mm in range(mlo, mhi + 1)])
            acc[t, cut] += tables.weights(n, ks[t], cut) * h[m - mlo]
        if closed == count:
            continue
        rows = slice(closed, count)
        if tables.foldable(n, mhi, int(ks[t].max())):
            # the programme's output is already Bin(n; K, q_c) H(n, K - n)
            first, start = tables.merged(n, mlo, mhi, free[1], rows)
            acc[t, rows] += _dp_contributions(tables.scale, n, mlo, mhi, rows,
                                              tables.qpow(n, rows), n, first=first,
                                              start=start)[m - mlo]
            continue
        if _matmul_safe(j_count, mhi):
            h = np.minimum(_dp_contributions(_scaled_powers(p_r[rows], mhi), n, mlo, mhi,
                                             slice(None), None, 0), 1.0)
        else:
            h = _h_elementwise(p_r[rows], n, mhi)[:, mlo:].T
        acc[t, rows] += tables.weights(n, ks[t], rows) * h[m - mlo]
    out[:, sel] += acc
    return out


_FREE_TOL = 1e-18   # classes whose chance to reach n, times the weight of n, stays below this


def _split(pmax: np.ndarray, count: int, n: int, m: int, log_weight: float):
    """How to compute H(n, .) up to m for a chunk: (closed rows, (free classes, free classes)).

    ``pmax`` holds, per column of the ascending shares, the largest share over the chunk's rows.
    For the first c columns the chance that any of them gets n or more of m votes is at most
    c P(Bin(m, pmax_(c-1)) >= n) <= c exp(-m D(n/m || pmax_(c-1))) (Chernoff); they are free
    when that, times the largest weight of n, is below `_FREE_TOL`: their caps n - 1 can be
    dropped (`_ChunkTables.merged`) and their tails left out of the one-class sum. When at most
    one class is not free, or when m <= 2n - 1, every row takes the closed form
    H = 1 - sum_j P(Bin(m, p_j) >= n): exact for m <= 2n - 1, and otherwise wrong by at most
    the chance that two classes reach n, below the same bound. (Measured: deciding this per row
    instead saved 2-8% of the products and cost more than that.)
    """
    j_count = pmax.size
    x = n / m
    free = 0
    for c, pc in enumerate(pmax):
        if pc >= x:
            break
        if pc <= 0:
            d = math.inf
        else:
            d = x * math.log(x / pc) + ((1 - x) * math.log((1 - x) / (1 - pc)) if x < 1 else 0.0)
        if math.log(c + 1) - m * d + log_weight > math.log(_FREE_TOL):
            break
        free = c + 1
    closed = count if m <= 2 * n - 1 or free >= j_count - 1 else 0
    return closed, (free, free)


class _ChunkTables:
    """The power tables of one chunk, each built once and only when some n needs it."""

    def __init__(self, qc: np.ndarray, p: np.ndarray, dp_mmax: int, ov_mmax: int, kmax: int):
        self.qc, self.p = qc, p
        j_count = p.shape[1]
        # the largest m the scaled products can take for this number of classes
        safe = int(_LOG_SAFE / math.log(2.0 * j_count))
        while safe > 0 and not _matmul_safe(j_count, safe):
            safe -= 1
        self.dp_mmax = min(dp_mmax, _POW_KMAX, safe)
        self.scale = None
        # (1 - q_c)^m, pow-accurate, for the binomial weights
        self.rpow = np.power(1.0 - qc[None, :], np.arange(min(kmax, _POW_KMAX) + 1,
                                                            dtype=np.float64)[:, None])
        if self.dp_mmax >= 0:
            scale = _scaled_powers(p, self.dp_mmax)
            # the last scaling times (1 - q_c)^m: the programme ends with the binomial weight
            scale[-1] *= self.rpow[:scale.shape[1]] if scale.shape[1] <= self.rpow.shape[0] \
                else np.power(1.0 - qc[None, :],
                              np.arange(scale.shape[1], dtype=np.float64)[:, None])
            self.scale = scale
        self.small = self.large = self.big = None
        if 0 <= ov_mmax <= _TAIL_KMAX:
            pt = np.ascontiguousarray(p.T)                                           # (J, B)
            large = np.maximum(pt, 1.0 - pt)
            # degree-major (W, J, B): a window of degrees for some classes is one block
            self.small = np.ascontiguousarray(np.moveaxis(
                _pow_multiples(np.minimum(pt, 1.0 - pt) / large, ov_mmax), 1, 0))
            self.large = np.ascontiguousarray(np.moveaxis(_pow_multiples(large, ov_mmax), 1, 0))
            self.big = p[:, -1] > 0.5

    def foldable(self, n: int, mhi: int, kmax: int) -> bool:
        """Whether the programme for n can carry the binomial weights (no overflow on the way).

        The last product's output is C(K, n) q_c^n H(n, m) / p_last^m <= C(K, n) q_c^n J^m.
        """
        if self.scale is None or mhi > self.dp_mmax or kmax > _POW_KMAX:
            return False
        j_count = self.scale.shape[0]
        log_peak = (mhi * math.log(j_count) + float(_lgamma_comb(np.array(kmax), np.array(n)))
                    + n * math.log(max(float(self.qc.max()), 1e-300)))
        return log_peak < _LOG_SAFE

    def merged(self, n: int, mlo: int, mhi: int, free: int, rows: slice):
        """The first state when the ``free`` smallest classes are merged without a cap.

        Returns (state, start): the scaled state (sigma_(free-1) / p_free)^s for s = 0..mhi and
        the first class left to add, or (None, 1) when merging would not save work: it skips
        ``free`` - 1 products but starts from a full window instead of n - 1 votes.
        """
        j_count = self.p.shape[1]
        if free < 2 or free >= j_count:
            return None, 1
        if _chain_cost(n, mlo, mhi, j_count, free) >= _chain_cost(n, mlo, mhi, j_count, 0):
            return None, 1
        sigma = self.p[rows, :free].sum(axis=1)
        nxt = self.p[rows, free]
        base = np.divide(sigma, nxt, out=np.zeros_like(nxt), where=nxt > 0)
        return _pow_multiples(base, mhi), free

    def weights(self, n: int, ks: np.ndarray, rows: slice) -> np.ndarray:
        """Bin(n; K, q_c) for the K of ks (all >= n) and the rows, as (T, B')."""
        if int(ks.max()) > _POW_KMAX:
            return _weights(self.qc[rows], n, ks)
        comb = _comb_float(_table_size(int(ks.max())))[ks, n]
        return (comb[:, None] * self.qpow(n, rows)[None, :]) * self.rpow[ks - n, rows]

    def qpow(self, n: int, rows: slice) -> np.ndarray:
        return np.power(self.qc[rows], float(n))


def _chain_cost(n: int, mlo: int, mhi: int, j_count: int, free: int) -> int:
    """Multiply-adds per row of the programme (band products only), merged or not."""
    if free < 2:
        lo, hi, start = 0, min(mhi, n - 1), 1
    else:
        lo, hi, start = max(0, mlo - (j_count - free) * (n - 1)), mhi, free
    cost = 0
    for j in range(start, j_count):
        new_lo = max(0, mlo - (j_count - 1 - j) * (n - 1))
        new_hi = min(mhi, hi + n - 1)
        cost += (new_hi - new_lo + 1) * min(n, hi - lo + 1)
        lo, hi = new_lo, new_hi
    return cost
