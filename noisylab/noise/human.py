"""Real human label noise: the noisy labels are a named label set of a file, such as CIFAR-10N.

A label set is named ``PATH:KEY`` (any file `noisylab.labelfiles` reads that holds several named
sequences: a CIFAR-N ``.pt``, an ``.npz``, a ``.csv`` with a header, a pickled ``.npy`` dict), or
by a short name:

- ``cifar10n:aggre|worse|random1|random2|random3|clean`` -> ``CIFAR-10_human.pt`` with key
  ``aggre_label``, ``worse_label``, ``random_label1`` ... ``clean_label`` (``worst`` is accepted
  for ``worse``);
- ``cifar100n:noisy|clean`` -> ``CIFAR-100_human.pt`` with ``noisy_label`` / ``clean_label``.

A short name's file is looked for in the search folders (the data folder, ``data/`` by default,
and the folder of the dataset file), directly or in a ``cifar10n/`` / ``cifar100n/`` subfolder;
the official files are in the CIFAR-N release (github.com/UCSC-REAL/cifar-10-100n, CC BY-NC 4.0).

The file must also hold the clean labels in its own order (key ``clean_label``), and they must
equal the dataset's training labels position by position: that is the check that the file and the
dataset list the images in the same order (prepare the images with ``--order-labels
FILE:clean_label`` to make it so). A dataset that disagrees is refused, naming the first position
that differs. Nothing is random: ``rng`` is not used, and the realized rate is what the file
holds (CIFAR-10N: aggre 0.0901, random1 0.1723, random2 0.1812, random3 0.1764, worse 0.4021).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from noisylab.errors import NoisylabError
from noisylab.labelfiles import as_labels, read_label_table, split_spec

CLEAN_KEY = "clean_label"

#: Short name -> (file name, {set name: key in the file}).
SHORT_NAMES = {
    "cifar10n": ("CIFAR-10_human.pt", {
        "aggre": "aggre_label", "worse": "worse_label", "worst": "worse_label",
        "random1": "random_label1", "random2": "random_label2", "random3": "random_label3",
        "clean": "clean_label"}),
    "cifar100n": ("CIFAR-100_human.pt", {"noisy": "noisy_label", "clean": "clean_label"}),
}


def resolve_label_set(spec, *, key: str | None = None,
                      search: Sequence = ("data",)) -> tuple[Path, str]:
    """The file and key a label-set name means.

    Parameters
    ----------
    spec : str or path-like
        ``cifar10n:worse`` (a short name), ``PATH:KEY``, or ``PATH`` with ``key``.
    key : str, optional
        The key, when ``spec`` is a bare path.
    search : sequence of path-like
        Folders where a short name's file is looked for.

    Returns
    -------
    (Path, str)

    Raises
    ------
    NoisylabError
        An unknown set of a short name, a short name's file found nowhere, or no key.
    """
    text = os.fspath(spec)
    family, _, name = text.partition(":")
    if family in SHORT_NAMES and not Path(text).exists():
        filename, keys = SHORT_NAMES[family]
        if name not in keys:
            raise NoisylabError(f"unknown label set {text!r}; {family} has: "
                                f"{', '.join(f'{family}:{n}' for n in keys)}")
        if key is not None and key != keys[name]:
            raise NoisylabError(f"{text} means key {keys[name]!r}, not --human-key {key!r}")
        places = [Path(folder) / sub / filename for folder in search for sub in ("", family)]
        for place in places:
            if place.is_file():
                return place, keys[name]
        looked = ", ".join(str(p.parent) + "/" for p in places)
        raise NoisylabError(
            f"{text} means {filename}, which is not in {looked}; put the official file there "
            "(github.com/UCSC-REAL/cifar-10-100n) or give PATH:KEY")
    path, spec_key = split_spec(text)
    if key is not None and spec_key is not None and key != spec_key:
        raise NoisylabError(f"two keys for {path}: {spec_key!r} and --human-key {key!r}")
    key = key if key is not None else spec_key
    if key is None:
        raise NoisylabError(f"name the label set of {path}: PATH:KEY or --human-key KEY")
    return path, key


def read_label_set(path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """The noisy label set ``key`` and the clean labels of one file, both in the file's order.

    Returns
    -------
    noisy, clean : ndarray of shape (n,), int64

    Raises
    ------
    NoisylabError
        The file lacks ``key`` or ``clean_label``, or the two differ in length.
    """
    path = Path(path)
    table = read_label_table(path)
    for wanted in (key, CLEAN_KEY):
        if wanted not in table:
            why = " (it is needed to check the order against the dataset)" \
                if wanted == CLEAN_KEY else ""
            raise NoisylabError(f"{path} has no label set {wanted!r}{why}; found: "
                                f"{', '.join(map(str, table)) or 'none'}")
    noisy = as_labels(table[key], f"{path}:{key}")
    clean = as_labels(table[CLEAN_KEY], f"{path}:{CLEAN_KEY}")
    if noisy.size != clean.size:
        raise NoisylabError(f"{path}: {key} has {noisy.size} labels but {CLEAN_KEY} has "
                            f"{clean.size}")
    return noisy, clean


def check_order(clean: np.ndarray, labels: np.ndarray, *, where: str) -> None:
    """Refuse unless the file's clean labels equal the dataset's, position by position."""
    if clean.size != labels.size:
        raise NoisylabError(
            f"refusing {where}: it has {clean.size} labels but the dataset's training split "
            f"has {labels.size}")
    differ = np.flatnonzero(clean != labels)
    if differ.size:
        i = int(differ[0])
        raise NoisylabError(
            f"refusing {where}: its {CLEAN_KEY} differs from the dataset's training labels at "
            f"{differ.size} of {labels.size} positions (first at index {i}: {clean[i]} in the "
            f"file, {labels[i]} in the dataset), so the two do not list the images in the same "
            f"order (prepare the images with --order-labels FILE:{CLEAN_KEY})")


def realized_rate(path, key: str) -> float:
    """The fraction of a label set that differs from the file's clean labels."""
    noisy, clean = read_label_set(path, key)
    return float(np.mean(noisy != clean))


