"""Locally concentrated label noise (Drory et al.): whole k-means clusters of a class relabeled.

For each class ``c`` with ``n_c`` samples, exactly ``round(level * n_c)`` labels move to one
target class. k-means (scikit-learn) splits the class's feature vectors into ``clusters`` groups;
the groups are visited in a random order and taken whole while they fit, then the remainder comes
from the next group, nearest its centroid first. Corrupted samples therefore sit together in
feature space, unlike `symmetric` noise, which is spread uniformly.
"""

from __future__ import annotations

import numpy as np

from noisylab.errors import NoisylabError
from noisylab.noise.core import class_index, need_two_classes, parse_mapping
from noisylab.validate import check_scalar

DEFAULT_PCA_COMPONENTS = 50


def pca_features(images, *, rng: np.random.Generator,
                 components: int = DEFAULT_PCA_COMPONENTS) -> np.ndarray:
    """Principal components of flattened images, the fast feature source for concentrated noise.

    Parameters
    ----------
    images : array-like of shape (n, ...)
        Pixels of any shape per sample, e.g. (n, H, W, C) uint8.
    rng : numpy.random.Generator
        Seeds the randomized SVD.
    components : int
        At most this many components (fewer when n or the pixel count is smaller).

    Returns
    -------
    ndarray of shape (n, k), float32
    """
    from sklearn.decomposition import PCA

    pixels = np.asarray(images)
    if pixels.ndim < 2:
        raise NoisylabError(f"images must have shape (n, ...) with pixels, got {pixels.shape}")
    flat = pixels.reshape(pixels.shape[0], -1).astype(np.float32)
    k = int(min(components, flat.shape[0], flat.shape[1]))
    if k < 1:
        raise NoisylabError(f"cannot compute PCA features of images with shape {pixels.shape}")
    pca = PCA(n_components=k, random_state=int(rng.integers(2**31 - 1)))
    return pca.fit_transform(flat).astype(np.float32)


def check_features(features, n: int) -> np.ndarray:
    """Return ``features`` as a finite float (n, d) array, or raise naming the mismatch."""
    try:
        X = np.asarray(features)
        if X.dtype != np.float32:
            X = X.astype(np.float64)
    except (TypeError, ValueError):
        raise NoisylabError("features must be a numeric (n, d) array") from None
    if X.ndim != 2:
        raise NoisylabError(f"features must be a 2-D (n, d) array, got shape {X.shape}")
    if X.shape[0] != n:
        raise NoisylabError(
            f"features must have one row per label: {X.shape[0]} rows for {n} labels"
        )
    if not np.isfinite(X).all():
        raise NoisylabError("features must be finite; found NaN or infinity")
    return X


def _take_from_clusters(X: np.ndarray, count: int, k: int, *,
                        rng: np.random.Generator) -> np.ndarray:
    """Positions (into X) of ``count`` samples: whole clusters first, then nearest-to-centroid."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=1, random_state=int(rng.integers(2**31 - 1))).fit(X)
    order = rng.permutation(k)
    sizes = np.bincount(km.labels_, minlength=k)[order]
    whole = int(np.searchsorted(np.cumsum(sizes), count, side="right"))
    taken = np.flatnonzero(np.isin(km.labels_, order[:whole]))
    remainder = count - taken.size
    if remainder > 0:
        cluster = order[whole]
        members = np.flatnonzero(km.labels_ == cluster)
        distance = ((X[members] - km.cluster_centers_[cluster]) ** 2).sum(axis=1)
        taken = np.concatenate([taken, members[np.argsort(distance, kind="stable")[:remainder]]])
    return taken


def concentrated(labels: np.ndarray, level: float, num_classes: int, *,
                 rng: np.random.Generator, features, clusters=None,
                 mapping=None) -> tuple[np.ndarray, dict]:
    """Relabel spatially concentrated groups within each class.

    Parameters
    ----------
    labels : ndarray of shape (n,), int64
        Checked labels (not modified).
    level : float
        In [0, 1]; each class loses exactly ``round(level * n_c)`` labels.
    num_classes : int
    rng : numpy.random.Generator
        Seeds k-means and the order in which clusters are taken.
    features : ndarray of shape (n, d)
        One feature vector per label (PCA of pixels, or a CNN's penultimate layer).
    clusters : int or None
        k-means groups per class. Default ``max(2, round(1 / level))``, capped at ``n_c``; an
        explicit value larger than a class's size is an error.
    mapping : dict or str or None
        Target class per source class; classes not listed go to ``(c + L // 2) mod L``.

    Returns
    -------
    noisy : ndarray of shape (n,), int64
    resolved : dict
        ``targets`` and ``clusters`` actually used per class (JSON-serializable).
    """
    need_two_classes(num_classes, "concentrated")
    X = check_features(features, labels.size)
    if clusters is not None:
        clusters = check_scalar(clusters, "clusters", kind=int, low=1)
    L = num_classes
    targets = {c: (c + L // 2) % L for c in range(L)}
    if mapping is not None:
        targets.update(parse_mapping(mapping, L))
    noisy = labels.copy()
    used = {}
    for c, members in enumerate(class_index(labels, L)):
        if members.size == 0:
            continue
        if clusters is not None and clusters > members.size:
            raise NoisylabError(
                f"clusters={clusters} is more than the {members.size} samples of class {c}"
            )
        count = round(level * members.size)
        if count == 0:
            continue
        k = clusters if clusters is not None else min(max(2, round(1 / level)), members.size)
        taken = _take_from_clusters(X[members], count, k, rng=rng)
        noisy[members[taken]] = targets[c]
        used[str(c)] = k
    resolved = {"targets": {str(c): t for c, t in targets.items()}, "clusters_used": used}
    return noisy, resolved
