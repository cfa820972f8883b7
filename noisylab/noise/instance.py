"""Instance-dependent label noise: the generator of Xia et al. (2020), "Part-dependent label noise".

Each sample gets its own flip rate, and where it flips to depends on its image through a random
projection, so two images of one class can have different noise. For level γ, N samples with
labels y, L classes and per-sample feature vectors x_i of dimension d (the flattened image):

1. flip rates: ``q_i ~ N(γ, flip_sd²)`` truncated to [0, 1] (``flip_sd`` = 0.1 as in Xia et al.),
   drawn by redrawing every value outside [0, 1] until none is left;
2. projection: ``W ~ N(0, 1)`` of shape (L, d, L), one d x L matrix per class;
3. scores: ``s_i = x_i · W[y_i]`` (L numbers), with ``s_i[y_i] = -inf``; ``p_i = softmax(s_i)``
   (zero on the true class);
4. the noisy-label distribution of sample i is ``P_i = (1 - q_i) e_{y_i} + q_i p_i``, and the label
   is drawn from it: sample i flips with probability q_i (``u_i < q_i`` for a uniform u_i), and a
   flipped label is the class j with the inverse-CDF draw of a second uniform in p_i.

The draws come from ``rng`` in exactly this order: q (N normals, then the redraws), W (L·d·L
normals), the N flip uniforms, the N destination uniforms. So ``rng`` alone fixes the labels.

Features: by default the images, each channel standardized with its mean and standard deviation
over the given images (Xia et al.'s data loaders normalize the same way before projecting); or any
(N, d) array given as ``features`` (used as given). Because ``s_i`` has a standard deviation of
about √d (55 for a CIFAR image), the softmax is nearly one-hot: a flipped sample almost always
moves to the class with its highest score, which is what makes the noise instance-dependent.

Realized rate: whether sample i flips is Bernoulli(q_i) with q_i independent of everything else,
so the number of changed labels is **Binomial(N, μ)** with μ = E[q], the mean of the truncated
normal, ``μ(γ) = γ + σ (φ(a) − φ(b)) / (Φ(b) − Φ(a))``, a = −γ/σ, b = (1−γ)/σ. μ = γ up to 1e-4
for γ in [0.4, 0.6] at σ = 0.1, but the truncation pulls it inward near the ends (μ(0.1) = 0.129,
μ(0.9) = 0.871). The spec records μ as ``expected_rate`` and the mean of the drawn q as
``mean_flip_rate``. Level 0 is the identity (no label changes, nothing drawn), as for every kind,
although Xia et al.'s generator would still flip μ(0) = 8 % of the labels.
"""

from __future__ import annotations

import math

import numpy as np

from noisylab.errors import NoisylabError
from noisylab.noise.core import need_two_classes
from noisylab.validate import check_scalar

#: Rows multiplied at a time (bounds the float64 copy of the images to ~50 MB for CIFAR).
CHUNK = 2048
DEFAULT_FLIP_SD = 0.1


def truncated_normal_mean(mean: float, sd: float, low: float = 0.0, high: float = 1.0) -> float:
    """E[X] for X ~ N(mean, sd²) truncated to [low, high] (the expected realized rate μ)."""
    if sd == 0:
        return min(max(mean, low), high)
    a, b = (low - mean) / sd, (high - mean) / sd

    def pdf(t):
        return math.exp(-t * t / 2) / math.sqrt(2 * math.pi)

    def cdf(t):
        return 0.5 * (1 + math.erf(t / math.sqrt(2)))

    return mean + sd * (pdf(a) - pdf(b)) / (cdf(b) - cdf(a))


