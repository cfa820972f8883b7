"""``noisylab data prepare folder``: a class-folder tree (or an archive of one) -> one HDF5 file.

The layout is the one torchvision's ``ImageFolder`` and Keras' ``image_dataset_from_directory``
read: ``train/<class>/*`` and ``test/<class>/*``, or a single ``<class>/*`` tree that is split
here (stratified, seeded, recorded). One folder that wraps the whole tree (``cifar10/train/...``)
is looked through. Files and folders whose name starts with ``.`` and ``__MACOSX`` folders are
skipped (``.DS_Store``, AppleDouble files); any other file must be an image Pillow can decode.

Order, documented because ``--order-labels`` and reproducibility rely on it:

- classes: the folder names sorted (Python string order), or ``classes`` as given;
- images: class by class in that order; within a class, by path relative to the class folder in
  *natural* order (runs of digits compare as numbers, so ``2.png`` < ``10.png``, and zero-padded
  names such as ``0042.jpg`` sort as usual), ties broken by the plain string;
- ``order_labels``: the training images are then placed in the order of a given label sequence,
  assuming each class folder is numbered in that order: the k-th file of class c goes to the
  position of the k-th occurrence of c in the sequence.

Images: every one must have the same mode family (grey ``L``, or colour ``RGB``; 1-bit images
become ``L``, palette (without transparency) and CMYK images ``RGB``) and, unless ``resize`` is
given, the same size. ``resize=(H, W)`` resizes every image with Pillow's bilinear filter
(aspect ratio not kept, as Keras does). Images with an alpha channel or 16-bit samples are refused.
Decoding runs in a thread pool (Pillow releases the GIL while it decodes).
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noisylab.data.archives import open_tree
from noisylab.data.dataset import Dataset, stratified_split
from noisylab.data.hdf5 import save_dataset
from noisylab.data.load import DEFAULT_DATA_DIR
from noisylab.errors import NoisylabError
from noisylab.labelfiles import read_labels

SPLITS = ("train", "test")
_DIGITS = re.compile(r"(\d+)")
#: Mode -> (the mode stored, channels).
_MODES = {"L": ("L", 1), "1": ("L", 1), "RGB": ("RGB", 3), "P": ("RGB", 3),
          "CMYK": ("RGB", 3), "YCbCr": ("RGB", 3)}
_MODE_WORDS = {"L": "grey (L)", "RGB": "colour (RGB)"}


def natural_key(name: str):
    """Sort key: digit runs compare as numbers, then the plain string breaks ties."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in _DIGITS.split(name) if t], name


def _visible(parts) -> bool:
    return not any(p.startswith(".") or p == "__MACOSX" for p in parts)


@dataclass(frozen=True)
class Layout:
    """The classes and image files of a tree, in the documented order.

    Attributes
    ----------
    kind : {"split", "single"}
        ``train/`` + ``test/`` folders, or one tree of class folders.
    class_names : tuple of str
    files : dict of str to list of list of tuple of str
        ``files[group][c]``: the path parts of class c's files; the groups are ``train`` and
        ``test``, or ``all`` for a single tree.
    folders : dict of str to tuple of str
        The folder of each group.
    """

    kind: str
    class_names: tuple[str, ...]
    files: dict[str, list[list[tuple[str, ...]]]]
    folders: dict[str, tuple[str, ...]]


