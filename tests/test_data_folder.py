"""noisylab.data.folder and .archives: class-folder trees and archives -> HDF5, and every bad input.

Fixture trees are built here with Pillow: each image's pixels encode (class, index) so the tests can
check where every file went.
"""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from noisylab.cli import main as cli
from noisylab.data import load_dataset
from noisylab.data.archives import open_tree
from noisylab.data.folder import align_to_labels, find_layout, natural_key, read_folder
from noisylab.errors import NoisylabError

CLASSES = ("cat", "dog", "emu")


def image_bytes(value: int, *, mode="RGB", size=(6, 4), fmt="PNG") -> bytes:
    """A ``size`` (W, H) image of one colour, ``value`` in every channel (PNG keeps it exact)."""
    colour = value if mode == "L" else (value, 255 - value, (3 * value) % 256)
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG"
                                                               else {}))
    return buffer.getvalue()


def code(c: int, k: int) -> int:
    """The pixel value of the k-th file of class c."""
    return 10 * c + k + 1


def build_tree(root: Path, counts: dict[str, list[int]], *, names=None, **image) -> Path:
    """``root/<split>/<class>/<k>.png`` for ``counts[split][c]`` images of class c.

    ``names(k)`` gives file names (default ``f"{k}.png"``: unpadded, so order must be natural).
    """
    names = names or (lambda k: f"{k}.png")
    for split, per_class in counts.items():
        for c, n in enumerate(per_class):
            folder = root / split / CLASSES[c] if split else root / CLASSES[c]
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(n):
                (folder / names(k)).write_bytes(image_bytes(code(c, k), **image))
    return root


