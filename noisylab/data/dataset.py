"""Datasets: the in-memory `Dataset`, the built-in `digits`, and the HDF5 files holding the rest.

HDF5 schema (see the README):

* split layout: ``/train/images`` uint8 (N, H, W, C), ``/train/labels`` integer (N,),
  ``/test/images``, ``/test/labels``; root attributes ``name``, ``class_names`` (a JSON list)
  and ``source``;
* flat layout, read only: root ``images`` + ``labels`` (the original blog's ``MNIST.h5``); the test
  split is then made here, stratified and seeded, and recorded in `Dataset.split`.

Images of shape (N, H, W) get a channel axis. Anything else wrong is a `NoisylabError` naming the
file, the dataset inside it and the rule it breaks. `noisylab.prepare` writes these files from the
official raw downloads.
"""

from __future__ import annotations

import json
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noisylab.atomic import atomic_path
from noisylab.errors import NoisylabError

BUILTIN = ("digits",)
DEFAULT_DATA_DIR = "data"
H5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")
SPLIT_KEYS = ("train/images", "train/labels", "test/images", "test/labels")
FLAT_KEYS = ("images", "labels")


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


def load_digits(*, test_size: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits as uint8 (n, 8, 8, 1) scaled 0-16 -> 0-255, stratified split."""
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., np.newaxis]
    labels = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = _stratified_split(images, labels, test_size, seed, "digits")
    return Dataset(
        x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
        class_names=tuple(str(i) for i in range(10)), name="digits",
        split={"kind": "stratified", "test_size": test_size, "seed": seed},
    )


def load_dataset(
    name_or_path: str | os.PathLike,
    *,
    test_size: float = 0.2,
    seed: int = 0,
    data_dir: str | os.PathLike = DEFAULT_DATA_DIR,
) -> Dataset:
    """Load a dataset by built-in name (``digits``), prepared name or HDF5 path.

    A bare name such as ``mnist`` means ``<data_dir>/mnist.h5`` (``data/`` under the current
    directory by default), the file ``noisylab data prepare mnist`` writes. ``test_size`` and
    ``seed`` make the split of ``digits`` and of flat-layout files; files with a split keep theirs.
    """
    if str(name_or_path) in BUILTIN and not isinstance(name_or_path, os.PathLike):
        return load_digits(test_size=test_size, seed=seed)
    path = resolve_dataset_path(name_or_path, data_dir=data_dir)
    return read_hdf5(path, test_size=test_size, seed=seed)


def _preparable() -> list[str]:
    from noisylab.sources import SOURCES

    return sorted(SOURCES)


def resolve_dataset_path(
    name_or_path: str | os.PathLike, *, data_dir: str | os.PathLike = DEFAULT_DATA_DIR
) -> Path:
    """The HDF5 file meant by a prepared name or a path; a clear error when there is none."""
    text = os.fspath(name_or_path)
    bare = (
        not isinstance(name_or_path, os.PathLike)
        and text != ""
        and "/" not in text
        and os.sep not in text
        and not text.lower().endswith(H5_SUFFIXES)
    )
    how = "create it with `noisylab data prepare NAME` (NAME: " + ", ".join(_preparable()) + ")"
    if bare:
        path = Path(data_dir) / f"{text}.h5"
        if path.is_file():
            return path
        if text in _preparable():
            raise NoisylabError(
                f"dataset '{text}' is not prepared: {path} does not exist; "
                f"create it with `noisylab data prepare {text}`"
            )
        raise NoisylabError(
            f"unknown dataset '{text}' (no {path}): built in: {', '.join(BUILTIN)}; "
            f"preparable with `noisylab data prepare NAME`: {', '.join(_preparable())}; "
            "or give the path of an HDF5 file"
        )
    path = Path(text)
    if not path.exists():
        raise NoisylabError(f"no such file: {path}; {how}")
    if path.is_dir():
        raise NoisylabError(f"{path} is a folder, not an HDF5 file")
    return path


def _dataset_paths(f) -> list[str]:
    import h5py

    found: list[str] = []
    f.visititems(lambda k, obj: found.append("/" + k) if isinstance(obj, h5py.Dataset) else None)
    return found


def _read_array(f, key: str, path: Path) -> np.ndarray:
    import h5py

    obj = f[key]
    if not isinstance(obj, h5py.Dataset):
        raise NoisylabError(f"{path}: /{key} is a group, expected an array")
    return obj[()]


def _check_split(images: np.ndarray, labels: np.ndarray, where: str, group: str) -> np.ndarray:
    """Validate one split's arrays (dtype, ndim, counts) and return images as (N, H, W, C).

    Messages read ``{where}: {group}images ...``, e.g. ``data/x.h5: /train/images has ...``.
    """
    at = f"{where}: {group}"
    if images.dtype != np.uint8:
        raise NoisylabError(f"{at}images has dtype {images.dtype}, expected uint8 (0-255)")
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise NoisylabError(
            f"{at}images has shape {images.shape}, expected (N, H, W, C) or (N, H, W)"
        )
    if labels.dtype.kind not in "iu":
        raise NoisylabError(f"{at}labels has dtype {labels.dtype}, expected integers")
    if labels.ndim != 1:
        raise NoisylabError(f"{at}labels has shape {labels.shape}, expected (N,)")
    if len(images) == 0:
        raise NoisylabError(f"{at}images is empty: the split has no images")
    if len(images) != len(labels):
        raise NoisylabError(
            f"{at}images has {len(images)} images but {group}labels has {len(labels)} labels"
        )
    if labels.min() < 0:
        i = int(np.argmin(labels))
        raise NoisylabError(f"{at}labels has a negative label {labels[i]} at index {i}")
    return images


def _check_labels_range(labels: np.ndarray, num_classes: int, where: str) -> None:
    if labels.max() >= num_classes:
        i = int(np.argmax(labels))
        raise NoisylabError(
            f"{where}labels has label {labels[i]} at index {i}, out of range for "
            f"{num_classes} classes (0..{num_classes - 1})"
        )


def _class_names(raw, path: Path, labels: list[np.ndarray]) -> tuple[str, ...]:
    if raw is None:  # e.g. the blog's MNIST.h5: name the classes by their index
        return tuple(str(i) for i in range(int(max(y.max() for y in labels)) + 1))
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        names = json.loads(raw) if isinstance(raw, str) else [str(n) for n in raw]
    except json.JSONDecodeError:
        raise NoisylabError(
            f"{path}: attribute class_names is not a JSON list: {raw!r:.80}"
        ) from None
    if not isinstance(names, list) or not names:
        raise NoisylabError(f"{path}: attribute class_names must be a non-empty JSON list")
    return tuple(str(n) for n in names)


def _stratified_split(images, labels, test_size, seed, where):
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
            f"got {test_size!r}"
        )
    test_size = int(test_size) if isinstance(test_size, numbers.Integral) else float(test_size)
    try:
        return train_test_split(
            images, labels, test_size=test_size, stratify=labels, random_state=seed
        )
    except ValueError as exc:
        raise NoisylabError(f"{where}: cannot make a stratified split: {exc}") from None


def _read_file(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The layout's arrays (split or flat) and the root attributes, or a clear error."""
    import h5py

    if not h5py.is_hdf5(path):
        raise NoisylabError(f"{path} is not an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise NoisylabError(f"cannot open {path} as HDF5: {exc}") from None
    with f:
        keys = SPLIT_KEYS if ("train" in f or "test" in f) else FLAT_KEYS
        missing = [k for k in keys if k not in f]
        if missing:
            have = _dataset_paths(f)
            raise NoisylabError(
                f"{path}: missing {', '.join('/' + k for k in missing)}; "
                f"the file has: {', '.join(have[:20]) or 'no datasets'}"
                + (f" (and {len(have) - 20} more)" if len(have) > 20 else "")
            )
        arrays = {k: _read_array(f, k, path) for k in keys}
        attrs = {k: (v.decode("utf-8") if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    return arrays, attrs


def read_hdf5(path: str | os.PathLike, *, test_size: float = 0.2, seed: int = 0) -> Dataset:
    """Read and validate a dataset file in the split or the flat layout (see the module doc)."""
    path = Path(path)
    arrays, attrs = _read_file(path)
    if "images" in arrays:  # flat layout: make the test split here
        images = _check_split(arrays["images"], arrays["labels"], str(path), "/")
        labels = arrays["labels"]
        class_names = _class_names(attrs.get("class_names"), path, [labels])
        _check_labels_range(labels, len(class_names), f"{path}: /")
        x_tr, x_te, y_tr, y_te = _stratified_split(images, labels, test_size, seed, str(path))
        split = {"kind": "stratified", "test_size": test_size, "seed": seed}
    else:
        x_tr = _check_split(arrays["train/images"], arrays["train/labels"], str(path), "/train/")
        x_te = _check_split(arrays["test/images"], arrays["test/labels"], str(path), "/test/")
        y_tr, y_te = arrays["train/labels"], arrays["test/labels"]
        class_names = _class_names(attrs.get("class_names"), path, [y_tr, y_te])
        _check_labels_range(y_tr, len(class_names), f"{path}: /train/")
        _check_labels_range(y_te, len(class_names), f"{path}: /test/")
        split = {"kind": "given"}
        if x_tr.shape[1:] != x_te.shape[1:]:
            raise NoisylabError(
                f"{path}: train images are {x_tr.shape[1:]} but test images are {x_te.shape[1:]}"
            )
    return Dataset(
        x_train=x_tr, y_train=y_tr.astype(np.int64), x_test=x_te, y_test=y_te.astype(np.int64),
        class_names=class_names, name=str(attrs.get("name", path.stem)), split=split,
    )


def _image_storage(x: np.ndarray) -> dict:
    """Chunks of about 1 MiB, gzip level 1: MNIST-like files shrink 4x (55 -> 13 MB) for about
    0.4 s more writing and 0.13 s more reading (measured on MNIST, 2 cores)."""
    per_image = max(1, int(np.prod(x.shape[1:])))
    rows = max(1, min(len(x), (1 << 20) // per_image))
    return {"chunks": (rows, *x.shape[1:]), "compression": "gzip", "compression_opts": 1}


def save_dataset(dataset: Dataset, path: str | os.PathLike, *, source: str = "") -> Path:
    """Write ``dataset`` in the split layout, atomically. Returns the path written."""
    import h5py

    for split in ("train", "test"):
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        _check_split(np.asarray(x), np.asarray(y), dataset.name, f"{split} ")
        _check_labels_range(np.asarray(y), dataset.num_classes, f"{dataset.name}: {split} ")
    path = Path(path)
    try:
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            f.attrs["name"] = dataset.name
            f.attrs["class_names"] = json.dumps(list(dataset.class_names))
            f.attrs["source"] = source
            for split in ("train", "test"):
                x = np.asarray(getattr(dataset, f"x_{split}"))
                if x.ndim == 3:
                    x = x[..., np.newaxis]
                f.create_dataset(f"{split}/images", data=x, **_image_storage(x))
                f.create_dataset(
                    f"{split}/labels", data=np.asarray(getattr(dataset, f"y_{split}"), np.int64)
                )
    except OSError as exc:
        raise NoisylabError(f"cannot write {path}: {exc}") from None
    return path


def describe_dataset(
    name_or_path: str | os.PathLike,
    *,
    test_size: float = 0.2,
    seed: int = 0,
    data_dir: str | os.PathLike = DEFAULT_DATA_DIR,
) -> str:
    """A text summary: file, source, split, class names, shapes, dtypes and per-class counts."""
    ds = load_dataset(name_or_path, test_size=test_size, seed=seed, data_dir=data_dir)
    lines = [f"dataset: {ds.name}"]
    if str(name_or_path) in BUILTIN and not isinstance(name_or_path, os.PathLike):
        lines.append("file:    (built in: scikit-learn's 8x8 digits)")
    else:
        import h5py

        path = resolve_dataset_path(name_or_path, data_dir=data_dir)
        with h5py.File(path, "r") as f:
            source = f.attrs.get("source", "")
        lines += [f"file:    {path}", f"source:  {source or '(not recorded)'}"]
    lines.append("split:   " + ", ".join(f"{k}={v}" for k, v in ds.split.items()))
    lines.append(f"classes: {ds.num_classes}: {', '.join(ds.class_names)}")
    for split in ("train", "test"):
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        lines.append(
            f"{split + ':':<8} images {x.shape} {x.dtype}, labels {y.shape} {y.dtype}"
        )
    train_counts = np.bincount(ds.y_train, minlength=ds.num_classes)
    test_counts = np.bincount(ds.y_test, minlength=ds.num_classes)
    width = max(5, *(len(n) for n in ds.class_names))
    lines.append("per-class counts:")
    lines.append(f"  {'label':>5}  {'class':<{width}}  {'train':>7}  {'test':>7}")
    for i, name in enumerate(ds.class_names):
        lines.append(f"  {i:>5}  {name:<{width}}  {train_counts[i]:>7}  {test_counts[i]:>7}")
    lines.append(f"  {'':>5}  {'total':<{width}}  {len(ds.y_train):>7}  {len(ds.y_test):>7}")
    return "\n".join(lines)