def find_layout(tree, *, classes: Sequence[str] | None = None) -> Layout:
    """The `Layout` of ``tree``; every problem with its folders is a `NoisylabError`."""
    files = [p for p in tree.files if _visible(p)]
    folders = {p for p in tree.folders if _visible(p)}
    prefix: tuple[str, ...] = ()
    while True:
        tops = {p[len(prefix)] for p in (*files, *folders) if len(p) > len(prefix)}
        direct = [p for p in files if len(p) == len(prefix) + 1]
        if len(tops) != 1 or direct or tops <= set(SPLITS):
            break
        prefix += (tops.pop(),)
    depth = len(prefix)
    where = tree.name(prefix) if prefix else str(tree.root)
    tops = sorted({p[depth] for p in (*files, *folders) if len(p) > depth})
    if not tops:
        raise NoisylabError(f"{where} holds no class folders (and no train/ and test/ folders)")
    if set(SPLITS) & set(tops):
        missing = [s for s in SPLITS if s not in tops]
        if missing:
            raise NoisylabError(f"{where} has {'/'.join(s for s in SPLITS if s in tops)}/ but "
                                f"no {missing[0]}/ folder (give both, or a single tree of class "
                                "folders to split)")
        extra = [t for t in tops if t not in SPLITS]
        if extra:
            raise NoisylabError(f"{tree.name(prefix + (extra[0],))}: expected only train/ and "
                                "test/ next to each other")
        groups = {s: prefix + (s,) for s in SPLITS}
        kind = "split"
    else:
        groups = {"all": prefix}
        kind = "single"
    per_split = {}
    for split, base in groups.items():
        d = len(base)
        loose = [p for p in files if p[:d] == base and len(p) == d + 1]
        if loose:
            raise NoisylabError(f"{tree.name(loose[0])} is not inside a class folder")
        names = sorted({p[d] for p in (*files, *folders) if p[:d] == base and len(p) > d})
        by_class = {name: [] for name in names}
        for p in files:
            if p[:d] == base:
                by_class[p[d]].append(p)
        for name, members in by_class.items():
            if not members:
                raise NoisylabError(f"class folder {tree.name(base + (name,))} is empty")
            members.sort(key=lambda p, d=d: natural_key("/".join(p[d + 1:])))
        per_split[split] = by_class
    if kind == "split":
        train, test = set(per_split["train"]), set(per_split["test"])
        if train != test:
            only_train, only_test = sorted(train - test), sorted(test - train)
            detail = "; ".join(part for part in (
                f"only in train/: {', '.join(only_train)}" if only_train else "",
                f"only in test/: {', '.join(only_test)}" if only_test else "") if part)
            raise NoisylabError(f"{where}: train/ and test/ have different class folders "
                                f"({detail})")
    found = sorted(next(iter(per_split.values())))
    if classes is not None:
        classes = tuple(classes)
        if len(set(classes)) != len(classes):
            raise NoisylabError(f"--classes must not repeat a name, got {','.join(classes)}")
        if set(classes) != set(found):
            unknown = [c for c in classes if c not in found]
            unnamed = [c for c in found if c not in classes]
            detail = "; ".join(part for part in (
                f"not a folder: {', '.join(unknown)}" if unknown else "",
                f"folders not named: {', '.join(unnamed)}" if unnamed else "") if part)
            raise NoisylabError(f"--classes must name every class folder of {where} once "
                                f"({detail})")
        class_names = classes
    else:
        class_names = tuple(found)
    if len(class_names) < 2:
        raise NoisylabError(f"{where} needs at least 2 class folders, found {len(class_names)}: "
                            f"{', '.join(class_names)}")
    return Layout(kind=kind, class_names=tuple(class_names),
                  files={s: [by[c] for c in class_names] for s, by in per_split.items()},
                  folders=groups)


def decode_image(data: bytes, where: str, *, resize: tuple[int, int] | None = None):
    """One image as a uint8 (H, W, C) array and its stored mode ("L" or "RGB").

    Raises
    ------
    NoisylabError
        ``where`` is not an image, is truncated or corrupt, or has an unsupported mode.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            mode = image.mode
            if mode not in _MODES or (mode == "P" and "transparency" in image.info):
                raise NoisylabError(f"{where}: unsupported image mode {mode} (expected grey L or "
                                    "colour RGB, without alpha)")
            stored = _MODES[mode][0]
            image.load()
            if mode != stored:
                image = image.convert(stored)
            if resize is not None and image.size != (resize[1], resize[0]):
                image = image.resize((resize[1], resize[0]), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except UnidentifiedImageError:
        raise NoisylabError(f"{where} is not an image file (Pillow cannot identify it)") from None
    except Image.DecompressionBombError as exc:
        raise NoisylabError(f"{where}: refusing a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise NoisylabError(f"{where}: cannot decode the image, truncated or corrupt ({exc})"
                            ) from None
    return (array if array.ndim == 3 else array[..., np.newaxis]), stored


def default_workers() -> int:
    """Threads for decoding: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:      # not on Linux
        return max(1, os.cpu_count() or 1)