def pack(folder: Path, archive: Path) -> Path:
    """``folder``'s contents as a .tar, .tar.gz or .zip, member names relative to it."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive, "w") as z:
            for p in files:
                z.write(p, p.relative_to(folder).as_posix())
    else:
        with tarfile.open(archive, "w:gz" if archive.name.endswith("gz") else "w") as t:
            for p in files:
                t.add(p, p.relative_to(folder).as_posix())
    return archive


def prepare(args, tmp_path):
    out = tmp_path / "out.h5"
    result = CliRunner().invoke(cli, ["data", "prepare", "folder", *map(str, args),
                                      "--out", str(out)])
    return result, out


def assert_refused(tmp_path, args, pattern):
    """One line on stderr naming the problem, exit 2, and no output file (nor temp file)."""
    result, out = prepare(args, tmp_path)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    assert re.search(pattern, lines[0]), lines[0]
    assert not out.exists() and not list(tmp_path.glob(".out.h5.*"))


# --- the happy paths --------------------------------------------------------------------------


@pytest.fixture
def split_tree(tmp_path):
    return build_tree(tmp_path / "pets", {"train": [3, 12, 2], "test": [1, 2, 1]})


def test_split_tree_end_to_end_classes_sorted_files_in_natural_order(split_tree, tmp_path):
    result, out = prepare(["--source", split_tree, "--name", "pets"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "17 train + 4 test images of 4x6x3" in result.output
    ds = load_dataset(out)
    assert ds.name == "pets" and ds.class_names == CLASSES
    assert ds.x_train.shape == (17, 4, 6, 3) and ds.x_train.dtype == np.uint8
    assert ds.y_train.tolist() == [0] * 3 + [1] * 12 + [2] * 2
    # natural order: 0.png, 1.png, ..., 9.png, 10.png, 11.png (not 0, 1, 10, 11, 2, ...)
    assert ds.x_train[3:15, 0, 0, 0].tolist() == [code(1, k) for k in range(12)]
    assert ds.x_test[:, 0, 0, 0].tolist() == [code(0, 0), code(1, 0), code(1, 1), code(2, 0)]
    with h5py.File(out) as f:
        assert "train/ and test/ class folders" in f.attrs["source"]


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz", ".zip"])
def test_archives_read_in_place_give_the_same_arrays_as_the_folder(split_tree, tmp_path, suffix):
    archive = pack(split_tree, tmp_path / f"pets{suffix}")
    from_folder, _ = read_folder(split_tree, name="pets")
    from_archive, described = read_folder(archive, name="pets")
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(from_folder, field), getattr(from_archive, field)), field
    assert described.startswith(f"folder {archive}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["pets", f"pets{suffix}"])


def test_one_wrapping_folder_and_hidden_files_are_looked_through(tmp_path):
    root = build_tree(tmp_path / "w" / "cifar", {"train": [2, 2, 2], "test": [1, 1, 1]})
    (root / "train" / "cat" / ".DS_Store").write_bytes(b"\0\1junk")
    (root / "train" / "._hidden.png").write_bytes(b"AppleDouble")
    (tmp_path / "w" / "__MACOSX").mkdir()
    (tmp_path / "w" / "__MACOSX" / "x.png").write_bytes(b"junk")
    archive = pack(tmp_path / "w", tmp_path / "w.zip")
    ds, _ = read_folder(archive, name="c")
    assert ds.y_train.tolist() == [0, 0, 1, 1, 2, 2] and ds.class_names == CLASSES


def test_jpeg_grey_single_tree_is_split_stratified_seeded_and_recorded(tmp_path):
    root = build_tree(tmp_path / "g", {"": [10, 20, 10]}, mode="L", fmt="JPEG",
                      names=lambda k: f"img_{k:03d}.jpg")
    ds, described = read_folder(root, name="g", test_size=0.25, seed=3)
    assert ds.x_train.shape == (30, 4, 6, 1) and ds.x_test.shape == (10, 4, 6, 1)
    test_counts = np.bincount(ds.y_test).tolist()
    assert test_counts[1] == 5 and sorted(test_counts) == [2, 3, 5]   # 2.5 rounds either way
    assert ds.split == {"kind": "stratified", "test_size": 0.25, "seed": 3}
    assert "split stratified (test_size=0.25, seed=3)" in described
    again, _ = read_folder(root, name="g", test_size=0.25, seed=3)
    other, _ = read_folder(root, name="g", test_size=0.25, seed=4)
    assert np.array_equal(again.x_test, ds.x_test)
    assert not np.array_equal(other.x_test, ds.x_test)
    # every image lands in exactly one split, and each split keeps the folder order
    seen = np.concatenate([ds.x_train[:, 0, 0, 0], ds.x_test[:, 0, 0, 0]])
    assert len(seen) == 40
    for split in (ds.x_train, ds.x_test):
        values = split[:, 0, 0, 0].astype(int)
        labels = ds.y_train if split is ds.x_train else ds.y_test
        for c in range(3):
            assert np.all(np.diff(values[labels == c]) > 0)


def test_classes_fix_the_order_and_must_name_every_folder(split_tree, tmp_path):
    ds, _ = read_folder(split_tree, name="p", classes=["emu", "cat", "dog"])
    assert ds.class_names == ("emu", "cat", "dog")
    assert ds.y_train.tolist() == [0] * 2 + [1] * 3 + [2] * 12
    assert ds.x_train[0, 0, 0, 0] == code(2, 0)
    assert_refused(tmp_path, ["--source", split_tree, "--name", "p", "--classes", "cat,dog"],
                   r"--classes must name every class folder .*folders not named: emu")
    assert_refused(tmp_path, ["--source", split_tree, "--name", "p", "--classes",
                              "cat,dog,emu,yak"], r"not a folder: yak")


def test_resize_makes_mixed_sizes_one_shape(tmp_path):
    root = build_tree(tmp_path / "m", {"train": [2, 2, 2], "test": [1, 1, 1]})
    (root / "train" / "dog" / "9.png").write_bytes(image_bytes(7, size=(12, 9)))
    result, out = prepare(["--source", root, "--name", "m", "--resize", "5,8"], tmp_path)
    assert result.exit_code == 0, result.output
    ds = load_dataset(out)
    assert ds.x_train.shape == (7, 5, 8, 3) and ds.x_test.shape == (3, 5, 8, 3)
    assert ds.x_train[4, 2, 3].tolist() == [7, 248, 21]   # one colour survives bilinear resizing


def test_order_labels_puts_the_kth_file_of_c_at_the_kth_occurrence_of_c(split_tree, tmp_path):
    sequence = np.array([1, 0, 1, 2, 1, 1, 0, 1, 1, 1, 2, 1, 1, 1, 1, 0, 1])
    np.save(tmp_path / "order.npy", sequence)
    ds, described = read_folder(split_tree, name="p", order_labels=tmp_path / "order.npy")
    assert ds.y_train.tolist() == sequence.tolist()
    expected = [code(c, int((sequence[:i] == c).sum())) for i, c in enumerate(sequence)]
    assert ds.x_train[:, 0, 0, 0].tolist() == expected
    assert "in the order of" in described
    # the same through the CLI, from a CSV column and from a torch-style .pt key
    (tmp_path / "order.csv").write_text("id,y\n" + "".join(f"{i},{v}\n" for i, v in
                                                            enumerate(sequence)))
    result, out = prepare(["--source", split_tree, "--name", "p", "--order-labels",
                           f"{tmp_path}/order.csv:y"], tmp_path)
    assert result.exit_code == 0, result.output
    assert load_dataset(out).x_train[:, 0, 0, 0].tolist() == expected


def test_align_to_labels_is_the_inverse_of_the_readme_rule():
    rng = np.random.default_rng(0)
    sequence = rng.permutation(np.repeat(np.arange(4), [5, 3, 7, 1]))
    position = align_to_labels([5, 3, 7, 1], sequence, where="s", folder="f",
                               class_names="abcd")
    folder_class = np.repeat(np.arange(4), [5, 3, 7, 1])
    folder_k = np.concatenate([np.arange(n) for n in (5, 3, 7, 1)])
    for j, p in enumerate(position):
        c, k = folder_class[j], folder_k[j]
        assert sequence[p] == c and p == np.flatnonzero(sequence == c)[k]


def test_natural_key_orders_numbers_as_numbers():
    names = ["10.png", "2.png", "1.png", "a10", "a9", "0042.jpg", "7.jpg"]
    assert sorted(names, key=natural_key) == ["1.png", "2.png", "7.jpg", "10.png", "0042.jpg",
                                              "a9", "a10"]


# --- every bad input: one line naming the file, exit 2, no output -----------------------------


def test_empty_class_folder(tmp_path):
    root = build_tree(tmp_path / "t", {"train": [2, 2, 2], "test": [1, 1, 1]})
    (root / "test" / "dog" / "0.png").unlink()
    assert_refused(tmp_path, ["--source", root, "--name", "t"],
                   r"class folder .*t/test/dog is empty")


def test_empty_class_folder_in_a_tar_has_only_a_directory_member(tmp_path):
    archive = tmp_path / "t.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("train/cat/0.png", "train/dog/0.png", "test/cat/0.png"):
            data = image_bytes(1)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        folder = tarfile.TarInfo("test/dog")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
    assert_refused(tmp_path, ["--source", archive, "--name", "t"],
                   r"class folder .*t\.tar:test/dog is empty")


def test_non_image_file(tmp_path):
    root = build_tree(tmp_path / "t", {"train": [2, 2, 2], "test": [1, 1, 1]})
    (root / "train" / "dog" / "notes.txt").write_text("not an image")
    assert_refused(tmp_path, ["--source", root, "--name", "t"],
                   r"t/train/dog/notes\.txt is not an image file")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image(tmp_path, fmt):
    root = build_tree(tmp_path / "t", {"train": [2, 2, 2], "test": [1, 1, 1]})
    data = image_bytes(5, size=(40, 30), fmt=fmt)
    (root / "train" / "emu" / "1.png").write_bytes(data[: len(data) // 2])
    assert_refused(tmp_path, ["--source", root, "--name", "t"],
                   r"t/train/emu/1\.png: cannot decode the image, truncated or corrupt")


def test_mixed_sizes_without_resize(tmp_path):
    root = build_tree(tmp_path / "t", {"train": [2, 2, 2], "test": [1, 1, 1]})
    (root / "test" / "emu" / "0.png").write_bytes(image_bytes(3, size=(7, 4)))
    assert_refused(tmp_path, ["--source", root, "--name", "t"],
                   r"t/test/emu/0\.png is 4x7 \(HxW\) but .*t/train/cat/0\.png is 4x6; pass "
                   r"--resize H,W")


def test_mixed_modes_grey_and_rgb(tmp_path):
    root = build_tree(tmp_path / "t", {"train": [2, 2, 2], "test": [1, 1, 1]})
    (root / "train" / "dog" / "1.png").write_bytes(image_bytes(3, mode="L"))
    assert_refused(tmp_path, ["--source", root, "--name", "t", "--resize", "4,6"],
                   r"t/train/dog/1\.png is grey \(L\) but .*t/train/cat/0\.png is colour \(RGB\)")


def test_alpha_channel_is_refused(tmp_path):
    root = build_tree(tmp_path / "t", {"train": [2, 2, 2], "test": [1, 1, 1]})
    (root / "train" / "dog" / "1.png").write_bytes(image_bytes(3, mode="RGBA"))
    assert_refused(tmp_path, ["--source", root, "--name", "t"],
                   r"t/train/dog/1\.png: unsupported image mode RGBA")


def test_train_and_test_class_sets_differ(tmp_path):
    root = build_tree(tmp_path / "t", {"train": [2, 2, 2], "test": [1, 1]})
    assert_refused(tmp_path, ["--source", root, "--name", "t"],
                   r"train/ and test/ have different class folders \(only in train/: emu\)")


def test_train_without_test_and_loose_files(tmp_path):
    root = build_tree(tmp_path / "t", {"train": [2, 2, 2]})
    assert_refused(tmp_path, ["--source", root, "--name", "t"], r"has train/ but no test/")
    root = build_tree(tmp_path / "u", {"train": [2, 2, 2], "test": [1, 1, 1]})
    (root / "train" / "labels.csv").write_text("x")
    assert_refused(tmp_path, ["--source", root, "--name", "u"],
                   r"u/train/labels\.csv is not inside a class folder")


def _tar_with(tmp_path, name, *, kind="file", target=""):
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        for member in ("train/cat/0.png", "train/dog/0.png", "test/cat/0.png", "test/dog/0.png"):
            data = image_bytes(1)
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo(name)
        if kind == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        else:
            info.size = 3
            tar.addfile(info, io.BytesIO(b"bad"))
    return archive


@pytest.mark.parametrize("name,pattern", [
    ("../outside.png", r"member '\.\./outside\.png' escapes the archive's folder"),
    ("train/cat/../../../x.png", r"member .* escapes the archive.s folder"),
    ("/etc/passwd", r"member '/etc/passwd' has an absolute path"),
])
def test_tar_paths_that_escape_are_refused(tmp_path, name, pattern):
    assert_refused(tmp_path, ["--source", _tar_with(tmp_path, name), "--name", "t"],
                   r"evil\.tar: " + pattern)
    assert not (tmp_path.parent / "outside.png").exists()


def test_tar_links_are_refused(tmp_path):
    archive = _tar_with(tmp_path, "train/cat/1.png", kind="symlink", target="/etc/passwd")
    assert_refused(tmp_path, ["--source", archive, "--name", "t"],
                   r"evil\.tar: member 'train/cat/1\.png' is a link or a device")


def test_zip_paths_that_escape_are_refused(tmp_path):
    root = build_tree(tmp_path / "t", {"train": [1, 1], "test": [1, 1]})
    archive = pack(root, tmp_path / "evil.zip")
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr("../../escape.png", image_bytes(1))
    assert_refused(tmp_path, ["--source", archive, "--name", "t"],
                   r"evil\.zip: member '\.\./\.\./escape\.png' escapes")


def test_decompression_bombs_and_oversized_members_are_refused(tmp_path, monkeypatch):
    import PIL.Image

    import noisylab.data.archives as archives

    root = build_tree(tmp_path / "t", {"train": [1, 1], "test": [1, 1]})
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 10)     # 6x4 = 24 > 2 x 10 pixels
    assert_refused(tmp_path, ["--source", root, "--name", "t"],
                   r"t/train/cat/0\.png: refusing a decompression bomb")
    monkeypatch.undo()
    archive = pack(root, tmp_path / "big.zip")
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 50)
    assert_refused(tmp_path, ["--source", archive, "--name", "t"],
                   r"big\.zip: member 'test/cat/0\.png' is \d+ bytes, more than the 50")


def test_corrupt_archives(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"PK\3\4 not really")
    assert_refused(tmp_path, ["--source", tmp_path / "bad.zip", "--name", "t"],
                   r"bad\.zip: not a readable zip archive")
    root = build_tree(tmp_path / "t", {"train": [2, 2], "test": [1, 1]})
    data = pack(root, tmp_path / "whole.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    assert_refused(tmp_path, ["--source", tmp_path / "cut.tar.gz", "--name", "t"],
                   r"cut\.tar\.gz: truncated or corrupt tar archive")


def test_label_file_of_the_wrong_length_or_counts(split_tree, tmp_path):
    np.save(tmp_path / "short.npy", np.zeros(16, dtype=int))
    assert_refused(tmp_path, ["--source", split_tree, "--name", "p", "--order-labels",
                              tmp_path / "short.npy"],
                   r"--order-labels .*short\.npy has 16 labels but .*pets/train holds 17 "
                   r"training images")
    np.save(tmp_path / "counts.npy", np.array([0] * 4 + [1] * 11 + [2] * 2))
    assert_refused(tmp_path, ["--source", split_tree, "--name", "p", "--order-labels",
                              tmp_path / "counts.npy"],
                   r"counts\.npy has 4 labels 0 but the class folder 'cat' \(class 0\) holds 3")
    np.save(tmp_path / "range.npy", np.array([0] * 16 + [5]))
    assert_refused(tmp_path, ["--source", split_tree, "--name", "p", "--order-labels",
                              tmp_path / "range.npy"], r"label 5 at index 16, out of range")


def test_source_and_name_problems(tmp_path):
    assert_refused(tmp_path, ["--source", tmp_path / "nope", "--name", "t"],
                   r"--source .*nope does not exist")
    (tmp_path / "x.rar").write_bytes(b"x")
    assert_refused(tmp_path, ["--source", tmp_path / "x.rar", "--name", "t"],
                   r"must be a folder or a \.tar, \.tar\.gz, \.tgz, \.zip archive")
    root = build_tree(tmp_path / "t", {"train": [1, 1], "test": [1, 1]})
    assert_refused(tmp_path, ["--source", root, "--name", "../x"], r"--name must be letters")
    one = build_tree(tmp_path / "one", {"train": [2], "test": [1]})
    assert_refused(tmp_path, ["--source", one, "--name", "o"],
                   r"needs at least 2 class folders, found 1: cat")


def test_folder_options_belong_to_folder_only(tmp_path):
    assert_refused(tmp_path, ["--resize", "4,4"], r"needs --source")
    result = CliRunner().invoke(cli, ["data", "prepare", "mnist", "--resize", "4,4"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: --resize is an option of `noisylab data prepare "
                                     "folder` only, not of mnist")
    root = build_tree(tmp_path / "t", {"train": [1, 1], "test": [1, 1]})
    assert_refused(tmp_path, ["--source", root], r"needs --name NAME")
    assert_refused(tmp_path, ["--source", root, "--name", "t", "--resize", "4x"],
                   r"--resize must be H,W \(two integers >= 1\), got '4x'")


def test_decoding_errors_report_the_first_bad_file_in_order_with_threads(tmp_path):
    root = build_tree(tmp_path / "t", {"train": [300, 300, 300], "test": [1, 1, 1]})
    for k in (250, 20):
        (root / "train" / "dog" / f"{k}.png").write_text("x")
    with open_tree(root) as tree:
        layout = find_layout(tree)
        assert [len(m) for m in layout.files["train"]] == [300, 300, 300]
    with pytest.raises(NoisylabError, match=r"train/dog/20\.png is not an image"):
        read_folder(root, name="t", workers=4)


@pytest.fixture(scope="module")
def jpeg_cifar10(shared_datasets, tmp_path_factory):
    """The shared JPEG copy prepared in CIFAR-10N order (about a minute on 2 busy cores)."""
    tar = shared_datasets / "cifar10-jpeg" / "cifar10-jpeg.tar"
    labels = shared_datasets / "cifar10n" / "CIFAR-10_human.pt"
    out = tmp_path_factory.mktemp("jpeg") / "cifar10.h5"
    result = CliRunner().invoke(cli, ["data", "prepare", "folder", "--source", str(tar),
                                      "--name", "cifar10", "--order-labels",
                                      f"{labels}:clean_label", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_the_shared_jpeg_copy_prepared_in_cifar10n_order(shared_datasets, jpeg_cifar10):
    """The issue's facts: counts, shapes, labels = clean_label, channel means, index 0."""
    from noisylab.labelfiles import read_labels

    tar = shared_datasets / "cifar10-jpeg" / "cifar10-jpeg.tar"
    labels = shared_datasets / "cifar10n" / "CIFAR-10_human.pt"
    ds = load_dataset(jpeg_cifar10)
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert ds.x_train.dtype == np.uint8
    assert ds.class_names == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                              "horse", "ship", "truck")
    assert np.bincount(ds.y_train).tolist() == [5000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    clean, _ = read_labels(f"{labels}:clean_label")
    assert np.array_equal(ds.y_train, clean)
    means = ds.x_train.reshape(-1, 3).mean(axis=0) / 255
    assert means == pytest.approx([0.4913, 0.4821, 0.4465], abs=1e-3)
    with tarfile.open(tar) as t:
        def pixels(name):
            return np.asarray(Image.open(io.BytesIO(t.extractfile(name).read())))
        assert np.array_equal(ds.x_train[0], pixels("train/frog/0000.jpg"))
        assert np.array_equal(ds.x_train[1], pixels("train/truck/0000.jpg"))
        assert np.array_equal(ds.x_train[29], pixels("train/airplane/0000.jpg"))
        assert np.array_equal(ds.x_train[49999], pixels("train/automobile/4999.jpg"))
        assert np.array_equal(ds.x_test[0], pixels("test/airplane/0000.jpg"))


@pytest.mark.slow
@pytest.mark.parametrize("key,rate,changed", [("worse_label", "0.4021", 20104),
                                              ("aggre_label", "0.0901", 4505),
                                              ("random_label1", "0.1723", 8617)])
def test_human_noise_on_the_prepared_copy_reports_the_cifar10n_rates(
        shared_datasets, jpeg_cifar10, tmp_path, key, rate, changed):
    labels = shared_datasets / "cifar10n" / "CIFAR-10_human.pt"
    result = CliRunner().invoke(cli, ["inject", "--dataset", str(jpeg_cifar10), "--noise",
                                      "human", "--human-labels", f"{labels}:{key}", "--out",
                                      str(tmp_path / "h.npz")])
    assert result.exit_code == 0, result.output
    assert f"realized rate: {rate} ({changed} of 50000 labels changed)" in result.output


@pytest.mark.slow
def test_human_labels_whose_clean_label_disagrees_are_refused(shared_datasets, jpeg_cifar10,
                                                               tmp_path):
    from noisylab.labelfiles import read_label_table

    table = read_label_table(shared_datasets / "cifar10n" / "CIFAR-10_human.pt")
    shifted = {k: np.roll(v, 1) for k, v in table.items()}      # one position out of step
    np.savez(tmp_path / "shifted.npz", **shifted)
    result = CliRunner().invoke(cli, ["inject", "--dataset", str(jpeg_cifar10), "--noise",
                                      "human", "--human-labels",
                                      f"{tmp_path}/shifted.npz:worse_label", "--out",
                                      str(tmp_path / "h.npz")])
    assert result.exit_code == 2
    assert "its clean_label differs from the dataset's training labels at" in result.stderr
    assert not (tmp_path / "h.npz").exists()
