"""Builders of tiny raw dataset files in the real formats (IDX .gz, CIFAR python pickles in a
tar.gz), with `Source` entries whose checksums match them, for the data tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from noisylab.data.sources import SOURCES, RawFile, Source

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def idx_bytes(array: np.ndarray, *, magic: int | None = None) -> bytes:
    """Uncompressed IDX: magic (0, 0, type 0x08, ndim), big-endian int32 dims, the bytes."""
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + np.asarray(array.shape, ">u4").tobytes()
    return header + array.tobytes()


def write_idx_gz(path: Path, array: np.ndarray, *, magic: int | None = None) -> Path:
    Path(path).write_bytes(gzip.compress(idx_bytes(array, magic=magic)))
    return Path(path)


def idx_arrays(n_train=40, n_test=20, num_classes=10, shape=(6, 5), seed=0) -> dict:
    """Images whose first pixel is their label (so a test can check the pairing survives)."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % num_classes
        rng.shuffle(labels)
        images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
        images[:, 0, 0] = labels
        out[f"{split}_images"], out[f"{split}_labels"] = images, labels.astype(np.uint8)
    return out


def write_idx_folder(folder: Path, arrays: dict | None = None, **kwargs) -> dict:
    """The four IDX .gz files in ``folder``; returns the arrays written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = idx_arrays(**kwargs) if arrays is None else arrays
    for role, filename in IDX_NAMES.items():
        write_idx_gz(folder / filename, arrays[role])
    return arrays


def idx_source(folder: Path, name: str = "mnist", mirrors: tuple[str, ...] = ()) -> Source:
    """``SOURCES[name]`` with the checksums of the files now in ``folder`` (and other mirrors)."""
    folder = Path(folder)
    files = tuple(
        RawFile(rf.role, rf.filename, md5(folder / rf.filename)) for rf in SOURCES[name].files
    )
    return Source(
        name=name, kind="idx", files=files, mirrors=mirrors or SOURCES[name].mirrors,
        homepage=SOURCES[name].homepage, class_names=SOURCES[name].class_names,
    )


CIFAR_LAYOUT = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "train": ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "label_key": b"labels",
        "names_key": b"label_names",
        "names": [b"airplane", b"automobile", b"bird", b"cat", b"deer",
                  b"dog", b"frog", b"horse", b"ship", b"truck"],
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "label_key": b"fine_labels",
        "names_key": b"fine_label_names",
        "names": [f"class{i:02d}".encode() for i in range(100)],
    },
}


def cifar_batch_bytes(images_hwc: np.ndarray, labels, label_key: bytes, extra=None) -> bytes:
    """A batch pickled like the originals: bytes keys, data (N, 3072) channel-first rows."""
    n = len(images_hwc)
    batch = {
        b"batch_label": b"fixture batch",
        label_key: [int(v) for v in labels],
        b"data": np.ascontiguousarray(images_hwc.transpose(0, 3, 1, 2)).reshape(n, 3072),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    if label_key == b"fine_labels":
        batch[b"coarse_labels"] = [int(v) // 5 for v in labels]
    batch.update(extra or {})
    data = pickle.dumps(batch, protocol=2)
    # The originals were pickled by Python 2 with numpy 1: name numpy's module as they do.
    data = data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in data
    return data


def cifar_members(kind="cifar10", n_per_batch=12, seed=0, overrides=None) -> dict[str, bytes]:
    """The member files of the extracted folder, as bytes; ``overrides`` replaces some."""
    spec = CIFAR_LAYOUT[kind]
    rng = np.random.default_rng(seed)
    k = len(spec["names"])
    members = {}
    for name in spec["train"] + spec["test"]:
        labels = rng.integers(0, k, size=n_per_batch)
        images = rng.integers(0, 256, size=(n_per_batch, 32, 32, 3), dtype=np.uint8)
        images[:, 0, 0, 0] = labels  # the red value of the first pixel is the label
        members[name] = cifar_batch_bytes(images, labels, spec["label_key"])
    meta = {spec["names_key"]: spec["names"], b"num_vis": 3072}
    members[spec["meta"]] = pickle.dumps(meta, protocol=2)
    members.update(overrides or {})
    return members


def write_cifar_folder(parent: Path, kind="cifar10", **kwargs) -> Path:
    folder = Path(parent) / CIFAR_LAYOUT[kind]["folder"]
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in cifar_members(kind, **kwargs).items():
        (folder / name).write_bytes(data)
    return folder


def write_cifar_tarball(path: Path, kind="cifar10", *, members=None, **kwargs) -> Path:
    members = cifar_members(kind, **kwargs) if members is None else members
    folder = CIFAR_LAYOUT[kind]["folder"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def cifar_source(kind: str, *, tarball: Path | None = None, folder: Path | None = None,
                 mirrors: tuple[str, ...] = ()) -> Source:
    """``SOURCES[kind]`` with checksums of the fixture tarball and/or extracted members."""
    base = SOURCES[kind]
    files = base.files
    if tarball is not None:
        files = (RawFile("archive", base.files[0].filename, md5(tarball)),)
    members = base.members
    if folder is not None:
        members = tuple(RawFile(m.role, m.filename, md5(Path(folder) / m.filename))
                        for m in base.members)
    return Source(
        name=kind, kind="cifar", files=files, mirrors=mirrors or base.mirrors,
        homepage=base.homepage, folder=base.folder, members=members,
        label_key=base.label_key, names_key=base.names_key,
    )
