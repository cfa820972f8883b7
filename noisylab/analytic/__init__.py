"""The K-NN plurality model of accuracy under label noise (Drory, Avidan and Giryes).

The public API (this module): `plurality_probability` (Q of eq. 3 for given noisy-label
probabilities), `expected_accuracy` and `accuracy_table` (eq. 2 and 6-9 per noise kind),
`fit_k` and `fit_table`. The exact computation of Q lives in `noisylab.analytic.plurality`.

This package is numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from noisylab.analytic.plurality import (  # noqa: F401  (private helpers re-exported for the tests)
    _h_elementwise,
    _h_matmul,
    _plurality_table,
)
from noisylab.errors import NoisylabError
from noisylab.validate import (
    check_choice,
    check_levels,
    check_scalar,
    check_stochastic_rows,
    show,
)

ANALYTIC_KINDS = ("random", "symmetric", "flip", "confusion", "concentrated")

_SUM_TOL = 1e-6       # q must sum to 1 within this
_SOFTMAX_TOL = 1e-3   # a float32 softmax row must sum to 1 within this (then renormalised)


# --------------------------------------------------------------------------------------------
# validation


def _check_k(k) -> int:
    return check_scalar(k, "K", kind=int, low=1)


def _check_classes(num_classes) -> int:
    return check_scalar(num_classes, "num_classes (L)", kind=int, low=2)


def _check_q(q) -> np.ndarray:
    arr = np.asarray(q, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[-1] < 2:
        raise NoisylabError(
            f"q must have shape (L,) or (m, L) with L >= 2, got shape {arr.shape}"
        )
    return check_stochastic_rows(np.atleast_2d(arr), "q", square=False, tol=_SUM_TOL,
                                 renormalise=True)


def _check_levels(level) -> np.ndarray:
    arr = check_levels(level)
    if arr.ndim > 1:
        raise NoisylabError(f"level must be a scalar or 1-D, got shape {arr.shape}")
    return arr


#: The most memory an analytic table may need (bytes); past it the call is refused up front.
MEMORY_LIMIT = 4 << 30


def memory_estimate(num_classes: int, k_max: int, n_levels: int, n_rows: int) -> int:
    """Bytes an `accuracy_table` call needs, roughly: the L x L matrices, the q rows of every
    level and sample (a few copies), and the programme's (K + 1)^2 tables (float64)."""
    L, k1 = int(num_classes), int(k_max) + 1
    return 8 * (3 * L * L + 4 * n_levels * n_rows * L + 2 * k1 * k1 + 4 * n_rows * k1)


def check_memory(num_classes: int, k_max: int, n_levels: int, n_rows: int, *,
                 limit: int = MEMORY_LIMIT) -> None:
    """Refuse a computation whose `memory_estimate` exceeds ``limit``, saying how much."""
    need = memory_estimate(num_classes, k_max, n_levels, n_rows)
    if need > limit:
        raise NoisylabError(
            f"the K-NN model with L = {num_classes} classes, K up to {k_max} and {n_levels} "
            f"level(s) over {n_rows} row(s) would need about {need / 2**30:,.1f} GiB of memory, "
            f"more than the {limit / 2**30:g} GiB allowed; use fewer classes, a smaller K or "
            "fewer levels")


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
            f"correct must be an integer index in [0, {q2.shape[1] - 1}], got {show(correct[0])}"
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
    return check_stochastic_rows(matrix, "matrix", num_classes=el, tol=_SUM_TOL, renormalise=True)


def _check_correct(clean_probs, true_labels, correct) -> None:
    """The correct label is never chosen silently: true labels, or ``correct='argmax'``."""
    if correct is not None:
        check_choice(correct, "correct", ("argmax",))
    if clean_probs is None:
        if true_labels is not None:
            raise NoisylabError("true_labels needs clean_probs (the softmax of a clean network)")
        if correct is not None:
            raise NoisylabError("correct='argmax' needs clean_probs (the softmax of a clean "
                                "network)")
    elif true_labels is None and correct is None:
        raise NoisylabError("clean_probs needs true_labels (the correct label of each sample), "
                            "or correct='argmax' to score against the softmax's argmax")
    elif true_labels is not None and correct is not None:
        raise NoisylabError("give true_labels or correct='argmax', not both")


