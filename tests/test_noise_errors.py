"""Bad input to `inject`: each mistake raises NoisylabError naming the rule and the value."""

from __future__ import annotations

import numpy as np
import pytest

from noisylab.errors import NoisylabError
from noisylab.noise import inject, noise_matrix_from_trace

LABELS = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])


def _inject(labels=LABELS, *, kind="symmetric", level=0.2, num_classes=None, **options):
    return inject(labels, kind=kind, level=level, rng=np.random.default_rng(0),
                  num_classes=num_classes, **options)


@pytest.mark.parametrize("level, match", [
    (1.3, r"level must be in \[0, 1\], got 1.3"),
    (-0.1, r"level must be in \[0, 1\], got -0.1"),
    (float("nan"), r"level must be a finite number in \[0, 1\], got nan"),
    (float("inf"), r"level must be a finite number in \[0, 1\], got inf"),
    ("0.3", r"level must be a number in \[0, 1\], got '0.3'"),
    (True, r"level must be a number"),
    (None, r"needs a level in \[0, 1\], got None"),
])
def test_bad_level(level, match):
    with pytest.raises(NoisylabError, match=match):
        _inject(level=level)


@pytest.mark.parametrize("labels, num_classes, match", [
    (LABELS.reshape(2, 5), None, r"labels must be a 1-D array, got shape \(2, 5\)"),
    (LABELS.astype(float), None, r"labels must be integers, got dtype float64"),
    (LABELS.astype(bool), None, r"labels must be integers, got dtype bool"),
    (np.array(["a", "b"]), None, r"labels must be integers"),
    (np.array([0, -1, 2]), None, r"labels must be >= 0, got -1 at index 1"),
    (LABELS, 3, r"labels must be < num_classes=3, got 3 at index 3"),
    (np.array([], dtype=np.int64), None, r"num_classes is required when labels are empty"),
    (LABELS, 0, r"num_classes must be an integer >= 1, got 0"),
    (LABELS, 2.5, r"num_classes must be an integer >= 1, got 2.5"),
])
def test_bad_labels(labels, num_classes, match):
    with pytest.raises(NoisylabError, match=match):
        _inject(labels, num_classes=num_classes)


@pytest.mark.parametrize("kind, mapping, match", [
    ("flip", {1: 1}, r"mapping sends class 1 to itself"),
    ("flip", "0:1,2:2", r"mapping sends class 2 to itself"),
    ("flip", {0: 7}, r"mapping refers to unknown class 7; classes are 0..3"),
    ("flip", "9:0", r"unknown class 9"),
    ("flip", "0-1", r"mapping must look like '0:1,1:0'.*got item '0-1'"),
    ("flip", "0:1,0:2", r"mapping lists class 0 more than once"),
    ("flip", {}, r"mapping must map at least one class"),
    ("flip", {0.5: 1}, r"mapping classes must be integers, got 0.5"),
    ("asymmetric", {3: 3}, r"mapping sends class 3 to itself"),
    ("concentrated", "0:4", r"unknown class 4"),
])
def test_bad_mapping(kind, mapping, match):
    options = {"features": np.zeros((LABELS.size, 2))} if kind == "concentrated" else {}
    with pytest.raises(NoisylabError, match=match):
        _inject(kind=kind, mapping=mapping, **options)


def test_flip_partial_mapping_cannot_corrupt_more_than_its_classes():
    with pytest.raises(NoisylabError, match=r"cannot corrupt 5 labels: only 3 samples have a"):
        _inject(kind="flip", level=0.5, mapping="0:1")


@pytest.mark.parametrize("matrix, match", [
    (np.full((4, 4), 0.3), r"row 0 sums to 1.2"),
    (np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0.5, 0.4], [0, 0, 0, 1]]),
     r"rows must sum to 1 \(within 1e-06\); row 2 sums to 0.9"),
    (np.array([[1, 0, 0, 0], [0.5, 0.7, -0.2, 0], [0, 0, 1, 0], [0, 0, 0, 1]]),
     r"entries must be >= 0; row 1 has -0.2 in column 2"),
    (np.eye(3), r"must be 4x4 for 4 classes, got 3x3"),
    (np.ones((4, 3)) / 3, r"must be square, got shape \(4, 3\)"),
    (np.where(np.eye(4) > 0, np.nan, 0), r"row 0 has a non-finite entry"),
    ("1,0;0,1", r"must be 4x4 for 4 classes, got 2x2"),
    ("1,0;0", r"inline matrix rows have different lengths"),
    ("nope.csv", r"matrix file nope.csv does not exist"),
])
def test_bad_confusion_matrix(matrix, match):
    with pytest.raises(NoisylabError, match=match):
        _inject(kind="confusion", matrix=matrix)


