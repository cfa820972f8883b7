"""`noisylab data prepare`: official raw files -> verified -> parsed -> one HDF5 file, atomically.

Raw files come from a local folder or archive (``source=PATH``), from a URL (``source=URL``), or by
default from the official mirrors listed in `noisylab.sources.SOURCES`. Downloads go to a temporary
file, are checked against the official MD5 and only then renamed into the download folder
(``<out folder>/raw/NAME/``, reused on the next run). Nothing is parsed before every file has passed
its checksum, and the output is written through `noisylab.atomic.atomic_path`: after any error,
Ctrl-C included, there is no output file (an older one at the same path is left untouched).
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import replace
from http.client import HTTPException
from pathlib import Path

import numpy as np

from noisylab.atomic import atomic_open
from noisylab.data import rawformats as raw
from noisylab.data.dataset import Dataset, check_images_labels
from noisylab.data.hdf5 import save_dataset
from noisylab.data.load import DEFAULT_DATA_DIR
from noisylab.data.sources import SOURCES, RawFile, Source
from noisylab.errors import NoisylabError

DOWNLOAD_TIMEOUT_S = 60
_CHUNK = 1 << 20


def _quiet(_message: str) -> None:
    pass


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "ftp://", "file://"))


def prepare_dataset(
    name: str,
    *,
    source: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    sources: dict[str, Source] | None = None,
    download_dir: str | os.PathLike | None = None,
    log: Callable[[str], None] = _quiet,
) -> Path:
    """Prepare dataset ``name`` into ``out`` (default ``data/NAME.h5``); return the path written.

    ``source``: a local folder (IDX: holding the four ``.gz`` files; CIFAR: holding the tarball or
    its extracted folder), a CIFAR tarball, or a URL (the file itself or the folder it is in).
    ``sources``: the table of checksums and URLs (default `SOURCES`), for tests.
    """
    table = SOURCES if sources is None else sources
    if name not in table:
        extra = " (digits is built in and needs no preparing)" if name == "digits" else ""
        raise NoisylabError(
            f"cannot prepare '{name}'{extra}; preparable datasets: {', '.join(sorted(table))}"
        )
    src = table[name]
    out = Path(out) if out is not None else Path(DEFAULT_DATA_DIR) / f"{name}.h5"
    if out.is_dir():
        raise NoisylabError(f"--out {out} is a folder; give the path of the .h5 file to write")
    start = time.perf_counter()
    if source is not None and not _is_url(os.fspath(source)):
        files, origin = _local_files(src, Path(source), log)
    else:
        if source is not None:
            src = replace(src, mirrors=(os.fspath(source),))
        folder = Path(download_dir) if download_dir else out.parent / "raw" / name
        files = {f.filename: _download(src, f, folder, log) for f in src.files}
        origin = f"{src.mirrors[0]} (cached in {folder})"
    if src.kind == "idx":
        dataset = _build_idx(src, files)
    elif src.kind == "cifar":
        dataset = _build_cifar(src, files)
    else:
        raise NoisylabError(f"{name}: unknown source kind {src.kind!r}")
    md5s = {rf.filename: rf.md5 for rf in (*src.files, *src.members)}
    checksums = ", ".join(f"{fn} md5={md5s[fn]}" for fn in files)
    where = src.homepage or src.mirrors[0]
    save_dataset(dataset, out, source=f"{where}; from {origin}; {checksums}")
    log(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {len(dataset.y_train)} train + "
        f"{len(dataset.y_test)} test images of {'x'.join(map(str, dataset.input_shape))}, "
        f"{dataset.num_classes} classes, in {time.perf_counter() - start:.1f} s"
    )
    return out


# --- getting verified bytes ------------------------------------------------------------------


def _verify(data: bytes, expected: str, where: str) -> None:
    actual = raw.md5_hex(data)
    if actual != expected.lower():
        raise NoisylabError(
            f"checksum mismatch for {where}: expected md5 {expected}, got {actual} "
            "(a corrupt, truncated or different file; download it again)"
        )


def _read_verified(path: Path, rf: RawFile) -> bytes:
    data = path.read_bytes()
    _verify(data, rf.md5, str(path))
    return data


def _local_files(src: Source, path: Path, log) -> tuple[dict[str, bytes], str]:
    """The verified bytes of every raw file under ``path``, keyed by official file name."""
    if not path.exists():
        raise NoisylabError(f"--source {path} does not exist")
    if src.kind == "cifar":
        archive = src.files[0]
        if path.is_dir() and (path / archive.filename).is_file():
            path = path / archive.filename
        if path.is_file():
            data = _read_verified(path, archive)
            log(f"verified {path}")
            return {archive.filename: data}, str(path)
        folder = path / src.folder if (path / src.folder).is_dir() else path
        wanted, what = src.members, f"{archive.filename} or its extracted folder {src.folder}/"
    else:
        if not path.is_dir():
            raise NoisylabError(
                f"--source {path} is a file; for {src.name} give the folder holding "
                + ", ".join(f.filename for f in src.files)
            )
        folder, wanted, what = path, src.files, ", ".join(f.filename for f in src.files)
    missing = [rf.filename for rf in wanted if not (folder / rf.filename).is_file()]
    if src.kind == "cifar" and len(missing) == len(wanted):
        raise NoisylabError(
            f"{path} holds neither {src.files[0].filename} nor its extracted folder {src.folder}/"
        )
    if missing:
        raise NoisylabError(
            f"missing file{'s' if len(missing) > 1 else ''} in {folder}: {', '.join(missing)} "
            f"({src.name} needs {what})"
        )
    files = {}
    for rf in wanted:
        files[rf.filename] = _read_verified(folder / rf.filename, rf)
        log(f"verified {folder / rf.filename}")
    return files, str(folder)


def _download(src: Source, rf: RawFile, folder: Path, log) -> bytes:
    """Verified bytes of ``rf``: from ``folder`` when already there, else downloaded into it."""
    target = folder / rf.filename
    if target.is_file():
        data = target.read_bytes()
        if raw.md5_hex(data) == rf.md5.lower():
            log(f"using {target} (already downloaded, checksum ok)")
            return data
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NoisylabError(f"cannot create the download folder {folder}: {exc}") from None
    unreachable: list[str] = []
    failure: NoisylabError | None = None  # a mirror answered, but not with the right file
    for url in src.urls(rf.filename):
        log(f"downloading {url}")
        try:
            # The download lands in a temp file that becomes `target` only once verified.
            with atomic_open(target) as fh, urllib.request.urlopen(
                url, timeout=DOWNLOAD_TIMEOUT_S
            ) as response:
                digest = hashlib.md5(usedforsecurity=False)
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    fh.write(chunk)
                if digest.hexdigest() != rf.md5.lower():
                    raise NoisylabError(
                        f"checksum mismatch for {rf.filename} downloaded from {url}: expected "
                        f"md5 {rf.md5}, got {digest.hexdigest()}"
                    )
            return target.read_bytes()
        except NoisylabError as exc:
            failure = exc
        except urllib.error.HTTPError as exc:
            failure = failure or NoisylabError(
                f"cannot download {rf.filename} from {url}: HTTP {exc.code} {exc.reason}; "
                f"download it yourself and run `noisylab data prepare {src.name} --source FOLDER`"
            )
        except (urllib.error.URLError, ConnectionError, TimeoutError, HTTPException) as exc:
            unreachable.append(f"{url}: {getattr(exc, 'reason', exc)}")
        except ValueError as exc:  # urlopen on a malformed URL
            raise NoisylabError(f"cannot download from {url!r}: {exc}") from None
        except OSError as exc:
            raise NoisylabError(f"cannot save the download in {folder}: {exc}") from None
    if failure is not None:
        raise failure
    names = ", ".join(f.filename for f in src.files)
    raise NoisylabError(
        f"cannot download {src.name}, the network is unreachable ({unreachable[-1]}); if you are "
        f"offline, download {names} from {src.homepage or src.mirrors[0]} and run "
        f"`noisylab data prepare {src.name} --source FOLDER`"
    )


# --- parsing ---------------------------------------------------------------------------------


def _check_pair(images, labels, images_name, labels_name, class_names) -> None:
    check_images_labels(images, labels, images_key=images_name, labels_key=labels_name,
                        num_classes=len(class_names))


def _build_idx(src: Source, files: dict[str, bytes]) -> Dataset:
    by_role = {rf.role: rf.filename for rf in src.files}
    arrays = {}
    for rf in src.files:
        magic = raw.IDX_IMAGES_MAGIC if rf.role.endswith("images") else raw.IDX_LABELS_MAGIC
        arrays[rf.role] = raw.read_idx_gz(files[rf.filename], rf.filename, expected_magic=magic)
    for split in ("train", "test"):
        _check_pair(
            arrays[f"{split}_images"], arrays[f"{split}_labels"],
            by_role[f"{split}_images"], by_role[f"{split}_labels"], src.class_names,
        )
    return Dataset(
        x_train=arrays["train_images"][..., np.newaxis],
        y_train=arrays["train_labels"].astype(np.int64),
        x_test=arrays["test_images"][..., np.newaxis],
        y_test=arrays["test_labels"].astype(np.int64),
        class_names=tuple(src.class_names), name=src.name, split={"kind": "given"},
    )


def _untar_members(src: Source, data: bytes, filename: str) -> dict[str, bytes]:
    members = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            names = set(tar.getnames())
            for rf in src.members:
                member = f"{src.folder}/{rf.filename}"
                if member not in names:
                    raise NoisylabError(f"{filename}: the archive lacks {member}")
                fh = tar.extractfile(member)
                if fh is None:
                    raise NoisylabError(f"{filename}: {member} is not a regular file")
                members[rf.filename] = fh.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise NoisylabError(f"{filename}: truncated or corrupt tar.gz archive ({exc})") from None
    return members


def _build_cifar(src: Source, files: dict[str, bytes]) -> Dataset:
    archive = src.files[0].filename
    members = _untar_members(src, files[archive], archive) if archive in files else files
    meta = next(rf.filename for rf in src.members if rf.role == "meta")
    class_names = raw.cifar_class_names(
        raw.load_cifar_pickle(members[meta], meta), meta, src.names_key
    )
    splits = {}
    for split in ("train", "test"):
        xs, ys = [], []
        for rf in (m for m in src.members if m.role == split):
            x, y = raw.cifar_batch(
                raw.load_cifar_pickle(members[rf.filename], rf.filename), rf.filename, src.label_key
            )
            _check_pair(x, y, f"{rf.filename} data", f"{rf.filename} {src.label_key}", class_names)
            xs.append(x)
            ys.append(y)
        splits[split] = (np.concatenate(xs), np.concatenate(ys))
    return Dataset(
        x_train=splits["train"][0], y_train=splits["train"][1],
        x_test=splits["test"][0], y_test=splits["test"][1],
        class_names=class_names, name=src.name, split={"kind": "given"},
    )
