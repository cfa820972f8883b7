"""Exact binomial pieces of the plurality probability: coefficient and power tables, the binomial
weights of the correct count and the upper tail P(n_c > K/2), each for many rows and many K.

Powers are taken from pow (a few ulp) rather than exp of a sum of logs (off by ~m |log x| ulp),
and ratios carry their rounding error forward (`_ratio_powers`), so that the terms of Q keep
float64 accuracy. Tables are degree-major: a window of degrees for a batch of rows is one
contiguous block, the shape BLAS is fastest on. Internal to `noisylab.analytic`; numpy only.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

_WEIGHT_TOL = 1e-20   # a binomial weight Bin(n; K, q_c) below this is dropped (at most K of them)
_POW_KMAX = 300          # C(k, n) < 1e90: a weight above 1e-20 has both powers above 1e-110
_TAIL_KMAX = 1000         # C(m, i) u^i sums stay below 2^K, finite in float64
_TINY = 1e-280            # flushed to zero: far below anything that reaches a result


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


def _pow_multiples(x: np.ndarray, mmax: int, *, degree_first: bool = False) -> np.ndarray:
    """x^m for m = 0..W-1 (W >= mmax + 1), within 2 roundings.

    For x of shape (B,) the result is (W, B); for x of shape (J, B) it is (J, W, B), or
    (W, J, B) with ``degree_first``. x^(a + b s) = x^a x^(b s) from two short pow tables: as
    accurate as pow (exp(m log x) would be off by up to m |log x| ulp) at the cost of about
    2 sqrt(mmax) pow calls per entry of x. The degree comes before the rows so that a window of
    degrees for a batch of rows is one contiguous block. High powers x^(b s) under `_TINY` are
    flushed to zero, which keeps most of the numbers that are far too small to matter out of
    the subnormal range (slow arithmetic on some CPUs); a flush of the whole table cost more.
    """
    step = max(1, math.isqrt(mmax + 1))
    x2 = np.ascontiguousarray(x).reshape(-1, x.shape[-1])                     # (J, B)
    low = np.arange(step, dtype=np.float64)
    high = np.arange(mmax // step + 1, dtype=np.float64) * step
    if degree_first or x.ndim == 1:
        lo = np.power(x2[None], low[:, None, None])                            # (step, J, B)
        hi = np.power(x2[None], high[:, None, None])                           # (S, J, B)
        np.putmask(hi, hi < _TINY, 0.0)
        out = (hi[:, None] * lo[None]).reshape(-1, *x2.shape)                 # (W, J, B)
        return out[:, 0] if x.ndim == 1 else out
    lo = np.power(x2[:, None], low[None, :, None])                             # (J, step, B)
    hi = np.power(x2[:, None], high[None, :, None])                            # (J, S, B)
    np.putmask(hi, hi < _TINY, 0.0)
    return (hi[:, :, None] * lo[:, None]).reshape(x2.shape[0], -1, x2.shape[1])  # (J, W, B)


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

