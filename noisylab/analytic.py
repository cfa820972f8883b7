"""The K-NN plurality model of accuracy under label noise (Drory, Avidan and Giryes).

A prediction is the plurality label among K training neighbours whose noisy labels are drawn i.i.d.
from q = (q_1..q_L). The prediction is right when the correct label has strictly more votes than
every other label (ties are wrong), eq. 3 of the paper::

    Q(q, K) = sum over (n_1..n_L), sum n = K, n_c > n_j for all j != c, of
              K! / prod(n_j!) * prod(q_j ** n_j)

Algorithm. Condition on the correct count ``n_c = n`` (a binomial weight) and let the other
``m = K - n`` votes fall on the other classes with the renormalised probabilities ``p``::

    Q = sum_n Bin(n; K, q_c) * H(n, K - n),   H(n, m) = P(every count of Multinomial(m, p) <= n - 1)

``H = 1`` when ``m < n`` (so the upper half of n is a binomial tail) and ``H = 0`` when
``m > (L-1)(n-1)``. When ``m <= 2n - 1`` at most one class can reach n, so
``H = 1 - sum_j P(Bin(m, p_j) >= n)`` exactly. Otherwise ``H`` comes from a truncated-polynomial
dynamic programme that adds one class at a time: with ``rho = p_j / (p_1 + ... + p_j)``::

    H_j(m) = sum_{i <= min(m, n-1)} C(m, i) rho^i (1 - rho)^(m-i) H_{j-1}(m - i)

Every quantity is a probability in [0, 1], so nothing overflows. Splitting
``rho^i (1-rho)^(m-i) = rho^m ((1-rho)/rho)^(m-i)`` leaves the matrix ``C(m, i)`` common to all
q vectors, so a batch of q vectors is one BLAS matrix product per (n, class). Classes are added
in ascending order of probability, which bounds ``(1-rho)/rho`` by the class index and keeps the
scaled values finite; past that bound (large K) a log-space elementwise version is used instead.
One table ``H(n, .)`` serves every K at once, which is what makes whole curves and `fit_k` cheap.

Terms are dropped only when their total weight is provably below 1e-17 (binomial weights under
1e-20 per n, or a Chernoff bound on Q itself), i.e. below float64 rounding of a number near 1.

This module is numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from noisylab.errors import NoisylabError

ANALYTIC_KINDS = ("random", "symmetric", "flip", "confusion", "concentrated")

_WEIGHT_TOL = 1e-20   # a binomial weight Bin(n; K, q_c) below this is dropped (at most K of them)
_BOUND_TOL = 1e-18    # a q whose Chernoff bound says Q < this skips the dynamic programme
_SUM_TOL = 1e-6       # q must sum to 1 within this
_SOFTMAX_TOL = 1e-3   # a float32 softmax row must sum to 1 within this (then renormalised)
_LOG_SAFE = 690.0     # keep exp() arguments below this in the scaled matrix product
_BATCH_ELEMS = 4_000_000  # rows x columns x kernel of one elementwise block
_TINY = 1e-280            # flushed to zero: far below anything that reaches a result
_LOG_TINY = math.log(_TINY)


# --------------------------------------------------------------------------------------------
# validation


def _check_k(k) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        if isinstance(k, (float, np.floating)) and float(k).is_integer():
            k = int(k)
        else:
            raise NoisylabError(f"K must be an integer >= 1, got {k!r}")
    if k < 1:
        raise NoisylabError(f"K must be an integer >= 1, got {k}")
    return int(k)


def _check_classes(num_classes) -> int:
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(
        num_classes, (int, np.integer)
    ) or num_classes < 2:
        raise NoisylabError(f"num_classes (L) must be an integer >= 2, got {num_classes!r}")
    return int(num_classes)


def _check_q(q) -> np.ndarray:
    arr = np.asarray(q, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[-1] < 2:
        raise NoisylabError(
            f"q must have shape (L,) or (m, L) with L >= 2, got shape {arr.shape}"
        )
    q2 = np.atleast_2d(arr)
    if not np.all(np.isfinite(q2)):
        raise NoisylabError("q must be finite, got NaN or inf")
    if np.any(q2 < 0):
        raise NoisylabError(f"q must be non-negative, got minimum {q2.min()!r}")
    sums = q2.sum(axis=1)
    bad = np.abs(sums - 1.0) > _SUM_TOL
    if np.any(bad):
        row = int(np.argmax(bad))
        raise NoisylabError(f"q must sum to 1 within {_SUM_TOL:g}, row {row} sums to {sums[row]!r}")
    return q2 / sums[:, None]


def _check_levels(level) -> np.ndarray:
    arr = np.asarray(level, dtype=np.float64)
    if arr.ndim > 1:
        raise NoisylabError(f"level must be a scalar or 1-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
        bad = arr[~(np.isfinite(arr) & (arr >= 0) & (arr <= 1))].ravel()[0]
        raise NoisylabError(f"level must be in [0, 1], got {float(bad)!r}")
    return arr


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
    """Bin(n; k, p) for p of shape (B,) and n of shape (N,), as (B, N)."""
    n = np.asarray(n)
    logc = _log_comb(_table_size(k))[k, n]
    lp = _xlogy(n[None, :], p[:, None]) + _xlogy((k - n)[None, :], 1.0 - p[:, None])
    return np.exp(logc[None, :] + lp)


# --------------------------------------------------------------------------------------------
# H(n, m): the other classes all stay at or below n - 1


def _scaled_powers(p: np.ndarray, mmax: int):
    """rho_j^m and ((1 - rho_j) / rho_j)^m for classes j >= 1 and m = 0..mmax, (J-1, B, mmax+1)."""
    b, j_count = p.shape
    sigma = np.cumsum(p, axis=1)
    rho = np.divide(p, sigma, out=np.ones_like(p), where=sigma > 0).T[1:]       # (J-1, B)
    m = np.arange(mmax + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rho = np.log(rho)
        log_ratio = np.log1p(-rho) - log_rho
    # exp(m * log) with m = 0 giving exactly 1 even when the log is -inf
        up = np.where(m == 0, 0.0, m * log_rho[..., None])
        down = np.where(m == 0, 0.0, m * log_ratio[..., None])
    # Subnormal numbers slow BLAS down by orders of magnitude; these terms are negligible anyway
    up = np.where(up < _LOG_TINY, -np.inf, up)
    down = np.where(down < _LOG_TINY, -np.inf, down)
    return np.exp(up), np.exp(down)


def _h_matmul(p: np.ndarray, n: int, mlo: int, mhi: int, powers=None) -> np.ndarray:
    """H(n, m) for m = mlo..mhi, one BLAS product per class; p (B, J) ascending, rows sum to 1.

    After j classes only the sums that can still reach [mlo, mhi] are kept:
    mlo - (J - j)(n - 1) <= sum <= min(mhi, j (n - 1)). The matrix is banded (a new class adds at
    most n - 1 votes), so the product is taken in column blocks against the rows that reach them.
    """
    b, j_count = p.shape
    up, down = powers if powers is not None else _scaled_powers(p, mhi)
    comb = _comb_float(_table_size(mhi))
    block = max(2 * n, 32)
    lo, hi = 0, min(mhi, n - 1)
    h = np.ones((b, hi - lo + 1))
    for j in range(1, j_count):
        new_lo = max(0, mlo - (j_count - 1 - j) * (n - 1))
        new_hi = min(mhi, (j + 1) * (n - 1))
        x = h * down[j - 1][:, lo:hi + 1]
        new = np.empty((b, new_hi - new_lo + 1))
        for c0 in range(new_lo, new_hi + 1, block):
            c1 = min(new_hi, c0 + block - 1)
            r0, r1 = max(lo, c0 - (n - 1)), min(hi, c1)
            kk = np.arange(r0, r1 + 1)[:, None]
            mm = np.arange(c0, c1 + 1)[None, :]
            i = mm - kk
            a = np.where((i >= 0) & (i <= n - 1), comb[mm, np.clip(i, 0, mhi)], 0.0)
            new[:, c0 - new_lo:c1 - new_lo + 1] = x[:, r0 - lo:r1 - lo + 1] @ a
        h = new * up[j - 1][:, new_lo:new_hi + 1]
        h[h < _TINY] = 0.0
        lo, hi = new_lo, new_hi
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

_CHUNK = 2048


def _plurality_table(q: np.ndarray, ks: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Q(q_b, K) for q (B, L) (validated), ks (T,) ints >= 1, correct (B,) ints -> (B, T)."""
    if q.shape[0] > _CHUNK:
        return np.concatenate([
            _plurality_table(q[s:s + _CHUNK], ks, correct[s:s + _CHUNK])
            for s in range(0, q.shape[0], _CHUNK)
        ])
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
    all_rows = None
    for n in range(1, nmax + 1):
        live_n = live[:, n, :]
        need = np.flatnonzero(live_n.any(axis=1))
        if need.size == 0:
            continue
        if need.size == b:
            need = all_rows = all_rows if all_rows is not None else np.arange(b)
        live_k = live_n[need].any(axis=0)
        h = np.zeros((need.size, ks.size))
        for t in np.flatnonzero(live_k & (ks - n <= 2 * n - 1)):
            h[:, t] = _one_violator(logp[need], log1mp[need], n, int(ks[t]) - n)
        deep = np.flatnonzero(live_k & (ks - n > 2 * n - 1))
        if deep.size:
            mlo, mhi = int(ks[deep].min()) - n, int(ks[deep].max()) - n
            if powers is None:
                pw = None
            elif need.size == b:
                pw = powers
            else:
                pw = (powers[0][:, need], powers[1][:, need])
            table = _h_table(p[need], n, mlo, mhi, pw)                         # (B', mhi-mlo+1)
            h[:, deep] = table[:, ks[deep] - n - mlo]
        out[need] += np.where(live_n[need], weights[need, n, :], 0.0) * h
    return np.clip(out, 0.0, 1.0)


