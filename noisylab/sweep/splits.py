"""Seeded, stratified index selection for subsets and validation splits (numpy only)."""

from __future__ import annotations

import numpy as np

from noisylab.errors import NoisylabError


def stratified_take(labels, n_take: int, *, rng: np.random.Generator) -> np.ndarray:
    """Pick ``n_take`` indices with class proportions as close as possible to ``labels``'.

    Each class gets ``floor(n_take * n_c / n)`` samples, and the remaining ones go to the classes
    with the largest remainders (ties broken by ``rng``); within a class the samples are drawn
    uniformly without replacement.

    Parameters
    ----------
    labels : array_like of shape (n,), int
    n_take : int
        In [0, n].
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_take,), int64
        Sorted indices into ``labels``.
    """
    labels = np.asarray(labels)
    n = labels.size
    if not 0 <= n_take <= n:
        raise NoisylabError(f"cannot take {n_take} samples out of {n}")
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * (n_take / n) if n else counts * 0.0
    quota = np.floor(exact).astype(np.int64)
    left = n_take - int(quota.sum())
    if left:
        # Largest remainder first; a random key breaks ties between equal remainders.
        order = np.lexsort((rng.random(classes.size), -(exact - quota)))
        quota[order[:left]] += 1
    picked = [rng.choice(np.flatnonzero(labels == c), size=q, replace=False)
              for c, q in zip(classes, quota, strict=True) if q]
    return np.sort(np.concatenate(picked)).astype(np.int64) if picked else np.zeros(0, np.int64)
