"""Real data: the four official MNIST files in ../shared/datasets/mnist, prepared once per session.

The facts checked are those listed in ../shared/datasets/README.md. Skips when ../shared is absent.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from noisylab.data import load_dataset
from noisylab.data.prepare import prepare_dataset

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="session")
def real_mnist_h5(shared_datasets, tmp_path_factory):
    """``noisylab data prepare mnist --source ../shared/datasets/mnist`` into a temporary file."""
    out = tmp_path_factory.mktemp("real-mnist") / "mnist.h5"
    return prepare_dataset("mnist", source=shared_datasets / "mnist", out=out)


@pytest.fixture(scope="session")
def real_mnist(real_mnist_h5):
    return load_dataset(real_mnist_h5)


def test_shapes_and_dtypes(real_mnist_h5, real_mnist):
    with h5py.File(real_mnist_h5) as f:
        assert f["train/images"].shape == (60000, 28, 28, 1)
        assert f["test/images"].shape == (10000, 28, 28, 1)
        assert f["train/images"].dtype == np.uint8 and f["test/images"].dtype == np.uint8
        assert "f68b3c2dcbeaaa9fbdd348bbdeb94873" in f.attrs["source"]
    assert real_mnist.input_shape == (28, 28, 1) and real_mnist.num_classes == 10
    assert real_mnist.split == {"kind": "given"}


def test_per_class_counts(real_mnist):
    assert np.bincount(real_mnist.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(real_mnist.y_test, minlength=10).tolist() == TEST_COUNTS


def test_train_pixel_mean_and_std(real_mnist):
    # exact moments from the histogram of the 47 million uint8 values (in cache-sized chunks)
    pixels = real_mnist.x_train.reshape(-1)
    hist = sum(np.bincount(pixels[i:i + (1 << 22)], minlength=256)
               for i in range(0, pixels.size, 1 << 22))
    values = np.arange(256) / 255.0
    mean = (hist * values).sum() / hist.sum()
    std = np.sqrt((hist * (values - mean) ** 2).sum() / hist.sum())
    assert abs(mean - 0.1307) < 0.0005
    assert abs(std - 0.3081) < 0.0005


def test_info_on_real_mnist(real_mnist_h5):
    from click.testing import CliRunner

    from noisylab.cli import main

    result = CliRunner().invoke(main, ["data", "info", str(real_mnist_h5)])
    assert result.exit_code == 0, result.output
    assert "images (60000, 28, 28, 1) uint8" in result.output
    assert any(line.split() == ["1", "1", "6742", "1135"] for line in result.output.splitlines())