def decode_images(tree, paths: Sequence, *, resize=None, workers: int | None = None,
                  reference=None) -> tuple[np.ndarray, tuple]:
    """Decode ``paths`` of ``tree`` into one (n, H, W, C) uint8 array, in order.

    Every image must match the first one's mode and shape (or ``reference``, the
    ``(path, shape, mode)`` of an image decoded earlier, e.g. the first training image).

    Returns
    -------
    images : ndarray of shape (n, H, W, C), uint8
    reference : tuple
        ``(path, shape, mode)`` that every image matched.

    Raises
    ------
    NoisylabError
        For the first bad image in order (not an image, unreadable, another mode or size).
    """
    workers = default_workers() if workers is None else workers
    if reference is None:
        first, mode = decode_image(tree.read(paths[0]), tree.name(paths[0]), resize=resize)
        reference = (paths[0], first.shape, mode)
    ref_path, ref_shape, ref_mode = reference
    out = np.empty((len(paths), *ref_shape), dtype=np.uint8)
    errors: dict[int, NoisylabError] = {}

    def work(bounds):
        for i in range(*bounds):
            where = tree.name(paths[i])
            try:
                array, mode = decode_image(tree.read(paths[i]), where, resize=resize)
                if mode != ref_mode:
                    raise NoisylabError(
                        f"{where} is {_MODE_WORDS[mode]} but {tree.name(ref_path)} is "
                        f"{_MODE_WORDS[ref_mode]}; every image must have the same mode")
                if array.shape != ref_shape:
                    raise NoisylabError(
                        f"{where} is {array.shape[0]}x{array.shape[1]} (HxW) but "
                        f"{tree.name(ref_path)} is {ref_shape[0]}x{ref_shape[1]}; pass "
                        "--resize H,W to resize every image")
                out[i] = array
            except NoisylabError as exc:
                errors[i] = exc
                return

    # Chunks of several hundred images: enough work per task to hide the pool's overhead.
    step = max(256, -(-len(paths) // (workers * 8)))
    chunks = [(lo, min(lo + step, len(paths))) for lo in range(0, len(paths), step)]
    if workers == 1:
        for chunk in chunks:
            work(chunk)
            if errors:
                break
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, chunks))
    if errors:
        raise errors[min(errors)]
    return out, reference


def align_to_labels(counts: Sequence[int], sequence: np.ndarray, *, where: str,
                    folder: str, class_names: Sequence[str]) -> np.ndarray:
    """Where each training file goes so that the labels follow ``sequence``.

    The files are class by class (``counts[c]`` of class c, in folder order); the k-th file of
    class c goes to the position of the k-th occurrence of c in ``sequence``.

    Returns
    -------
    ndarray of shape (n,), int64
        ``position[j]``: the output position of file j.

    Raises
    ------
    NoisylabError
        ``sequence`` has another length, a label outside the classes, or another count of a
        class than its folder holds.
    """
    L, n = len(counts), int(sum(counts))
    if sequence.size != n:
        raise NoisylabError(f"--order-labels {where} has {sequence.size} labels but {folder} "
                            f"holds {n} training images")
    if sequence.max() >= L:
        i = int(np.argmax(sequence >= L))
        raise NoisylabError(f"--order-labels {where} has label {sequence[i]} at index {i}, out "
                            f"of range for {L} classes (0..{L - 1})")
    have = np.bincount(sequence, minlength=L)
    for c in range(L):
        if have[c] != counts[c]:
            raise NoisylabError(
                f"--order-labels {where} has {have[c]} labels {c} but the class folder "
                f"{class_names[c]!r} (class {c}) holds {counts[c]} images")
    # A stable sort lists the positions class by class, each class's in increasing order:
    # exactly the k-th occurrence of c for the k-th file of c.
    return np.argsort(sequence, kind="stable")