def plurality_probability(q, k, correct=0):
    """Probability that the correct label wins a strict plurality among K noisy neighbours (eq. 3).

    Parameters
    ----------
    q : array_like of shape (L,) or (m, L)
        Noisy-label probabilities of the K neighbours; each row non-negative, summing to 1.
    k : int
        Number of neighbours K >= 1.
    correct : int or array_like of shape (m,), default 0
        Index of the correct label (per row when q is 2-D).

    Returns
    -------
    float or ndarray of shape (m,)
        Sum over count vectors with n_correct > n_j for all j != correct of the multinomial
        probability. Ties count as wrong.

    Raises
    ------
    NoisylabError
        If q is not a distribution, K is not an integer >= 1, or correct is out of range.
    """
    k = _check_k(k)
    arr = np.asarray(q, dtype=np.float64)
    q2 = _check_q(arr)
    correct = np.broadcast_to(np.asarray(correct), (q2.shape[0],))
    if not np.issubdtype(correct.dtype, np.integer) or np.any(correct < 0) or np.any(
        correct >= q2.shape[1]
    ):
        raise NoisylabError(
            f"correct must be an integer index in [0, {q2.shape[1] - 1}], got {correct[0]!r}"
        )
    res = _plurality_table(q2, np.array([k]), correct.astype(np.int64))[:, 0]
    return float(res[0]) if arr.ndim == 1 else res