def test_confusion_needs_exactly_one_source_and_a_sane_trace():
    with pytest.raises(NoisylabError, match=r"exactly one of matrix or trace"):
        _inject(kind="confusion")
    with pytest.raises(NoisylabError, match=r"exactly one of matrix or trace"):
        _inject(kind="confusion", matrix=np.eye(4), trace=3.0)
    with pytest.raises(NoisylabError,
                       match=r"trace \(for 4 classes\) must be in \[4e-05, 4\], got 5.0"):
        _inject(kind="confusion", trace=5.0)
    with pytest.raises(NoisylabError, match=r"a learnable matrix needs trace > 1, got 0.5"):
        noise_matrix_from_trace(4, 0.5, rng=np.random.default_rng(0), py=np.ones(4) / 4)
    with pytest.raises(NoisylabError, match=r"matrix_seed must be an integer >= 0"):
        _inject(kind="confusion", trace=3.0, matrix_seed=-1)


def test_concentrated_bad_features_and_clusters():
    with pytest.raises(NoisylabError, match=r"features must have one row per label: 9 rows for 10"):
        _inject(kind="concentrated", features=np.zeros((9, 2)))
    with pytest.raises(NoisylabError, match=r"features must be a 2-D \(n, d\) array, got shape"):
        _inject(kind="concentrated", features=np.zeros(10))
    with pytest.raises(NoisylabError, match=r"features must be finite"):
        _inject(kind="concentrated", features=np.full((10, 2), np.nan))
    with pytest.raises(NoisylabError, match=r"clusters=4 is more than the 3 samples of class 0"):
        _inject(kind="concentrated", features=np.zeros((10, 2)), clusters=4)
    with pytest.raises(NoisylabError, match=r"clusters must be an integer >= 1, got 0"):
        _inject(kind="concentrated", features=np.zeros((10, 2)), clusters=0)
    with pytest.raises(NoisylabError, match=r"features='pca' needs images"):
        _inject(kind="concentrated")
    with pytest.raises(NoisylabError, match=r"features='model' needs a trained CNN"):
        _inject(kind="concentrated", features="model")


@pytest.mark.parametrize("options, num_classes, match", [
    ({"preset": "svhn"}, None, r"unknown preset 'svhn'; known: cifar10, cifar100, mnist"),
    ({"preset": "mnist"}, None, r"preset 'mnist' uses class 8, but num_classes=4"),
    ({"preset": "cifar10"}, 9, r"preset 'cifar10' uses class 9, but num_classes=9"),
    ({"preset": "cifar100"}, 10, r"preset 'cifar100' uses class 99, but num_classes=10"),
    ({}, None, r"needs exactly one of preset or mapping"),
    ({"preset": "mnist", "mapping": "0:1"}, None, r"needs exactly one of preset or mapping"),
])
def test_bad_preset(options, num_classes, match):
    with pytest.raises(NoisylabError, match=match):
        _inject(kind="asymmetric", num_classes=num_classes, **options)


def test_unknown_kind_option_and_file_problems(tmp_path):
    with pytest.raises(NoisylabError, match=r"unknown noise kind 'gaussian'; known: random"):
        _inject(kind="gaussian")
    with pytest.raises(NoisylabError, match=r"kind 'random' does not take option 'mapping'"):
        _inject(kind="random", mapping="0:1")
    with pytest.raises(NoisylabError, match=r"stratify must be true or false, got 'yes'"):
        _inject(stratify="yes")
    with pytest.raises(NoisylabError, match=r"needs at least 2 classes, got num_classes=1"):
        _inject(np.zeros(5, dtype=int), level=0.5)
    with pytest.raises(NoisylabError, match=r"one entry per label: 3 for 10"):
        _inject(kind="file", noisy_labels=np.array([0, 1, 2]))
    with pytest.raises(NoisylabError, match=r"labels must be < num_classes=4, got 7"):
        _inject(kind="file", noisy_labels=np.full(10, 7))
    (tmp_path / "bad.csv").write_text("0\n1.5\n")
    with pytest.raises(NoisylabError, match=r"non-integer label 1.5 at index 1"):
        _inject(kind="file", file=tmp_path / "bad.csv")
    with pytest.raises(NoisylabError, match=r"label file .*x.json must be one of .npy, .npz, .csv"):
        (tmp_path / "x.json").write_text("[]")
        _inject(kind="file", file=tmp_path / "x.json")
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator"):
        inject(LABELS, kind="random", level=0.1, rng=0)
