"""Datasets: the in-memory `Dataset`, the built-in `digits`, and (to come) HDF5 load/prepare.

SKELETON: the data issue (#2) extends this module; the `Dataset` fields and `load_dataset` signature
are the contract other modules rely on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """An image classification dataset with a train and a test split.

    Attributes
    ----------
    x_train, x_test : ndarray of shape (n, H, W, C), uint8
    y_train, y_test : ndarray of shape (n,), int64, values in [0, num_classes)
    class_names : tuple of str, length num_classes
    name : str
    split : dict
        How the test split was obtained, e.g. ``{"kind": "stratified", "test_size": 0.2, "seed": 0}``
        or ``{"kind": "given"}``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    name: str
    split: dict

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])


def load_digits(*, test_size: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits as uint8 (n, 8, 8, 1) scaled 0-16 -> 0-255, stratified split."""
    from sklearn.datasets import load_digits as _sk_digits
    from sklearn.model_selection import train_test_split

    bunch = _sk_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., np.newaxis]
    labels = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, labels, test_size=test_size, stratify=labels, random_state=seed
    )
    return Dataset(
        x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
        class_names=tuple(str(i) for i in range(10)), name="digits",
        split={"kind": "stratified", "test_size": test_size, "seed": seed},
    )


def load_dataset(name_or_path: str, *, test_size: float = 0.2, seed: int = 0) -> Dataset:
    """Load a dataset by built-in name (``digits``), prepared name (``data/NAME.h5``) or HDF5 path."""
    if name_or_path == "digits":
        return load_digits(test_size=test_size, seed=seed)
    raise NotImplementedError("HDF5 loading comes with the data issue")
