"""`load_dataset`: the built-in digits, name resolution, both HDF5 layouts, and a clear error for
each kind of bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from noisylab.data import (
    Dataset,
    describe_dataset,
    load_dataset,
    load_digits,
    save_dataset,
)
from noisylab.errors import NoisylabError


def write_h5(path: Path, arrays: dict, attrs: dict | None = None) -> Path:
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
    return path


def split_arrays(n_train=30, n_test=10, shape=(4, 4, 1), k=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train/images": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "train/labels": np.arange(n_train) % k,
        "test/images": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "test/labels": np.arange(n_test) % k,
    }


NAMES = {"name": "tiny", "class_names": json.dumps(["a", "b", "c"]), "source": "made here"}


# --- digits --------------------------------------------------------------------------------


def test_digits_shapes_values_and_split():
    ds = load_dataset("digits")
    assert isinstance(ds, Dataset) and ds.name == "digits"
    assert len(ds.y_train) + len(ds.y_test) == 1797 and len(ds.y_test) == 360
    assert ds.x_train.dtype == np.uint8 and ds.input_shape == (8, 8, 1)
    assert ds.x_train.max() == 255 and ds.x_train.min() == 0  # 16 -> 255
    assert ds.num_classes == 10 and ds.y_train.dtype == np.int64
    assert ds.split == {"kind": "stratified", "test_size": 0.2, "seed": 0}
    # stratified: every class keeps about 20% in the test split
    frac = np.bincount(ds.y_test, minlength=10) / (
        np.bincount(ds.y_test, minlength=10) + np.bincount(ds.y_train, minlength=10)
    )
    assert np.all(np.abs(frac - 0.2) < 0.02)


def test_digits_split_is_seeded():
    a, b, c = load_digits(seed=1), load_digits(seed=1), load_digits(seed=2)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_test, c.x_test)
    assert len(load_digits(test_size=0.5).y_test) == 899
    assert len(load_digits(test_size=np.float32(0.25)).y_test) == 450
    assert len(load_digits(test_size=np.int64(100)).y_test) == 100


def test_dataset_is_frozen():
    ds = load_dataset("digits")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"


# --- HDF5 layouts and name resolution ------------------------------------------------------


def test_split_layout(tmp_path):
    arrays = split_arrays()
    ds = load_dataset(write_h5(tmp_path / "t.h5", arrays, NAMES))
    assert ds.name == "tiny" and ds.class_names == ("a", "b", "c") and ds.split == {"kind": "given"}
    np.testing.assert_array_equal(ds.x_train, arrays["train/images"])
    assert ds.y_train.dtype == np.int64 and ds.input_shape == (4, 4, 1)


def test_split_layout_without_attributes_names_classes_by_index(tmp_path):
    ds = load_dataset(write_h5(tmp_path / "bare.h5", split_arrays(k=4)))
    assert ds.name == "bare" and ds.class_names == ("0", "1", "2", "3")


def test_images_without_channel_axis_get_one(tmp_path):
    arrays = split_arrays(shape=(5, 6))
    ds = load_dataset(write_h5(tmp_path / "t.h5", arrays, NAMES))
    assert ds.x_train.shape == (30, 5, 6, 1) and ds.x_test.shape == (10, 5, 6, 1)


def test_flat_layout_makes_a_recorded_stratified_split(tmp_path):
    """The blog's MNIST.h5 layout: root images (N, 28, 28, 1) and labels (N,)."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20).astype(np.uint8)
    images = rng.integers(0, 256, (200, 28, 28, 1), dtype=np.uint8)
    images[:, 0, 0, 0] = labels
    path = write_h5(tmp_path / "MNIST.h5", {"images": images, "labels": labels})
    ds = load_dataset(path, test_size=0.25, seed=3)
    assert ds.split == {"kind": "stratified", "test_size": 0.25, "seed": 3}
    assert len(ds.y_test) == 50 and np.all(np.bincount(ds.y_test) == 5)
    np.testing.assert_array_equal(ds.x_train[:, 0, 0, 0], ds.y_train)  # pairs kept together
    again = load_dataset(path, test_size=0.25, seed=3)
    np.testing.assert_array_equal(ds.y_test, again.y_test)
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    assert not np.array_equal(load_dataset(path, test_size=0.25, seed=4).x_test, ds.x_test)
    assert ds.name == "MNIST" and ds.num_classes == 10


def test_flat_layout_split_that_cannot_be_stratified(tmp_path):
    labels = np.array([0, 0, 0, 1])  # class 1 has a single member
    path = write_h5(tmp_path / "f.h5", {"images": np.zeros((4, 2, 2), np.uint8), "labels": labels})
    with pytest.raises(NoisylabError, match="cannot make a stratified split"):
        load_dataset(path)


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -1, True, "0.2"])
def test_flat_layout_bad_test_size(tmp_path, bad):
    path = write_h5(tmp_path / "f.h5", {"images": np.zeros((20, 2, 2), np.uint8),
                                        "labels": np.arange(20) % 2})
    with pytest.raises(NoisylabError, match="test_size must be"):
        load_dataset(path, test_size=bad)


def test_bare_name_resolves_in_data_dir(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    write_h5(tmp_path / "data" / "mnist.h5", split_arrays(), NAMES)
    monkeypatch.chdir(tmp_path)
    assert load_dataset("mnist").name == "tiny"
    write_h5(tmp_path / "elsewhere.h5", split_arrays(), {"name": "custom"})
    assert load_dataset("elsewhere", data_dir=tmp_path).name == "custom"


def test_missing_prepared_name_says_how_to_prepare_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoisylabError, match=r"data/cifar10.h5 does not exist; create it with "
                       r"`noisylab data prepare cifar10`"):
        load_dataset("cifar10")


