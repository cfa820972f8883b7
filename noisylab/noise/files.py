"""File edges of the noise module: reading label files and matrices, writing noisy-label archives.

Formats
-------
- label file: ``.npy`` holding a 1-D integer array, ``.csv``/``.txt`` with one integer per line
  (a single non-numeric header line is skipped), or any other `noisylab.labelfiles` format;
- matrix: ``.npy`` holding an (L, L) array, ``.csv`` with L comma-separated rows, or an inline
  string with rows separated by ``;`` and entries by ``,``: ``"0.9,0.1;0.2,0.8"``;
- noisy-label archive (``.npz``): ``labels`` (n,) int64, ``corrupted`` (n,) bool, ``transition``
  (L, L) float64, ``clean_labels`` (n,) int64, and ``spec``, a 0-d string holding JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from noisylab.atomic import atomic_open
from noisylab.errors import NoisylabError
from noisylab.labelfiles import read_labels
from noisylab.noise.core import NoisyLabels
from noisylab.readers import read_npy, read_npz, read_text

ARCHIVE_KEYS = ("labels", "corrupted", "transition", "clean_labels", "spec")
_INLINE_MATRIX = re.compile(r"^[\s\d.,;eE+-]+$")


def _load_table(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise NoisylabError(f"{what} file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return read_npy(path, what=f"{what} file")
        if suffix in (".csv", ".txt"):
            lines = [line.strip() for line in read_text(path, what=f"{what} file").splitlines()
                     if line.strip()]
            if lines and not any(ch.isdigit() for ch in lines[0].split(",")[0]):
                lines = lines[1:]       # a header such as "label"
            return np.array([[float(v) for v in line.split(",")] for line in lines])
    except ValueError as exc:
        raise NoisylabError(f"cannot read {what} file {path}: {exc}") from None
    raise NoisylabError(f"{what} file must be .npy or .csv, got {path}")


def read_label_file(path) -> np.ndarray:
    """Read noisy labels, e.g. real human annotations: ``FILE`` or ``FILE:KEY``.

    Any format `noisylab.labelfiles.read_labels` reads (``.npy``, ``.npz``, ``.csv``, ``.pt``).

    Returns
    -------
    ndarray of shape (n,), int64

    Raises
    ------
    NoisylabError
        For a missing file, an unknown suffix, more than one column, or non-integer values.
    """
    return read_labels(path)[0]


def read_features(path) -> np.ndarray:
    """Per-sample features for concentrated noise from a ``.npy`` file of shape (n, d)."""
    if not str(path).endswith(".npy"):
        raise NoisylabError(f"--features must be 'pca' or a .npy file, got {str(path)!r}")
    return read_npy(path, what="features file")


def read_matrix(source) -> np.ndarray:
    """Read a confusion matrix from a ``.npy``/``.csv`` path or an inline ``"a,b;c,d"`` string.

    Returns
    -------
    ndarray of shape (L, L), float64
        Not yet checked for being row-stochastic; `noisylab.noise.matrix.check_matrix` does that.
    """
    text = str(source)
    if _INLINE_MATRIX.match(text):
        try:
            rows = [[float(v) for v in row.split(",")] for row in text.split(";") if row.strip()]
        except ValueError:
            raise NoisylabError(
                f"inline matrix must look like '0.9,0.1;0.2,0.8', got {text!r}"
            ) from None
        if len({len(row) for row in rows}) > 1:
            raise NoisylabError(f"inline matrix rows have different lengths: {text!r}")
        return np.array(rows, dtype=np.float64)
    table = _load_table(Path(text), "matrix")
    return np.atleast_2d(np.asarray(table, dtype=np.float64))


def save_noisy(path, noisy: NoisyLabels, clean_labels: np.ndarray) -> Path:
    """Write a noisy-label archive atomically (temp file in the same folder, fsync, rename).

    Parameters
    ----------
    path : str or Path
        Destination ``.npz``.
    noisy : NoisyLabels
    clean_labels : ndarray of shape (n,)
        The labels the noise was injected into.

    Returns
    -------
    Path
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise NoisylabError(f"output must be a .npz file, got {path}")
    if not path.parent.is_dir():
        raise NoisylabError(f"output folder {path.parent} does not exist")
    spec = json.dumps(noisy.spec, sort_keys=True)
    with atomic_open(path) as handle:
        np.savez(handle, labels=noisy.labels, corrupted=noisy.corrupted,
                 transition=noisy.transition,
                 clean_labels=np.asarray(clean_labels, dtype=np.int64), spec=np.str_(spec))
    return path


def load_noisy(path) -> tuple[NoisyLabels, np.ndarray]:
    """Read an archive written by `save_noisy`; returns the `NoisyLabels` and the clean labels."""
    path = Path(path)
    if not path.is_file():
        raise NoisylabError(f"noisy-label file {path} does not exist")
    archive = read_npz(path, keys=ARCHIVE_KEYS, what="noisy-label file")
    try:
        spec = json.loads(str(archive["spec"]))
    except json.JSONDecodeError:
        raise NoisylabError(f"noisy-label file {path}: 'spec' is not JSON") from None
    noisy = NoisyLabels(labels=archive["labels"], corrupted=archive["corrupted"],
                        transition=archive["transition"], spec=spec)
    return noisy, archive["clean_labels"]
