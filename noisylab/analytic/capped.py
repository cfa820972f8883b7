"""H(n, m) = P(every other class gets at most n - 1 of m votes), the core of the plurality
probability: the scaled truncated-polynomial programme (BLAS products over a batch of rows), the
one-class closed form, and the per-chunk tables and plans that choose between them.

See `noisylab.analytic.plurality` for the algorithm. Internal to `noisylab.analytic`; numpy
only.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from noisylab.analytic.binomial import (
    _POW_KMAX,
    _TAIL_KMAX,
    _comb_float,
    _lgamma_comb,
    _log_comb,
    _pow_multiples,
    _table_size,
    _weights,
    _xlogy,
)

_LOG_SAFE = 690.0     # keep exp() arguments below this in the scaled matrix product
_BATCH_ELEMS = 4_000_000  # rows x columns x kernel of one elementwise block


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

    ``small`` is the power table (W, J, B) of u = min(p, 1-p) / max(p, 1-p) and ``large``
    (first degree, table) that of max(p, 1-p); ``big`` marks the rows whose largest class has
    p > 1/2. Each tail is max(p, 1-p)^m times a polynomial in u with positive terms,
    sum_{i=n}^{m} C(m, i) u^i when p <= 1/2 and sum_{i=0}^{m-n} C(m, i) u^i otherwise (only the
    largest class, the last one, can have p > 1/2), so the tails of a window of m are one matrix
    product.
    """
    upper, lower = _violator_coefficients(n, m0, m1)
    part = small[n:m1 + 1, j0:, rows]
    cols, b = part.shape[1:]
    poly = (upper @ part.reshape(m1 - n + 1, -1)).reshape(-1, cols, b)
    big = big[rows]
    if big.any():
        poly[:, -1, big] = lower @ small[:m1 - n + 1, -1, rows][:, big]
    # pow-accurate powers: the largest tail is near 1 and H = 1 - sum cancels, so the rounding
    # of this factor matters (exp of a rounded m log x would be off by ~m |log x| ulp)
    base, table = large
    poly *= table[m0 - base:m1 - base + 1, j0:, rows]
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


_FREE_TOL = 1e-18   # classes whose chance to reach n, times the weight of n, stays below this


def _split(pmax: np.ndarray, count: int, n: int, m: int, log_weight: float):
    """How to compute H(n, .) up to m for a chunk: (rows of the closed form, free classes).

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
    return closed, free


class _ChunkTables:
    """The power tables of one chunk, each built once and only when some n needs it."""

    def __init__(self, qc: np.ndarray, p: np.ndarray, dp_mmax: int, ov_mmax: int, kmax: int,
                 ov_mmin: int = 0):
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
            self.small = _pow_multiples(np.minimum(pt, 1.0 - pt) / large, ov_mmax,
                                        degree_first=True)
            # only the degrees m of the closed form, each straight from pow
            degrees = np.arange(ov_mmin, ov_mmax + 1, dtype=np.float64)[:, None, None]
            self.large = (ov_mmin, np.power(large[None], degrees))
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