def human(labels: np.ndarray, level, num_classes: int, *, rng=None, label_set=None,
          key: str | None = None, index=None, search: Sequence = ("data",)):
    """The labels of a human label set, after checking the file's order against ``labels``.

    Parameters
    ----------
    labels : ndarray of shape (n,), int64
        The clean training labels (all of them, or the positions ``index`` of the file).
    level : None
        Ignored: the rate is what the file holds.
    num_classes : int
    rng : numpy.random.Generator
        Not used (human labels are not random).
    label_set : str
        ``cifar10n:worse``, ``PATH:KEY`` or ``PATH`` (with ``key``).
    index : array-like of int, optional
        Positions of ``labels`` in the file's order, e.g. a training subset; all when None.
    search : sequence of path-like
        Folders for short names.

    Returns
    -------
    noisy : ndarray of shape (n,), int64
    resolved : dict
        ``label_set`` (the name given), ``file``, ``key``, and ``file_rate``, the realized rate
        over the whole file.
    """
    if label_set is None:
        raise NoisylabError("kind 'human' needs a label_set: cifar10n:aggre|worse|random1|"
                            "random2|random3, or PATH:KEY")
    path, key = resolve_label_set(label_set, key=key, search=search)
    noisy, clean = read_label_set(path, key)
    if noisy.max() >= num_classes:
        i = int(np.argmax(noisy >= num_classes))
        raise NoisylabError(f"{path}:{key} has label {noisy[i]} at index {i}, out of range for "
                            f"{num_classes} classes")
    file_rate = float(np.mean(noisy != clean))
    if index is not None:
        index = np.asarray(index, dtype=np.int64)
        if index.shape != labels.shape or (index.size and (index.min() < 0
                                                           or index.max() >= clean.size)):
            raise NoisylabError(f"index must give one position in [0, {clean.size}) per label")
        noisy, clean = noisy[index], clean[index]
    check_order(clean, labels, where=f"{path}:{key}")
    return noisy, {"label_set": os.fspath(label_set), "file": str(path), "key": key,
                   "file_rate": file_rate}
