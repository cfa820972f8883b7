"""Find and load a dataset by name or path, and describe it in words."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from noisylab.data.dataset import BUILTIN, Dataset, load_digits
from noisylab.data.hdf5 import H5_SUFFIXES, read_hdf5, read_source_attribute
from noisylab.errors import NoisylabError

DEFAULT_DATA_DIR = "data"


def _is_builtin(name_or_path) -> bool:
    return str(name_or_path) in BUILTIN and not isinstance(name_or_path, os.PathLike)


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
    if _is_builtin(name_or_path):
        return load_digits(test_size=test_size, seed=seed)
    path = resolve_dataset_path(name_or_path, data_dir=data_dir)
    return read_hdf5(path, test_size=test_size, seed=seed)


def _preparable() -> list[str]:
    from noisylab.data.sources import SOURCES

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
    if _is_builtin(name_or_path):
        lines.append("file:    (built in: scikit-learn's 8x8 digits)")
    else:
        path = resolve_dataset_path(name_or_path, data_dir=data_dir)
        source = read_source_attribute(path)
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
