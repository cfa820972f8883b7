"""The result type and the shared checks of every injector.

`NoisyLabels` is what every kind returns; the validators here turn user mistakes into
`NoisylabError`s that state the rule and the value that broke it. The selection helpers pick
exactly ``round(level * n)`` indices, globally or per class, without a loop over samples.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from noisylab import validate
from noisylab.errors import NoisylabError


@dataclass(frozen=True)
class NoisyLabels:
    """Noisy labels with everything needed to verify them.

    Attributes
    ----------
    labels : ndarray of shape (n,), int64
        The noisy labels, values in ``[0, L)``. Read-only.
    corrupted : ndarray of shape (n,), bool
        True where the noisy label differs from the original. Read-only.
    transition : ndarray of shape (L, L), float64
        The realized matrix: ``transition[i, j]`` is the fraction of samples of true class ``i``
        whose noisy label is ``j``. Rows sum to 1; a class with no samples has an identity row.
    spec : dict
        What was asked for, JSON-serializable: the kind, the level, the number of classes and the
        resolved options (e.g. the mapping or the matrix actually used).
    """

    labels: np.ndarray
    corrupted: np.ndarray
    transition: np.ndarray
    spec: dict = field(default_factory=dict)

    @property
    def realized_rate(self) -> float:
        """The fraction of labels that changed, ``corrupted.mean()`` (0.0 for no samples)."""
        return float(self.corrupted.mean()) if self.corrupted.size else 0.0


def make_result(original: np.ndarray, noisy: np.ndarray, num_classes: int,
                spec: dict) -> NoisyLabels:
    """Bundle ``noisy`` with its mask and realized transition matrix, arrays made read-only."""
    noisy = np.asarray(noisy, dtype=np.int64)
    corrupted = noisy != original
    transition = realized_transition(original, noisy, num_classes)
    for array in (noisy, corrupted, transition):
        array.flags.writeable = False
    return NoisyLabels(labels=noisy, corrupted=corrupted, transition=transition, spec=spec)


def realized_transition(true: np.ndarray, noisy: np.ndarray, num_classes: int) -> np.ndarray:
    """The row-stochastic matrix of noisy label given true label.

    Parameters
    ----------
    true, noisy : ndarray of shape (n,), int
        Labels in ``[0, num_classes)``.
    num_classes : int

    Returns
    -------
    ndarray of shape (num_classes, num_classes), float64
        Row ``i`` is the distribution of ``noisy`` over samples with ``true == i``; an identity
        row where class ``i`` has no samples.
    """
    L = num_classes
    counts = np.bincount(true.astype(np.int64) * L + noisy, minlength=L * L)
    counts = counts.reshape(L, L).astype(np.float64)
    rows = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, rows, out=np.eye(L), where=rows > 0)


def check_level(level, *, kind: str) -> float:
    """Return ``level`` as a float after checking it is a finite number in [0, 1]."""
    if level is None:
        raise NoisylabError(f"kind {kind!r} needs a level in [0, 1], got None")
    return validate.check_level(level)


def check_labels(labels, num_classes) -> tuple[np.ndarray, int]:
    """Return the labels as a fresh int64 array and the number of classes L, after checking them.

    Parameters
    ----------
    labels : array-like of shape (n,), integer
        Values in ``[0, L)``.
    num_classes : int or None
        L; inferred as ``labels.max() + 1`` when None.

    Returns
    -------
    labels : ndarray of shape (n,), int64
        A copy: the caller's array is never modified.
    num_classes : int
    """
    array = np.asarray(labels)
    if array.ndim != 1:
        raise NoisylabError(f"labels must be a 1-D array, got shape {array.shape}")
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise NoisylabError(f"labels must be integers, got dtype {array.dtype}")
    if array.size and array.min() < 0:
        bad = int(np.argmax(array < 0))
        raise NoisylabError(f"labels must be >= 0, got {array[bad]} at index {bad}")
    if num_classes is None:
        if array.size == 0:
            raise NoisylabError("num_classes is required when labels are empty")
        num_classes = int(array.max()) + 1
    num_classes = validate.check_scalar(num_classes, "num_classes", kind=int, low=1)
    if array.size and array.max() >= num_classes:
        bad = int(np.argmax(array >= num_classes))
        raise NoisylabError(
            f"labels must be < num_classes={num_classes}, got {array[bad]} at index {bad}"
        )
    return array.astype(np.int64, copy=True), num_classes


def need_two_classes(num_classes: int, kind: str) -> None:
    """Raise unless there is a different class to move a label to."""
    if num_classes < 2:
        raise NoisylabError(
            f"kind {kind!r} needs at least 2 classes, got num_classes={num_classes}"
        )


def parse_mapping(mapping, num_classes: int, *, option: str = "mapping") -> dict[int, int]:
    """Return a class map as ``{source: target}`` after checking it.

    Parameters
    ----------
    mapping : dict or str
        ``{0: 1, 1: 0}`` or the string ``"0:1,1:0"``.
    num_classes : int
        Every source and target must lie in ``[0, num_classes)``.

    Raises
    ------
    NoisylabError
        On a malformed string, a repeated source, a class mapped to itself, or a class outside
        ``[0, num_classes)``.
    """
    if isinstance(mapping, str):
        pairs = []
        for item in filter(None, (part.strip() for part in mapping.split(","))):
            source, sep, target = item.partition(":")
            try:
                if not sep:
                    raise ValueError
                pairs.append((int(source), int(target)))
            except ValueError:
                raise NoisylabError(
                    f"{option} must look like '0:1,1:0' (source:target pairs), got item {item!r}"
                ) from None
        sources = [s for s, _ in pairs]
        repeated = sorted({s for s in sources if sources.count(s) > 1})
        if repeated:
            raise NoisylabError(f"{option} lists class {repeated[0]} more than once")
        mapping = dict(pairs)
    if not isinstance(mapping, dict):
        raise NoisylabError(f"{option} must be a dict or a string like '0:1,1:0', got {mapping!r}")
    if not mapping:
        raise NoisylabError(f"{option} must map at least one class, got an empty mapping")
    result = {}
    for source, target in mapping.items():
        for value in (source, target):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                raise NoisylabError(
                    f"{option} classes must be integers, got {validate.show(value)}")
            if not 0 <= value < num_classes:
                raise NoisylabError(
                    f"{option} refers to unknown class {value}; classes are 0..{num_classes - 1}"
                )
        if source == target:
            raise NoisylabError(f"{option} sends class {source} to itself")
        result[int(source)] = int(target)
    return result


def class_index(labels: np.ndarray, num_classes: int) -> list[np.ndarray]:
    """The indices of each class, in increasing order: ``out[c] = flatnonzero(labels == c)``."""
    order = np.argsort(labels, kind="stable")
    bounds = np.cumsum(np.bincount(labels, minlength=num_classes))[:-1]
    return np.split(order, bounds)


def choose_exact(pool: np.ndarray, count: int, *, rng: np.random.Generator,
                 what: str) -> np.ndarray:
    """Pick ``count`` distinct entries of ``pool`` uniformly at random."""
    if count > pool.size:
        raise NoisylabError(f"cannot corrupt {count} labels: only {pool.size} {what}")
    return rng.choice(pool, size=count, replace=False) if count else pool[:0]


def choose(labels: np.ndarray, level: float, *, rng: np.random.Generator, stratify: bool,
           num_classes: int, classes=None) -> np.ndarray:
    """Indices of the samples to corrupt.

    Parameters
    ----------
    labels : ndarray of shape (n,), int64
    level : float
        The fraction to corrupt.
    stratify : bool
        False: exactly ``round(level * n)`` among all eligible samples. True: exactly
        ``round(level * n_c)`` within each eligible class ``c``.
    classes : sequence of int or None
        The eligible classes; all when None.

    Returns
    -------
    ndarray of shape (m,), int64
    """
    n = labels.size
    if classes is None:
        eligible = None
    else:
        eligible = np.zeros(num_classes, dtype=bool)
        eligible[list(classes)] = True
    if not stratify:
        pool = np.arange(n) if eligible is None else np.flatnonzero(eligible[labels])
        return choose_exact(pool, round(level * n), rng=rng,
                            what="samples have a class in the mapping")
    picks = []
    for c, members in enumerate(class_index(labels, num_classes)):
        if eligible is None or eligible[c]:
            picks.append(choose_exact(members, round(level * members.size), rng=rng,
                                      what=f"samples of class {c}"))
    return np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)


def check_options(kind: str, options: dict, allowed: tuple[str, ...]) -> None:
    """Raise on an option the kind does not take."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise NoisylabError(f"kind {kind!r} does not take option {unknown[0]!r}; valid: {valid}")
