"""Readers of the files a user or a crash can damage: one error boundary for every format.

Every file noisylab reads back — ``runs.csv``, ``summary.csv``, ``config.yaml``,
``metadata.json``, ``history.csv``, ``.npz`` and ``.npy`` arrays, label and matrix files — goes
through one of these, and every way it can be broken (missing, a folder, unreadable, not UTF-8,
not valid YAML/JSON/CSV, a truncated or foreign archive, pickled objects, the wrong kind of
value) becomes one `NoisylabError` that names the file and what was wrong. Nothing here ever
unpickles, and no message suggests doing so.

YAML is read without YAML 1.1's base-60 numbers: an unquoted ``levels: 0:1:0.25`` stays the
string ``"0:1:0.25"`` (a level range) instead of becoming 60.25.

Standard library only at import; numpy, pandas and PyYAML are imported by the readers that need
them.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from noisylab.errors import NoisylabError

if TYPE_CHECKING:
    import numpy as np


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, never advice to unpickle."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    if "pickle" in line.lower() or "allow_pickle" in line:
        return ("it is not plain numpy data (reading it would mean unpickling Python objects, "
                "which noisylab never does)")
    return line


def read_bytes(path: str | os.PathLike, *, what: str = "file") -> bytes:
    """The bytes of ``path``; a missing file, a folder or an unreadable file is one error."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NoisylabError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise NoisylabError(f"{what} {path} is a folder, not a file") from None
    except OSError as exc:
        raise NoisylabError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def read_text(path: str | os.PathLike, *, what: str = "file") -> str:
    """``path`` as UTF-8 text (a BOM is dropped); other bytes are refused naming the offset."""
    data = read_bytes(path, what=what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NoisylabError(f"{what} {path} is not UTF-8 text (byte {exc.start} is "
                            f"0x{data[exc.start]:02x}); is it the right file?") from None


def _yaml_loader():
    """`yaml.SafeLoader` without YAML 1.1's base-60 ints and floats (``1:30`` stays a string)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    int_tag, float_tag = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (int_tag, float_tag)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver(float_tag, re.compile(r"""^(?:
        [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
        |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))
    Loader.add_implicit_resolver(int_tag, re.compile(r"""^(?:
        [-+]?0b[0-1_]+
        |[-+]?0[0-7_]+
        |[-+]?(?:0|[1-9][0-9_]*)
        |[-+]?0x[0-9a-fA-F_]+)$""", re.X), list("-+0123456789"))
    return Loader


_LOADER = None


def parse_yaml(text: str, *, where: str) -> Any:
    """Parse YAML text safely (no tags, no base-60); a syntax error names ``where``."""
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _yaml_loader()
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise NoisylabError(f"{where} is not valid YAML: {first_line(exc)}") from None


def read_yaml_mapping(path: str | os.PathLike, *, what: str = "file") -> dict:
    """A YAML file that must hold a mapping (an empty file is an empty mapping)."""
    data = parse_yaml(read_text(path, what=what), where=f"{what} {path}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise NoisylabError(f"{what} {path} must hold a mapping of keys, got a "
                            f"{type(data).__name__}")
    return data


def read_json_mapping(path: str | os.PathLike, *, what: str = "file") -> dict:
    """A JSON file that must hold an object."""
    text = read_text(path, what=what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NoisylabError(f"{what} {path} is not valid JSON ({exc.msg} at line {exc.lineno}"
                            f", column {exc.colno})") from None
    if not isinstance(data, dict):
        raise NoisylabError(f"{what} {path} must hold a JSON object, got a "
                            f"{type(data).__name__}")
    return data


def read_csv_frame(path: str | os.PathLike, *, what: str = "file", **kwargs):
    """A CSV file as a pandas DataFrame (an empty file gives an empty frame)."""
    import io

    import pandas as pd

    text = read_text(path, what=what)
    if not text.strip():
        return pd.DataFrame()
    try:
        return pd.read_csv(io.StringIO(text), **kwargs)
    except (pd.errors.ParserError, ValueError) as exc:
        raise NoisylabError(f"{what} {path} is not a readable CSV: {first_line(exc)}") from None


def read_npz(path: str | os.PathLike, *, keys=(), what: str = "archive"
             ) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, never unpickling; ``keys`` must be present."""
    import numpy as np

    path = Path(path)
    if not path.is_file():
        read_bytes(path, what=what)      # says why: missing, a folder, unreadable
    try:
        data = np.load(path, allow_pickle=False)
        if not hasattr(data, "files"):
            raise NoisylabError(f"{what} {path} is a .npy array, not an .npz archive of "
                                "named arrays")
        with data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise NoisylabError(
                    f"{what} {path} needs arrays {', '.join(repr(k) for k in keys)}; "
                    f"found: {', '.join(sorted(data.files)) or 'none'}")
            return {k: data[k] for k in data.files}
    except NoisylabError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile,
            zipfile.LargeZipFile, UnicodeDecodeError) as exc:
        raise NoisylabError(f"cannot read {what} {path} as an .npz archive: "
                            f"{first_line(exc)}") from None


def read_npy(path: str | os.PathLike, *, what: str = "array file") -> np.ndarray:
    """The array of an ``.npy`` file, never unpickling."""
    import numpy as np

    path = Path(path)
    if not path.is_file():
        read_bytes(path, what=what)      # says why: missing, a folder, unreadable
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        raise NoisylabError(f"cannot read {what} {path} as a .npy array: "
                            f"{first_line(exc)}") from None
    if not isinstance(array, np.ndarray):
        raise NoisylabError(f"{what} {path} is an .npz archive, not a .npy array")
    return array


def check_array(array: np.ndarray, name: str, *, path, ndim: int | None = None,
                kind: str | None = None, length: int | None = None) -> np.ndarray:
    """An array read from ``path`` with the expected number of dimensions, dtype kind
    (numpy's ``dtype.kind`` letters, e.g. ``"iu"``, ``"fiu"``) and first-axis length."""
    if ndim is not None and array.ndim != ndim:
        raise NoisylabError(f"{path}: {name!r} must have {ndim} dimension(s), got shape "
                            f"{tuple(array.shape)}")
    if kind is not None and array.dtype.kind not in kind:
        raise NoisylabError(f"{path}: {name!r} must be numeric, got dtype {array.dtype}")
    if length is not None and array.shape[0] != length:
        raise NoisylabError(f"{path}: {name!r} must have {length} rows, got "
                            f"{array.shape[0]}")
    return array
