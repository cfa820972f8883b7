"""Confusion matrices: validation, vectorized row sampling, and the from-trace generator.

Convention everywhere in noisylab: ``P[i, j]`` = probability that a sample of TRUE class ``i``
gets NOISY label ``j``; rows sum to 1. (cleanlab stores the transpose, column = true class.)
"""

from __future__ import annotations

import numpy as np

from noisylab.errors import NoisylabError
from noisylab.validate import check_scalar, check_stochastic_rows


def check_matrix(matrix, num_classes: int) -> np.ndarray:
    """Return ``matrix`` as a float64 (L, L) array after checking it is row-stochastic.

    Parameters
    ----------
    matrix : array-like of shape (L, L)
    num_classes : int
        L.

    Raises
    ------
    NoisylabError
        If it is not square L×L, has a non-finite or negative entry, or a row whose sum differs
        from 1 by more than 1e-6; the message names the first bad row.
    """
    return check_stochastic_rows(matrix, "confusion matrix", num_classes=num_classes)


def sample_rows(true: np.ndarray, P: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Draw one noisy label per sample from the row of its true class.

    Parameters
    ----------
    true : ndarray of shape (m,), int64
        True classes in ``[0, L)``.
    P : ndarray of shape (L, L)
        Row-stochastic matrix.

    Returns
    -------
    ndarray of shape (m,), int64
        ``out[k]`` is distributed as ``P[true[k]]``. One uniform draw per sample, inverted through
        the concatenated row CDFs with a single `searchsorted`; zero-probability columns are never
        returned.
    """
    L = P.shape[0]
    cdf = np.cumsum(P, axis=1)
    cdf /= cdf[:, -1:]          # last entry exactly 1.0, also after trailing zero columns
    # Row i's CDF lives in (i, i + 1]; sample k looks for true[k] + u in it.
    flat = (cdf + np.arange(L)[:, None]).ravel()
    u = rng.random(true.size)
    position = np.searchsorted(flat, true + u, side="right")
    return np.minimum(position - true * L, L - 1).astype(np.int64)


def _probabilities_summing_to(n: int, total: float, *, rng: np.random.Generator,
                              min_prob: float, max_prob: float) -> np.ndarray:
    """``n`` random probabilities that sum to ``total``, each within [min_prob, max_prob].

    A flat Dirichlet scaled to ``total``, then cleanlab's repair: while an entry is out of
    bounds, move the excess between the largest and smallest entries by a random amount.
    """
    eps = 1e-6
    if n == 0:
        return np.zeros(0)
    if max_prob + eps < total / n or min_prob > (total + eps) / n:
        raise NoisylabError(
            f"cannot split {total:g} into {n} probabilities within [{min_prob:g}, {max_prob:g}]"
        )
    result = rng.dirichlet(np.ones(n)) * total
    while result.max() > max_prob + eps:
        low, high = np.argmin(result), np.argmax(result)
        new_min = result[low] + (result[high] - max_prob)
        adjustment = (max_prob - new_min) * rng.random()
        result[low], result[high] = new_min + adjustment, max_prob - adjustment
    while result.min() < min_prob - eps:
        low, high = np.argmin(result), np.argmax(result)
        new_max = result[high] - (min_prob - result[low])
        adjustment = (new_max - min_prob) * rng.random()
        result[high], result[low] = new_max - adjustment, min_prob + adjustment
    return result


def is_learnable(P: np.ndarray, py: np.ndarray) -> bool:
    """cleanlab's validity rule: ``p(true=k) p(noisy=k) < p(true=k, noisy=k)`` for present k."""
    joint = py[:, None] * P
    present = py > 0
    return bool(np.all((py * joint.sum(axis=0))[present] < np.diag(joint)[present]))


def noise_matrix_from_trace(num_classes: int, trace: float, *, rng: np.random.Generator,
                            py=None, frac_zero_noise_rates: float = 0.0,
                            min_trace_prob: float = 1e-5, max_trace_prob: float = 1.0,
                            min_noise_rate: float = 0.0, max_noise_rate: float = 1 - 1e-5,
                            max_iter: int = 10000) -> np.ndarray:
    """A random row-stochastic L×L matrix whose diagonal sums to ``trace``.

    The recipe of cleanlab's ``generate_noise_matrix_from_trace``, in noisylab's row convention:

    1. the diagonal is ``L`` random probabilities summing to ``trace``, each in
       ``[min_trace_prob, max_trace_prob]``;
    2. ``int(L (L - 1) frac_zero_noise_rates)`` off-diagonal entries are forced to 0, spread at
       random over the rows, at most ``L - 2`` per row (so every row can still sum to 1);
    3. each row's remaining off-diagonal entries are random probabilities summing to
       ``1 - diagonal``, each in ``[min_noise_rate, max_noise_rate]``, put at random columns;
    4. when ``py`` is given, retry until the matrix is learnable (`is_learnable`), which needs
       ``trace > 1``.

    Parameters
    ----------
    num_classes : int
        L >= 2.
    trace : float
        Sum of the diagonal, in ``[L * min_trace_prob, L * max_trace_prob]``.
    rng : numpy.random.Generator
    py : ndarray of shape (L,) or None
        Class prior ``p(true = k)``; None skips the learnability check.

    Returns
    -------
    ndarray of shape (L, L), float64
    """
    L = num_classes
    if L < 2:
        raise NoisylabError(f"from-trace needs at least 2 classes, got {L}")
    trace = check_scalar(trace, f"trace (for {L} classes)", low=L * min_trace_prob,
                         high=L * max_trace_prob)
    check_scalar(frac_zero_noise_rates, "frac_zero_noise_rates", low=0.0, high=1.0)
    if py is not None and trace <= 1:
        raise NoisylabError(f"a learnable matrix needs trace > 1, got {trace:g}")
    for _ in range(max_iter):
        diagonal = _probabilities_summing_to(L, float(trace), rng=rng, min_prob=min_trace_prob,
                                             max_prob=max_trace_prob)
        noisy_rows = np.flatnonzero(diagonal != 1)
        P = np.diag(diagonal)
        zeros = int(L * (L - 1) * frac_zero_noise_rates) - (L - noisy_rows.size) * (L - 1)
        slots = noisy_rows.size * (L - 2)
        zeros = min(max(zeros, 0), slots)
        chosen = rng.choice(slots, size=zeros, replace=False) if zeros else np.zeros(0, int)
        zeros_per_row = np.bincount(chosen // max(L - 2, 1), minlength=noisy_rows.size)
        for row, row_zeros in zip(noisy_rows, zeros_per_row, strict=True):
            width = L - 1 - int(row_zeros)
            rates = _probabilities_summing_to(width, 1.0 - diagonal[row], rng=rng,
                                              min_prob=min_noise_rate, max_prob=max_noise_rate)
            others = np.delete(np.arange(L), row)
            P[row, rng.choice(others, size=width, replace=False)] = rates
        if py is None or is_learnable(P, np.asarray(py, dtype=np.float64)):
            return P
    raise NoisylabError(f"found no learnable matrix with trace {trace:g} in {max_iter} tries")