def flip_rates(n: int, level: float, sd: float, *, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of N(level, sd²) truncated to [0, 1], redrawing those outside."""
    if sd == 0:
        return np.full(n, float(level))
    q = rng.normal(level, sd, n)
    bad = np.flatnonzero((q < 0) | (q > 1))
    while bad.size:           # each round keeps >= half of the redraws (level in [0, 1])
        q[bad] = rng.normal(level, sd, bad.size)
        bad = bad[(q[bad] < 0) | (q[bad] > 1)]
    return q


def _standardizer(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std (one value per channel, repeated over the pixels), float64."""
    n = x.shape[0]
    flat = x.reshape(n, -1)
    channels = x.shape[-1] if x.ndim == 4 else 1
    total = np.zeros(channels)
    squares = np.zeros(channels)
    for start in range(0, n, CHUNK):
        part = flat[start:start + CHUNK].reshape(-1, channels).astype(np.float64)
        total += part.sum(axis=0)
        squares += np.einsum("ij,ij->j", part, part)
    count = flat.size // channels
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
    std[std == 0] = 1.0
    repeat = flat.shape[1] // channels
    return np.tile(mean, repeat), np.tile(std, repeat)


def class_scores(features: np.ndarray, labels: np.ndarray, projection: np.ndarray, *,
                 standardize: bool) -> np.ndarray:
    """``s_i = x_i · W[y_i]`` for every sample, by class and in chunks.

    Parameters
    ----------
    features : ndarray of shape (n, ...)
        Images (any shape per sample) or feature vectors; flattened per sample.
    labels : ndarray of shape (n,), int64
    projection : ndarray of shape (L, d, L)
    standardize : bool
        Standardize each channel first (images), folded into the projection.

    Returns
    -------
    ndarray of shape (n, L), float64
    """
    x = np.asarray(features)
    n = x.shape[0]
    flat = x.reshape(n, -1)
    L, d = projection.shape[0], projection.shape[1]
    if standardize:
        mean, std = _standardizer(x)
    else:
        mean, std = np.zeros(d), np.ones(d)
    scores = np.empty((n, L))
    order = np.argsort(labels, kind="stable")
    bounds = np.cumsum(np.bincount(labels, minlength=L))[:-1]
    for c, members in enumerate(np.split(order, bounds)):
        # ((x - m) / s) @ W = x @ (W / s) - (m / s) @ W: no standardized copy of the images.
        weights = projection[c] / std[:, None]
        offset = -(mean / std) @ projection[c]
        for start in range(0, members.size, CHUNK):
            rows = members[start:start + CHUNK]
            scores[rows] = flat[rows].astype(np.float64) @ weights + offset
    return scores


def destination_probabilities(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``softmax(s_i)`` with the true class masked out: each row sums to 1, 0 on ``labels[i]``."""
    s = np.array(scores, dtype=np.float64)
    s[np.arange(s.shape[0]), labels] = -np.inf
    s -= s.max(axis=1, keepdims=True)
    p = np.exp(s)
    return p / p.sum(axis=1, keepdims=True)


def instance(labels: np.ndarray, level: float, num_classes: int, *, rng: np.random.Generator,
             images=None, features=None, flip_sd: float = DEFAULT_FLIP_SD):
    """Xia et al.'s instance-dependent noise (see the module doc for the exact procedure).

    Parameters
    ----------
    labels : ndarray of shape (n,), int64
    level : float
        γ in [0, 1], the centre of the flip-rate distribution.
    num_classes : int
    rng : numpy.random.Generator
    images : array-like of shape (n, ...), optional
        Pixels, standardized per channel before the projection.
    features : array-like of shape (n, d), optional
        Used as given instead of the images.
    flip_sd : float
        Standard deviation of the flip rates (>= 0; 0 gives every sample the rate γ).

    Returns
    -------
    noisy : ndarray of shape (n,), int64
    resolved : dict
        ``features``, ``flip_sd``, ``expected_rate`` (μ) and ``mean_flip_rate``.
    """
    flip_sd = check_scalar(flip_sd, "flip_sd", kind=float, low=0.0)
    if (images is None) == (features is None):
        raise NoisylabError("kind 'instance' needs exactly one of images or features")
    source = "images" if features is None else "array"
    x = np.asarray(images if features is None else features)
    if x.ndim < 2 or x.shape[0] != labels.size:
        raise NoisylabError(f"{'images' if features is None else 'features'} must have shape "
                            f"(n, ...) with one row per label: {x.shape} for {labels.size} labels")
    if features is not None and x.dtype.kind in "fc" and not np.isfinite(x).all():
        raise NoisylabError("features must be finite; found NaN or infinity")
    resolved = {"features": source, "flip_sd": flip_sd,
                "expected_rate": truncated_normal_mean(level, flip_sd) if level > 0 else 0.0}
    if level == 0:
        return labels.copy(), {**resolved, "mean_flip_rate": 0.0}
    need_two_classes(num_classes, "instance")
    n = labels.size
    q = flip_rates(n, level, flip_sd, rng=rng)
    projection = rng.standard_normal((num_classes, int(np.prod(x.shape[1:])), num_classes))
    p = destination_probabilities(class_scores(x, labels, projection,
                                               standardize=features is None), labels)
    flip = rng.random(n) < q
    u = rng.random(n)
    destination = (np.cumsum(p, axis=1) <= u[:, None]).sum(axis=1)   # first j with F_j > u
    # Round-off can leave a row's last cumulative sum just below u: take its likeliest class.
    over = destination >= num_classes
    destination[over] = np.argmax(p[over], axis=1)
    noisy = np.where(flip, destination, labels)
    return noisy, {**resolved, "mean_flip_rate": float(q.mean())}