def _noise_matrix(kind: str, num_classes: int, matrix) -> np.ndarray | None:
    """P with noisy-given-true = (1 - level) I + level P, or None for `concentrated`."""
    el = num_classes
    if kind == "random":
        return np.full((el, el), 1.0 / el)
    if kind == "symmetric":
        return (1.0 - np.eye(el)) / (el - 1)
    if kind == "concentrated":
        return None
    if matrix is None:
        if kind == "confusion":
            raise NoisylabError("noise 'confusion' needs a matrix (L x L, rows summing to 1)")
        return np.roll(np.eye(el), 1, axis=1)          # flip: i -> (i + 1) mod L
    mat = np.asarray(matrix, dtype=np.float64)
    if mat.shape != (el, el):
        raise NoisylabError(f"matrix must have shape ({el}, {el}), got {mat.shape}")
    if not np.all(np.isfinite(mat)) or np.any(mat < 0):
        raise NoisylabError("matrix must be finite and non-negative")
    sums = mat.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _SUM_TOL)
    if bad.size:
        raise NoisylabError(f"matrix rows must sum to 1, row {bad[0]} sums to {sums[bad[0]]!r}")
    return mat / sums[:, None]


def _check_clean(clean_probs, true_labels, num_classes: int):
    probs = np.asarray(clean_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != num_classes or probs.shape[0] == 0:
        raise NoisylabError(
            f"clean_probs (softmax) must have shape (n, {num_classes}), got {probs.shape}"
        )
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise NoisylabError("clean_probs must be finite and non-negative")
    sums = probs.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _SOFTMAX_TOL)
    if bad.size:
        raise NoisylabError(
            f"clean_probs rows must sum to 1 within {_SOFTMAX_TOL:g}, "
            f"row {bad[0]} sums to {sums[bad[0]]!r}"
        )
    probs = probs / sums[:, None]
    if true_labels is None:
        labels = probs.argmax(axis=1)
    else:
        labels = np.asarray(true_labels)
        if labels.shape != (probs.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
            raise NoisylabError(
                f"true_labels must be integers of shape ({probs.shape[0]},), "
                f"got {labels.dtype} {labels.shape}"
            )
        if labels.min() < 0 or labels.max() >= num_classes:
            raise NoisylabError(
                f"true_labels must be in [0, {num_classes - 1}], "
                f"got {labels.min() if labels.min() < 0 else labels.max()}"
            )
    return probs, labels.astype(np.int64)


def accuracy_table(kind, levels, k_values, num_classes, matrix=None, clean_probs=None,
                   true_labels=None) -> np.ndarray:
    """Expected accuracy for every (level, K) pair at once (one table of H serves all K).

    Parameters are those of `expected_accuracy`, with ``levels`` of shape (T,) and ``k_values``
    of shape (S,). Returns an ndarray of shape (T, S).
    """
    if kind not in ANALYTIC_KINDS:
        raise NoisylabError(f"noise kind must be one of {', '.join(ANALYTIC_KINDS)}, got {kind!r}")
    el = _check_classes(num_classes)
    levels = np.atleast_1d(_check_levels(levels))
    ks = np.array([_check_k(k) for k in np.atleast_1d(np.asarray(k_values, dtype=object))],
                  dtype=np.int64)
    if ks.size == 0:
        raise NoisylabError("k_values must not be empty")
    trans = _noise_matrix(kind, el, matrix)
    if clean_probs is None:
        probs, labels = np.eye(el), np.arange(el)      # perfectly learnable: C one-hot
        if kind in ("random", "symmetric") or (kind == "flip" and matrix is None):
            probs, labels = probs[:1], labels[:1]      # every class gives the same Q
    else:
        probs, labels = _check_clean(clean_probs, true_labels, el)
    uk, inv = np.unique(ks, return_inverse=True)
    if trans is None:                                  # concentrated: ~ (1 - level) * clean
        if clean_probs is None:
            clean = np.ones(uk.size)
        else:
            clean = _plurality_table(probs, uk, labels).mean(axis=0)
        return ((1.0 - levels)[:, None] * clean[None, :])[:, inv]
    noisy = probs @ trans                              # eq. 6: sum_k P(l_j | l_k) C(l_k)
    out = np.empty((levels.size, uk.size))
    for t, g in enumerate(levels):
        q = (1.0 - g) * probs + g * noisy
        q = np.clip(q, 0.0, None)
        q /= q.sum(axis=1, keepdims=True)
        out[t] = _plurality_table(q, uk, labels).mean(axis=0)
    return out[:, inv]


def expected_accuracy(kind, level, k, num_classes, matrix=None, clean_probs=None, *,
                      true_labels=None):
    """Expected accuracy of the K-NN plurality model under label noise (eq. 2, 6-9).

    Parameters
    ----------
    kind : {'random', 'symmetric', 'flip', 'confusion', 'concentrated'}
        Noise model. The noisy-given-true matrix is (1 - level) I + level P with
        P = 1/L everywhere (random, the paper's), P = (1 - I)/(L - 1) (symmetric, our extension:
        q_correct = 1 - level), P = permutation i -> (i + 1) mod L or ``matrix`` (flip), P =
        ``matrix`` (confusion). `concentrated` returns (1 - level) times the clean accuracy
        (1 in the perfectly learnable case), the paper's approximation.
    level : float or array_like of shape (T,)
        Noise level gamma in [0, 1].
    k : int
        Number of neighbours K >= 1.
    num_classes : int
        Number of classes L >= 2.
    matrix : array_like of shape (L, L), optional
        Row-stochastic P, required for `confusion`, optional for `flip`.
    clean_probs : array_like of shape (n, L), optional
        Softmax of a network trained on clean labels, C(s) per test sample (eq. 2 general case):
        the result is the mean over samples of Q(q(s)). Without it, the perfectly learnable case
        (C one-hot); for `confusion` and a custom `flip` that is the mean over the L classes.
    true_labels : array_like of int, shape (n,), optional
        The correct label of each sample (the paper's choice). When omitted with ``clean_probs``,
        the argmax of ``clean_probs`` is used.

    Returns
    -------
    float or ndarray of shape (T,)
        Expected accuracy in [0, 1], the same shape as ``level``.
    """
    shape = np.shape(level)
    table = accuracy_table(kind, level, [k], num_classes, matrix, clean_probs, true_labels)
    res = table[:, 0]
    return float(res[0]) if shape == () else res.reshape(shape)


@dataclass(frozen=True)
class FitResult:
    """The K of the analytic model that best matches an empirical accuracy curve.

    Attributes
    ----------
    k : int
        Best K (the smallest on ties).
    sse, rmse : float
        Sum of squared errors and root mean squared error at that K.
    levels, curve : ndarray of shape (T,)
        The levels and the model's accuracy at ``k``.
    k_values, sse_all : ndarray of shape (S,)
        Every K tried and its sum of squared errors.
    """

    k: int
    sse: float
    rmse: float
    levels: np.ndarray
    curve: np.ndarray
    k_values: np.ndarray
    sse_all: np.ndarray


def fit_k(levels, accuracies, *, kind="random", num_classes, k_values=range(1, 201),
          matrix=None, clean_probs=None, true_labels=None) -> FitResult:
    """Least-squares fit of K to an empirical accuracy curve.

    Parameters
    ----------
    levels, accuracies : array_like of shape (T,)
        Measured noise levels in [0, 1] and accuracies (fractions in [0, 1]).
    kind, num_classes, matrix, clean_probs, true_labels
        As in `expected_accuracy`.
    k_values : iterable of int, default range(1, 201)
        Candidate K values.

    Returns
    -------
    FitResult
    """
    lv = _check_levels(levels)
    acc = np.asarray(accuracies, dtype=np.float64)
    if lv.ndim != 1 or acc.shape != lv.shape or lv.size == 0:
        raise NoisylabError(
            f"levels and accuracies must be 1-D of the same length, got {lv.shape} and {acc.shape}"
        )
    if not np.all(np.isfinite(acc)) or np.any((acc < 0) | (acc > 1)):
        raise NoisylabError(f"accuracies must be fractions in [0, 1], got {acc.min()}..{acc.max()}")
    ks = np.array(list(k_values), dtype=object)
    table = accuracy_table(kind, lv, ks, num_classes, matrix, clean_probs, true_labels)
    sse = ((table - acc[:, None]) ** 2).sum(axis=0)
    best = int(np.argmin(sse))
    return FitResult(
        k=int(ks[best]), sse=float(sse[best]), rmse=float(math.sqrt(sse[best] / lv.size)),
        levels=lv, curve=table[:, best], k_values=ks.astype(np.int64), sse_all=sse,
    )
