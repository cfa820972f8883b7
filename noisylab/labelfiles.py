"""Label sequences from files made elsewhere: ``.npy``, ``.npz``, ``.csv`` and PyTorch ``.pt``.

A file is named ``FILE`` or ``FILE:KEY``; the key picks an array out of a file holding several
(an ``.npz``, a ``.csv`` with a header row, a ``.pt`` or pickled ``.npy`` holding a dict, such as
CIFAR-N's ``CIFAR-10_human.pt:worse_label``).

``.pt`` files are pickles, and a pickle can run any code while it loads. They are read without
PyTorch by `load_pickle`: a `pickle.Unpickler` whose ``find_class`` admits only the few globals
numpy's own pickles of plain arrays name (``_reconstruct`` only for ``numpy.ndarray`` itself,
``_codecs.encode`` only to latin-1; the table `_ALLOWED`), and that refuses persistent ids
(PyTorch's tensor storages). So a crafted file is refused with a `NoisylabError` before anything
in it runs. PyTorch's zip format (a ``.pt`` since PyTorch 1.6) is opened with `zipfile` in memory
(nothing is extracted); its one ``*/data.pkl`` member is unpickled; member names that are absolute
or hold ``..`` are refused. The legacy format (several pickles in a row) and a pickled ``.npy``
(an object array, e.g. CIFAR-N's ``*_ordered.npy``) go through the same unpickler.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np

from noisylab.errors import NoisylabError
from noisylab.readers import first_line, read_npy

#: The first pickle of a legacy (pre-zip) ``torch.save`` file.
_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
#: Largest ``data.pkl`` read from a ``.pt`` zip (guards against a zip bomb).
MAX_PICKLE_BYTES = 1 << 30
LABEL_SUFFIXES = (".npy", ".npz", ".csv", ".txt", ".pt", ".pth")


class _Refused(pickle.UnpicklingError):
    pass


class _NdarrayClass:
    """Stands in for ``numpy.ndarray`` as an argument of ``_reconstruct``; cannot be called."""


def _reconstruct(subtype, shape, dtype):
    if subtype is not _NdarrayClass:
        raise _Refused("numpy _reconstruct of something other than numpy.ndarray")
    return np.ndarray.__new__(np.ndarray, shape, np.dtype(dtype))


def _frombuffer(buffer, dtype, shape, order):
    array = np.frombuffer(buffer, dtype=np.dtype(dtype))
    return array.reshape(shape, order=order).copy()


def _encode(text, encoding="utf-8"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


#: The only globals a pickle may name: what numpy's own pickles of plain arrays use.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): _NdarrayClass,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _encode,
    ("collections", "OrderedDict"): dict,
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"it names {module}.{name}") from None

    def persistent_load(self, pid):
        raise _Refused("it holds PyTorch tensors (persistent ids); save numpy arrays instead")


def load_pickle(data: bytes, where: str):
    """Unpickle ``data`` admitting only numpy arrays and plain containers.

    Parameters
    ----------
    data : bytes
        A pickle (any protocol).
    where : str
        The file it came from, for messages.

    Returns
    -------
    object
        Built from dicts, lists, tuples, numbers, strings and numpy arrays only.

    Raises
    ------
    NoisylabError
        When the pickle names anything else (nothing it names is ever called) or is malformed.
    """
    return _unpickle(io.BytesIO(data), where)


def _unpickle(stream, where: str):
    try:
        obj = _ArrayUnpickler(stream).load()
        if isinstance(obj, int) and obj == _LEGACY_TORCH_MAGIC:
            for _ in range(2):              # legacy torch.save: protocol version, system info
                _ArrayUnpickler(stream).load()
            obj = _ArrayUnpickler(stream).load()
    except _Refused as exc:
        raise NoisylabError(f"{where}: refusing to unpickle: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
            KeyError, AttributeError, MemoryError) as exc:
        raise NoisylabError(
            f"{where}: not a readable pickle ({type(exc).__name__}: {exc})") from None
    return obj


def _pt_pickle(path: Path) -> bytes:
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        return path.read_bytes()      # a plain pickle, or legacy torch.save (pickles in a row)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            for info in infos:
                parts = info.filename.replace("\\", "/").split("/")
                if info.filename.startswith(("/", "\\")) or ".." in parts:
                    raise NoisylabError(
                        f"{path}: member {info.filename!r} escapes the archive; refusing it")
            pickles = [i for i in infos if i.filename.split("/")[-1] == "data.pkl"]
            if len(pickles) != 1:
                raise NoisylabError(
                    f"{path}: a PyTorch zip file holds one */data.pkl member, found "
                    f"{len(pickles)}: {', '.join(i.filename for i in infos[:5])}")
            if pickles[0].file_size > MAX_PICKLE_BYTES:
                raise NoisylabError(f"{path}: {pickles[0].filename} is {pickles[0].file_size} "
                                    f"bytes, more than {MAX_PICKLE_BYTES}")
            return archive.read(pickles[0])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise NoisylabError(f"{path}: not a readable PyTorch zip file ({exc})") from None


def load_pt(path) -> object:
    """The object saved in a PyTorch ``.pt`` file, unpickled safely (see the module doc).

    Handles the zip format (PyTorch >= 1.6), the legacy format (several pickles in a row) and a
    plain pickle. Anything but numpy arrays and plain containers is refused.
    """
    path = Path(path)
    return _unpickle(io.BytesIO(_pt_pickle(path)), str(path))


def split_spec(spec) -> tuple[Path, str | None]:
    """``"FILE:KEY"`` -> ``(Path(FILE), KEY)``; ``"FILE"`` -> ``(Path(FILE), None)``.

    A name that exists as a file is never split, so paths holding ``:`` still work.
    """
    text = os.fspath(spec)
    path = Path(text)
    if path.is_file() or ":" not in text:
        return path, None
    head, _, key = text.rpartition(":")
    if not key:
        raise NoisylabError(f"{text!r} ends in ':'; name the label set as FILE:KEY")
    return Path(head), key


def _npy_table(path: Path) -> dict:
    with path.open("rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(fh)
        except (ValueError, EOFError, SyntaxError) as exc:
            raise NoisylabError(f"{path}: not a .npy file ({first_line(exc)})") from None
        if not dtype.hasobject:
            return {"": read_npy(path, what="label file")}
        obj = _unpickle(fh, str(path))        # an object array: pickled, so unpickle safely
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject and obj.shape == ():
        obj = obj.item()
    return obj if isinstance(obj, dict) else {"": obj}


def _csv_table(path: Path) -> dict:
    try:
        with path.open(newline="") as fh:
            rows = [line.strip().split(",") for line in fh if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise NoisylabError(f"cannot read {path}: {first_line(exc)}") from None
    if not rows:
        raise NoisylabError(f"{path} holds no labels")
    header = None
    try:
        float(rows[0][0])
    except ValueError:
        header, rows = [h.strip() for h in rows[0]], rows[1:]
    width = len(header) if header else len(rows[0]) if rows else 1
    for number, row in enumerate(rows, start=2 if header else 1):
        if len(row) != width:
            raise NoisylabError(f"{path} line {number} has {len(row)} columns, expected {width}")
    try:
        table = np.array([[float(v) for v in row] for row in rows]).reshape(len(rows), width)
    except ValueError as exc:
        raise NoisylabError(f"{path}: a label is not a number ({exc})") from None
    names = header or ([""] if width == 1 else [str(i) for i in range(width)])
    return {name: table[:, i] for i, name in enumerate(names)}


def read_label_table(path) -> dict[str, object]:
    """Every label set in a file, by name (``""`` for a file holding one unnamed sequence).

    ``.npy`` (an integer array, or a pickled dict of arrays), ``.npz`` (its arrays), ``.csv`` /
    ``.txt`` (one integer per line, or columns under a header row), ``.pt`` / ``.pth`` (a dict of
    arrays or lists, or one array). The values are not yet checked; `read_labels` does that.
    """
    path = Path(path)
    if not path.is_file():
        raise NoisylabError(f"label file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in LABEL_SUFFIXES:
        raise NoisylabError(
            f"label file {path} must be one of {', '.join(LABEL_SUFFIXES)}, "
            f"got {suffix or 'no suffix'}")
    if suffix == ".npy":
        return _npy_table(path)
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {k: archive[k] for k in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise NoisylabError(f"cannot read {path} as .npz: {first_line(exc)}") from None
    if suffix in (".csv", ".txt"):
        return _csv_table(path)
    obj = load_pt(path)
    return obj if isinstance(obj, dict) else {"": obj}


def as_labels(values, where: str) -> np.ndarray:
    """``values`` as an int64 label sequence: 1-D, whole numbers >= 0."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        raise NoisylabError(f"{where} is not an array of labels") from None
    if array.ndim != 1 or array.size == 0:
        raise NoisylabError(f"{where} must be a non-empty 1-D sequence of labels, "
                            f"got shape {array.shape}")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            i = int(np.argmax(bad))
            raise NoisylabError(f"{where} has a non-integer label {array[i]} at index {i}")
    elif array.dtype.kind not in "iu":
        raise NoisylabError(f"{where} must hold integers, got dtype {array.dtype}")
    if array.min() < 0:
        i = int(np.argmax(array < 0))
        raise NoisylabError(f"{where} has a negative label {array[i]} at index {i}")
    return array.astype(np.int64)


def read_labels(spec, *, key: str | None = None) -> tuple[np.ndarray, str]:
    """One label sequence from ``FILE`` or ``FILE:KEY`` (or ``key=``).

    Returns
    -------
    labels : ndarray of shape (n,), int64
    where : str
        ``"FILE:KEY"`` or ``"FILE"``, for messages and records.
    """
    path, spec_key = split_spec(spec)
    if key is not None and spec_key is not None and key != spec_key:
        raise NoisylabError(f"two keys for {path}: {spec_key!r} and {key!r}")
    key = key if key is not None else spec_key
    table = read_label_table(path)
    if key is None:
        if len(table) != 1:
            raise NoisylabError(f"{path} holds several label sets ({', '.join(map(str, table))}); "
                                f"name one as {path}:KEY")
        (key, values), = table.items()
    elif key not in table:
        raise NoisylabError(f"{path} has no label set {key!r}; found: "
                            f"{', '.join(map(str, table)) or 'none'}")
    else:
        values = table[key]
    where = f"{path}:{key}" if key else str(path)
    return as_labels(values, where), where