def test_unknown_name_lists_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoisylabError, match="unknown dataset 'mnsit'") as info:
        load_dataset("mnsit")
    assert "digits" in str(info.value) and "fashion-mnist" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(NoisylabError, match="no such file: .*nope.h5; create it with "
                       "`noisylab data prepare NAME`"):
        load_dataset(str(tmp_path / "nope.h5"))


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(NoisylabError, match="is a folder"):
        load_dataset(tmp_path)


def test_not_hdf5(tmp_path):
    (tmp_path / "fake.h5").write_text("images,labels\n1,2\n")
    with pytest.raises(NoisylabError, match="fake.h5 is not an HDF5 file"):
        load_dataset(str(tmp_path / "fake.h5"))


# --- bad contents: one clear error each ----------------------------------------------------


def test_missing_keys_lists_the_keys_that_exist(tmp_path):
    path = write_h5(tmp_path / "k.h5", {"x_train": np.zeros((2, 2, 2), np.uint8),
                                        "meta/y": np.zeros(2, np.int64)})
    with pytest.raises(NoisylabError, match=r"missing /images, /labels; the file has: "
                       r"/meta/y, /x_train"):
        load_dataset(path)


def test_missing_split_key(tmp_path):
    arrays = split_arrays()
    del arrays["test/labels"]
    with pytest.raises(NoisylabError, match=r"missing /test/labels; the file has: .*/test/images"):
        load_dataset(write_h5(tmp_path / "k.h5", arrays))


def test_group_where_an_array_belongs(tmp_path):
    path = write_h5(tmp_path / "g.h5", {"images/x": np.zeros((2, 2, 2), np.uint8),
                                        "labels": np.zeros(2, np.int64)})
    with pytest.raises(NoisylabError, match="/images is a group"):
        load_dataset(path)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("train/images", np.zeros((30, 4, 4, 1), np.float32), "/train/images has dtype float32, "
         "expected uint8"),
        ("test/images", np.zeros((10, 16), np.uint8), r"/test/images has shape \(10, 16\), "
         "expected"),
        ("train/images", np.zeros((30, 4, 4, 1, 1), np.uint8), "/train/images has shape"),
        ("train/labels", np.zeros(30, np.float64), "/train/labels has dtype float64, expected "
         "integers"),
        ("test/labels", np.zeros((10, 3), np.int64), r"/test/labels has shape \(10, 3\)"),
        ("train/labels", np.full(30, -1), "/train/labels has a negative label -1 at index 0"),
        ("test/labels", np.array([0, 1, 2, 3, 0, 1, 2, 0, 1, 2]), "/test/labels has label 3 at "
         r"index 3, out of range for 3 classes \(0..2\)"),
        ("test/images", np.zeros((0, 4, 4, 1), np.uint8), "/test/images is empty"),
        ("train/labels", np.zeros(29, np.int64), "/train/images has 30 images but /train/labels "
         "has 29 labels"),
        ("test/images", np.zeros((10, 5, 5, 1), np.uint8), r"train images are \(4, 4, 1\) but test "
         r"images are \(5, 5, 1\)"),
    ],
)
def test_bad_contents(tmp_path, key, value, match):
    arrays = split_arrays()
    arrays[key] = value
    if key == "test/images" and len(value) == 0:
        arrays["test/labels"] = np.zeros(0, np.int64)
    path = write_h5(tmp_path / "bad.h5", arrays, NAMES)
    with pytest.raises(NoisylabError, match=match) as info:
        load_dataset(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_bad_flat_contents(tmp_path):
    path = write_h5(tmp_path / "f.h5", {"images": np.zeros((5, 3, 3), np.uint8),
                                        "labels": np.array([0, 1, 0, 1, 2])},
                    {"class_names": json.dumps(["a", "b"])})
    with pytest.raises(NoisylabError, match=r"f.h5: /labels has label 2 at index 4, out of range"):
        load_dataset(path)


def test_bad_class_names_attribute(tmp_path):
    path = write_h5(tmp_path / "c.h5", split_arrays(), {"class_names": "a, b, c"})
    with pytest.raises(NoisylabError, match="class_names is not a JSON list"):
        load_dataset(path)


# --- writing -------------------------------------------------------------------------------


def test_save_round_trip(tmp_path):
    ds = load_dataset("digits")
    path = save_dataset(ds, tmp_path / "sub" / "digits.h5", source="sklearn")
    back = load_dataset(path)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(back, field), getattr(ds, field))
    assert back.class_names == ds.class_names and back.name == "digits"
    with h5py.File(path) as f:
        assert f.attrs["source"] == "sklearn"
        assert json.loads(f.attrs["class_names"]) == list(ds.class_names)
    assert sorted(p.name for p in path.parent.iterdir()) == ["digits.h5"]


def test_save_refuses_bad_labels_and_writes_nothing(tmp_path):
    ds = load_dataset("digits")
    bad = dataclasses.replace(ds, y_test=ds.y_test + 1)  # 9 -> 10
    with pytest.raises(NoisylabError, match="out of range"):
        save_dataset(bad, tmp_path / "d.h5")
    assert list(tmp_path.iterdir()) == []


def test_describe_lists_counts(tmp_path):
    path = write_h5(tmp_path / "t.h5", split_arrays(), NAMES)
    text = describe_dataset(str(path))
    assert "source:  made here" in text and "classes: 3: a, b, c" in text
    assert "images (30, 4, 4, 1) uint8" in text
    assert any(line.split() == ["0", "a", "10", "4"] for line in text.splitlines())
