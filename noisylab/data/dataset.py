"""The in-memory `Dataset`, the one image/label validator, the seeded split and built-in `digits`.

Every way a dataset enters noisylab (an HDF5 file, the official raw files, scikit-learn's digits)
ends in a `Dataset` whose arrays passed `check_images_labels`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from noisylab.errors import NoisylabError
from noisylab.validate import show

BUILTIN = ("digits",)


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
        How the test split was obtained, e.g. ``{"kind": "given"}`` (the file's own) or
        ``{"kind": "stratified", "test_size": 0.2, "seed": 0}``.
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


def check_images_labels(images: np.ndarray, labels: np.ndarray, *, where: str = "",
                        images_key: str, labels_key: str,
                        num_classes: int | None = None) -> np.ndarray:
    """Check one split's images and labels; return the images as (N, H, W, C).

    The one check of an image/label pair, for HDF5 files and raw downloads alike.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C) or (N, H, W), uint8
    labels : ndarray of shape (N,), integer, values in [0, num_classes)
    where : str
        The file, prefixed to every message (``"data/x.h5"``); empty for none.
    images_key, labels_key : str
        How the messages name the two arrays (``"/train/images"``, or raw file names).
    num_classes : int, optional
        When given, labels must be below it.

    Raises
    ------
    NoisylabError
        Wrong dtype or shape, no images, counts that differ, or a label out of range; the
        message names the file, the array and the first bad value.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    at_images = f"{where}: {images_key}" if where else images_key
    at_labels = f"{where}: {labels_key}" if where else labels_key
    if images.dtype != np.uint8:
        raise NoisylabError(f"{at_images} has dtype {images.dtype}, expected uint8 (0-255)")
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise NoisylabError(
            f"{at_images} has shape {images.shape}, expected (N, H, W, C) or (N, H, W)")
    if labels.dtype.kind not in "iu":
        raise NoisylabError(f"{at_labels} has dtype {labels.dtype}, expected integers")
    if labels.ndim != 1:
        raise NoisylabError(f"{at_labels} has shape {labels.shape}, expected (N,)")
    if len(images) == 0:
        raise NoisylabError(f"{at_images} is empty: the split has no images")
    if len(images) != len(labels):
        raise NoisylabError(
            f"{at_images} has {len(images)} images but {labels_key} has {len(labels)} labels "
            "(an image/label count mismatch)")
    if labels.min() < 0:
        i = int(np.argmin(labels))
        raise NoisylabError(f"{at_labels} has a negative label {labels[i]} at index {i}")
    if num_classes is not None and labels.max() >= num_classes:
        i = int(np.argmax(labels))
        raise NoisylabError(
            f"{at_labels} has label {labels[i]} at index {i}, out of range for "
            f"{num_classes} classes (0..{num_classes - 1})")
    return images


def stratified_split(images, labels, *, test_size, seed: int, where: str):
    """Split into train and test with class proportions kept (scikit-learn, seeded).

    Returns ``x_train, x_test, y_train, y_test``. ``test_size`` is a fraction in (0, 1) or a
    count in [1, n).
    """
    from sklearn.model_selection import train_test_split

    if isinstance(test_size, bool | np.bool_) or not (
        (isinstance(test_size, numbers.Integral) and 0 < test_size < len(labels))
        or (
            isinstance(test_size, numbers.Real)
            and not isinstance(test_size, numbers.Integral)
            and 0.0 < test_size < 1.0
        )
    ):
        raise NoisylabError(
            f"test_size must be a fraction in (0, 1) or a count in [1, {len(labels)}), "
            f"got {show(test_size)}"
        )
    test_size = int(test_size) if isinstance(test_size, numbers.Integral) else float(test_size)
    try:
        return train_test_split(
            images, labels, test_size=test_size, stratify=labels, random_state=seed
        )
    except ValueError as exc:
        raise NoisylabError(f"{where}: cannot make a stratified split: {exc}") from None


def load_digits(*, test_size: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits as uint8 (n, 8, 8, 1) scaled 0-16 -> 0-255, stratified split."""
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., np.newaxis]
    labels = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = stratified_split(images, labels, test_size=test_size, seed=seed,
                                              where="digits")
    return Dataset(
        x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
        class_names=tuple(str(i) for i in range(10)), name="digits",
        split={"kind": "stratified", "test_size": test_size, "seed": seed},
    )
