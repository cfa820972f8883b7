"""Label-noise injectors. SKELETON: the noise issue (#3) replaces this with every kind.

Contract: ``inject(labels, *, kind, level, rng, num_classes=None, **options) -> NoisyLabels``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class NoisyLabels:
    labels: np.ndarray        # (n,) int64, the noisy labels
    corrupted: np.ndarray     # (n,) bool, labels != original
    transition: np.ndarray    # (L, L) float64, realized P(noisy=j | true=i), rows sum to 1
    spec: dict = field(default_factory=dict)

    @property
    def realized_rate(self) -> float:
        return float(self.corrupted.mean()) if self.corrupted.size else 0.0


def _transition(true, noisy, num_classes):
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (true, noisy), 1)
    rows = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, rows, out=np.eye(num_classes), where=rows > 0)


def inject(labels, *, kind, level, rng, num_classes=None, **options) -> NoisyLabels:
    labels = np.asarray(labels)
    L = int(num_classes if num_classes is not None else labels.max() + 1)
    n = labels.size
    chosen = rng.choice(n, size=int(round(level * n)), replace=False)
    new = labels.astype(np.int64).copy()
    if kind == "random":
        new[chosen] = rng.integers(0, L, size=chosen.size)
    elif kind == "symmetric":
        new[chosen] = (labels[chosen] + rng.integers(1, L, size=chosen.size)) % L
    else:
        raise NotImplementedError(kind)
    return NoisyLabels(new, new != labels, _transition(labels, new, L),
                       {"kind": kind, "level": level, **options})