def read_folder(source, *, name: str, classes: Sequence[str] | None = None,
                resize: tuple[int, int] | None = None, order_labels=None,
                test_size: float = 0.2, seed: int = 0,
                workers: int | None = None) -> tuple[Dataset, str]:
    """Read a class-folder tree or archive into a `Dataset` (see the module doc).

    Parameters
    ----------
    source : path-like
        A folder, or a ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip`` archive of one.
    name : str
        The dataset's name.
    classes : sequence of str, optional
        The class order; must name every class folder once. Default: the names sorted.
    resize : (H, W), optional
        Resize every image to H x W (bilinear); without it every image must have one size.
    order_labels : str, optional
        ``FILE`` or ``FILE:KEY`` (see `noisylab.labelfiles.read_labels`): put the training
        images in the order of that label sequence.
    test_size, seed : float, int
        The stratified split of a single tree (ignored with ``train/`` and ``test/``).
    workers : int, optional
        Decoding threads (default: one per available core).

    Returns
    -------
    dataset : Dataset
    described : str
        What was read and how, for the HDF5 ``source`` attribute.
    """
    with open_tree(source) as tree:
        layout = find_layout(tree, classes=classes)
        class_names, files = layout.class_names, layout.files
        counts = {group: [len(m) for m in members] for group, members in files.items()}
        labels = {group: np.repeat(np.arange(len(class_names)), c) for group, c in counts.items()}
        paths = {group: [p for m in members for p in m] for group, members in files.items()}
        if layout.kind == "single":
            if order_labels is not None:
                raise NoisylabError("--order-labels needs train/ and test/ folders: a single "
                                    "tree is split here, so no file can know its order")
            y, every = labels.pop("all"), paths.pop("all")
            train, test = _split(y, test_size=test_size, seed=seed, where=str(tree.root))
            paths = {"train": [every[i] for i in train], "test": [every[i] for i in test]}
            labels = {"train": y[train], "test": y[test]}
            how = (f"one tree of class folders, split stratified (test_size={test_size}, "
                   f"seed={seed})")
        else:
            how = "train/ and test/ class folders"
        if order_labels is not None:
            sequence, where = read_labels(order_labels)
            position = align_to_labels(counts["train"], sequence, where=where,
                                       folder=tree.name(layout.folders["train"]),
                                       class_names=class_names)
            reordered = [None] * len(position)
            for j, p in enumerate(position):
                reordered[p] = paths["train"][j]
            paths["train"], labels["train"] = reordered, sequence
            how += f"; training images in the order of {where}"
        x_train, reference = decode_images(tree, paths["train"], resize=resize, workers=workers)
        x_test, _ = decode_images(tree, paths["test"], resize=resize, workers=workers,
                                  reference=reference)
        root = str(tree.root)
    dataset = Dataset(x_train=x_train, y_train=labels["train"].astype(np.int64),
                      x_test=x_test, y_test=labels["test"].astype(np.int64),
                      class_names=tuple(class_names), name=name,
                      split={"kind": "given"} if layout.kind == "split" else
                      {"kind": "stratified", "test_size": test_size, "seed": seed})
    described = (f"folder {root}: {how}; classes {', '.join(class_names)}; files in natural "
                 "order" + (f"; resized to {resize[0]}x{resize[1]}" if resize else ""))
    return dataset, described


def _split(labels: np.ndarray, *, test_size, seed: int, where: str):
    """Train and test positions, stratified and seeded, each in increasing (folder) order."""
    positions = np.arange(labels.size)
    train, test, _, _ = stratified_split(positions, labels, test_size=test_size, seed=seed,
                                         where=where)
    return np.sort(train), np.sort(test)


def prepare_folder(source, *, name: str, out=None, log: Callable[[str], None] | None = None,
                   **options) -> Path:
    """`read_folder` and write the dataset to ``out`` (default ``data/NAME.h5``), atomically.

    ``options`` are `read_folder`'s. After any error there is no output file (an older file at
    ``out`` is left as it was). Returns the path written.
    """
    check_dataset_name(name)
    out = Path(out) if out is not None else Path(DEFAULT_DATA_DIR) / f"{name}.h5"
    if out.is_dir():
        raise NoisylabError(f"--out {out} is a folder; give the path of the .h5 file to write")
    start = time.perf_counter()
    dataset, described = read_folder(source, name=name, **options)
    save_dataset(dataset, out, source=described)
    if log is not None:
        log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {len(dataset.y_train)} train + "
            f"{len(dataset.y_test)} test images of {'x'.join(map(str, dataset.input_shape))}, "
            f"{dataset.num_classes} classes, in {time.perf_counter() - start:.1f} s")
    return out


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_dataset_name(name) -> str:
    """A dataset name: letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise NoisylabError(f"--name must be letters, digits, '.', '_' or '-' (starting with a "
                            f"letter or digit), got {name!r}")
    return name
