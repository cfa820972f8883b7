"""Readers for the official raw dataset formats: IDX (MNIST family) and the CIFAR python pickles.

Every reader works on bytes already in memory (read once, checksummed, then parsed) and raises
`NoisylabError` naming the file for anything malformed: bad gzip, wrong magic number, wrong sizes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import zlib

import numpy as np

from noisylab.errors import NoisylabError

# IDX type codes (third byte of the magic number) -> numpy big-endian dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, rows, cols)
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (N,)

CIFAR_IMAGE_SHAPE = (3, 32, 32)  # stored channel-first, one row of 3072 bytes per image


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def gunzip(data: bytes, filename: str) -> bytes:
    """Decompress a whole gzip file held in memory; a truncated or corrupt one is a clear error."""
    try:
        return gzip.decompress(data)
    except EOFError:
        raise NoisylabError(
            f"{filename}: truncated gzip file ({len(data)} bytes; the end-of-stream marker is "
            "missing); download it again"
        ) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise NoisylabError(f"{filename}: not a valid gzip file ({exc})") from None


def parse_idx(data: bytes, filename: str, *, expected_magic: int | None = None) -> np.ndarray:
    """Parse an uncompressed IDX file: magic number, big-endian int32 dimensions, then the data."""
    if len(data) < 4:
        raise NoisylabError(f"{filename}: too short for an IDX file ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    zero, type_code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if expected_magic is not None and magic != expected_magic:
        raise NoisylabError(
            f"{filename}: wrong IDX magic number 0x{magic:08x} (expected 0x{expected_magic:08x})"
        )
    if zero != 0 or type_code not in IDX_DTYPES or ndim == 0:
        raise NoisylabError(f"{filename}: wrong IDX magic number 0x{magic:08x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise NoisylabError(f"{filename}: IDX header truncated ({len(data)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise NoisylabError(
            f"{filename}: IDX data is {len(data) - header} bytes but the header {dims} "
            f"says {expected}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx_gz(data: bytes, filename: str, *, expected_magic: int) -> np.ndarray:
    return parse_idx(gunzip(data, filename), filename, expected_magic=expected_magic)


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only what the CIFAR batches hold: dicts, lists, bytes and numpy uint8 arrays."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            core = getattr(np, "_core", None) or np.core
            return core.multiarray._reconstruct
        if (module, name) == ("_codecs", "encode"):  # how Python 3 pickles bytes at protocol 2
            import codecs

            return codecs.encode
        raise pickle.UnpicklingError(f"unexpected object {module}.{name}")


def load_cifar_pickle(data: bytes, filename: str) -> dict:
    """Load one CIFAR python batch (or meta) pickle into a dict with str keys."""
    try:
        obj = _CifarUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:  # pickle raises many kinds on garbage
        raise NoisylabError(f"{filename}: not a CIFAR python pickle ({exc})") from None
    if not isinstance(obj, dict):
        raise NoisylabError(f"{filename}: expected a dict in the pickle, got {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def cifar_batch(batch: dict, filename: str, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels (N,) int64 from one CIFAR batch dict."""
    for key in ("data", label_key):
        if key not in batch:
            raise NoisylabError(
                f"{filename}: no '{key}' entry (found: {', '.join(sorted(batch)) or 'none'})"
            )
    raw = np.asarray(batch["data"])
    size = int(np.prod(CIFAR_IMAGE_SHAPE))
    if raw.dtype != np.uint8 or raw.ndim != 2 or raw.shape[1] != size:
        raise NoisylabError(
            f"{filename}: 'data' is {raw.dtype} {raw.shape}, expected uint8 (N, {size})"
        )
    images = raw.reshape((-1, *CIFAR_IMAGE_SHAPE)).transpose(0, 2, 3, 1)
    labels = np.asarray(batch[label_key])
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise NoisylabError(f"{filename}: '{label_key}' must be a list of integers")
    return np.ascontiguousarray(images), labels.astype(np.int64)


def cifar_class_names(meta: dict, filename: str, key: str) -> tuple[str, ...]:
    if key not in meta:
        raise NoisylabError(f"{filename}: no '{key}' entry (found: {', '.join(sorted(meta))})")
    return tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in meta[key])
