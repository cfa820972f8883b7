"""Named class-conditional flips for the `asymmetric` kind, as used in the label-noise literature.

- ``mnist``: 2→7, 3→8, 5↔6, 7→1.
- ``cifar10``: truck→automobile (9→1), bird→airplane (2→0), deer→horse (4→7), cat↔dog (3↔5).
- ``cifar100``: within each of the 20 superclasses of 5 fine classes, each class goes to the next
  member of its superclass, cyclically (members taken in increasing fine-label order).

The CIFAR-100 superclasses are the dataset's own coarse labels (the ``coarse_labels`` array that
maps each fine label 0..99 to its superclass 0..19, as distributed with CIFAR-100 and reproduced
in e.g. ryanchankh/cifar100coarse). Some published code instead uses blocks of 5 consecutive
fine labels, which are not the real superclasses; we follow the real ones.
"""

from __future__ import annotations

import numpy as np

from noisylab.errors import NoisylabError

# Superclass (0..19) of each CIFAR-100 fine label 0..99.
CIFAR100_COARSE = np.array([
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3,
    3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15,
    0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10,
    16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19,
    2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19,
    18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
])


def _next_within_superclass(coarse: np.ndarray) -> dict[int, int]:
    mapping = {}
    for superclass in np.unique(coarse):
        members = np.flatnonzero(coarse == superclass)
        for member, successor in zip(members, np.roll(members, -1), strict=True):
            mapping[int(member)] = int(successor)
    return mapping


PRESETS: dict[str, dict[int, int]] = {
    "mnist": {2: 7, 3: 8, 5: 6, 6: 5, 7: 1},
    "cifar10": {9: 1, 2: 0, 4: 7, 3: 5, 5: 3},
    "cifar100": _next_within_superclass(CIFAR100_COARSE),
}


def preset_mapping(name: str, num_classes: int) -> dict[int, int]:
    """The ``{source: target}`` map of a named preset, checked against ``num_classes``.

    Raises
    ------
    NoisylabError
        For an unknown name, or a preset that uses a class ``>= num_classes``.
    """
    if name not in PRESETS:
        raise NoisylabError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    mapping = PRESETS[name]
    largest = max(max(mapping), max(mapping.values()))
    if largest >= num_classes:
        raise NoisylabError(
            f"preset {name!r} uses class {largest}, but num_classes={num_classes}"
        )
    return dict(mapping)