def _check_clean(clean_probs, true_labels, num_classes: int):
    probs = check_stochastic_rows(clean_probs, "clean_probs", num_classes=num_classes,
                                  square=False, tol=_SOFTMAX_TOL, renormalise=True)
    if true_labels is None:                           # correct='argmax', checked before
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
                   true_labels=None, *, correct=None) -> np.ndarray:
    """Expected accuracy for every (level, K) pair at once (one table of H serves all K).

    Parameters are those of `expected_accuracy`, with ``levels`` of shape (T,) and ``k_values``
    of shape (S,). Returns an ndarray of shape (T, S).
    """
    check_choice(kind, "noise kind", ANALYTIC_KINDS)
    _check_correct(clean_probs, true_labels, correct)
    el = _check_classes(num_classes)
    levels = np.atleast_1d(_check_levels(levels))
    ks = np.array([_check_k(k) for k in np.atleast_1d(np.asarray(k_values, dtype=object))],
                  dtype=np.int64)
    if ks.size == 0:
        raise NoisylabError("k_values must not be empty")
    n_rows = (np.shape(clean_probs)[0] if clean_probs is not None and np.ndim(clean_probs) == 2
              else 1 if kind in ("random", "symmetric") or (kind == "flip" and matrix is None)
              else el)
    check_memory(el, int(ks.max()), levels.size, n_rows)
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
            rows = _plurality_table(probs, uk, labels)
            clean = rows[0] + (rows - rows[:1]).mean(axis=0)
        return ((1.0 - levels)[:, None] * clean[None, :])[:, inv]
    noisy = probs @ trans                              # eq. 6: sum_k P(l_j | l_k) C(l_k)
    # every level in one call, so that rows needing the same work are grouped together
    g = levels[:, None, None]
    q = np.clip((1.0 - g) * probs[None] + g * noisy[None], 0.0, None)
    # summed in sorted order: rows equal up to a permutation stay equal (and are computed once)
    q /= np.sort(q, axis=2).sum(axis=2, keepdims=True)
    rows = _plurality_table(q.reshape(-1, el), uk, np.tile(labels, levels.size))
    rows = rows.reshape(levels.size, probs.shape[0], uk.size)
    # the mean as the first sample plus the mean difference: exact when all samples agree
    out = rows[:, 0] + (rows - rows[:, :1]).mean(axis=1)
    return out[:, inv]


def expected_accuracy(kind, level, k, num_classes, matrix=None, clean_probs=None, *,
                      true_labels=None, correct=None):
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
        The correct label of each sample (the paper's choice); required with ``clean_probs``
        unless ``correct='argmax'``.
    correct : {'argmax'}, optional
        Score every sample against the argmax of its ``clean_probs`` instead of a true label
        (on samples the clean network gets wrong this changes the result a lot, so it is
        never the silent default).

    Returns
    -------
    float or ndarray of shape (T,)
        Expected accuracy in [0, 1], the same shape as ``level``.

    Raises
    ------
    NoisylabError
        On a bad parameter, or ``clean_probs`` without ``true_labels`` or ``correct='argmax'``.
    """
    shape = np.shape(level)
    table = accuracy_table(kind, level, [k], num_classes, matrix, clean_probs, true_labels,
                           correct=correct)
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
          matrix=None, clean_probs=None, true_labels=None, correct=None) -> FitResult:
    """Least-squares fit of K to an empirical accuracy curve.

    Parameters
    ----------
    levels, accuracies : array_like of shape (T,)
        Measured noise levels in [0, 1] and accuracies (fractions in [0, 1]).
    kind, num_classes, matrix, clean_probs, true_labels, correct
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
    table = accuracy_table(kind, lv, ks, num_classes, matrix, clean_probs, true_labels,
                           correct=correct)
    return fit_table(lv, acc, table, ks)


def fit_table(levels, accuracies, table, k_values) -> FitResult:
    """The least-squares K from a table of the model's accuracy, as `fit_k` returns it.

    For models `fit_k` cannot express in one call (e.g. a realized noise matrix per level).

    Parameters
    ----------
    levels, accuracies : array_like of shape (T,)
        Measured noise levels and accuracies.
    table : array_like of shape (T, S)
        The model's expected accuracy at each level for each of the S values of ``k_values``.
    k_values : sequence of int, length S

    Returns
    -------
    FitResult
    """
    lv = np.asarray(levels, dtype=np.float64)
    acc = np.asarray(accuracies, dtype=np.float64)
    table = np.asarray(table, dtype=np.float64)
    ks = np.array([_check_k(k) for k in k_values], dtype=np.int64)
    if table.shape != (lv.size, ks.size) or acc.shape != lv.shape:
        raise NoisylabError(f"table must have shape (levels, K values) = ({lv.size}, {ks.size}) "
                            f"and accuracies ({lv.size},), got {table.shape} and {acc.shape}")
    sse = ((table - acc[:, None]) ** 2).sum(axis=0)
    best = int(np.argmin(sse))
    return FitResult(
        k=int(ks[best]), sse=float(sse[best]), rmse=float(math.sqrt(sse[best] / lv.size)),
        levels=lv, curve=table[:, best], k_values=ks, sse_all=sse,
    )
