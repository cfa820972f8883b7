"""`noisylab inject`: writes the archive, prints the rate and the matrix; user errors exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from noisylab.cli import main
from noisylab.noise import NOISE_KINDS, load_noisy


@pytest.fixture(scope="module")
def digits():
    from noisylab.data import load_dataset

    return load_dataset("digits")


def _run(*args):
    return CliRunner().invoke(main, ["inject", *map(str, args)])


def test_noise_choices_come_from_the_registry():
    result = CliRunner().invoke(main, ["inject", "--noise", "bogus", "--out", "x.npz"])
    assert result.exit_code == 2
    offered = result.output.split("'bogus' is not one of ")[1]
    assert [k.strip(" '.\n") for k in offered.replace(" or ", ", ").split(",")] == list(
        NOISE_KINDS)


def test_symmetric_writes_archive_and_prints_rate_and_matrix(tmp_path, digits):
    out = tmp_path / "noisy.npz"
    result = _run("--dataset", "digits", "--noise", "symmetric", "--level", 0.3, "--seed", 4,
                  "--out", out)
    assert result.exit_code == 0, result.output
    noisy, clean = load_noisy(out)
    n = digits.y_train.size
    assert np.array_equal(clean, digits.y_train)
    assert noisy.corrupted.sum() == round(0.3 * n)
    assert np.array_equal(noisy.corrupted, noisy.labels != clean)
    assert f"realized rate: {noisy.corrupted.mean():.4f} ({round(0.3 * n)} of {n}" in result.output
    assert "true\\noisy" in result.output
    first_row = next(line for line in result.output.splitlines() if line.strip().startswith("0 "))
    assert [float(v) for v in first_row.split()[1:]] == pytest.approx(noisy.transition[0],
                                                                      abs=5e-4)
    assert noisy.spec["seed"] == 4 and noisy.spec["dataset"] == "digits"
    again = tmp_path / "again.npz"
    _run("--noise", "symmetric", "--level", 0.3, "--seed", 4, "--out", again)
    assert np.array_equal(load_noisy(again)[0].labels, noisy.labels)


@pytest.mark.parametrize("args, check", [
    (["--noise", "flip", "--level", 0.1, "--mapping", "3:8,8:3"],
     lambda noisy, clean: set(clean[noisy.corrupted]) <= {3, 8}),
    (["--noise", "asymmetric", "--level", 0.4, "--preset", "mnist"],
     lambda noisy, clean: noisy.spec["preset"] == "mnist" and noisy.labels[clean == 2][
         noisy.corrupted[clean == 2]].tolist() == [7] * noisy.corrupted[clean == 2].sum()),
    (["--noise", "confusion", "--level", 0.5, "--trace", 7.0, "--matrix-seed", 3],
     lambda noisy, clean: noisy.spec["matrix_seed"] == 3
     and np.trace(noisy.spec["matrix"]) == pytest.approx(7.0)),
    (["--noise", "random", "--level", 0.5, "--stratify"],
     lambda noisy, clean: noisy.spec["stratify"] is True),
    (["--noise", "concentrated", "--level", 0.25, "--clusters", 3],
     lambda noisy, clean: noisy.spec["features"].startswith("pca")
     and np.all(noisy.labels[noisy.corrupted] == (clean[noisy.corrupted] + 5) % 10)),
])
def test_kind_options_reach_the_library(tmp_path, args, check):
    out = tmp_path / "noisy.npz"
    result = _run(*args, "--out", out)
    assert result.exit_code == 0, result.output
    noisy, clean = load_noisy(out)
    assert noisy.corrupted.any()
    assert check(noisy, clean)


def test_file_kind_and_features_file(tmp_path, digits):
    n = digits.y_train.size
    noisy_labels = digits.y_train.copy()
    noisy_labels[:10] = (noisy_labels[:10] + 1) % 10
    np.save(tmp_path / "human.npy", noisy_labels)
    result = _run("--noise", "file", "--file", tmp_path / "human.npy", "--out", tmp_path / "f.npz")
    assert result.exit_code == 0, result.output
    assert f"(10 of {n} labels changed)" in result.output
    features = np.random.default_rng(0).normal(size=(n, 4))
    np.save(tmp_path / "feat.npy", features)
    result = _run("--noise", "concentrated", "--level", 0.2, "--features", tmp_path / "feat.npy",
                  "--out", tmp_path / "c.npz")
    assert result.exit_code == 0, result.output
    spec = load_noisy(tmp_path / "c.npz")[0].spec
    assert spec["features"] == "array" and spec["feature_shape"] == [n, 4]
    assert json.loads(json.dumps(spec)) == spec


@pytest.mark.parametrize("args, message", [
    (["--noise", "symmetric", "--level", 1.3], "level must be in [0, 1], got 1.3"),
    (["--noise", "symmetric", "--level", "nan"],
     "level must be a finite number in [0, 1], got nan"),
    (["--noise", "symmetric"], "needs a level in [0, 1], got None"),
    (["--noise", "flip", "--level", 0.1, "--mapping", "4:4"], "mapping sends class 4 to itself"),
    (["--noise", "flip", "--level", 0.1, "--mapping", "4:12"], "unknown class 12"),
    (["--noise", "asymmetric", "--level", 0.1, "--preset", "svhn"], "unknown preset 'svhn'"),
    (["--noise", "confusion", "--level", 0.1, "--matrix", "0.5,0.5;0.5,0.4"],
     "must be 10x10 for 10 classes, got 2x2"),
    (["--noise", "confusion", "--level", 0.1, "--stratify", "--trace", 5],
     "does not take option 'stratify'"),
    (["--noise", "concentrated", "--level", 0.1, "--clusters", 1000],
     "clusters=1000 is more than the"),
    (["--noise", "concentrated", "--level", 0.1, "--features", "feat.txt"],
     "--features must be 'pca' or a .npy file"),
    (["--noise", "file", "--file", "missing.npy"], "label file missing.npy does not exist"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, args, message):
    result = _run(*args, "--out", tmp_path / "noisy.npz")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert message in lines[0]
    assert not (tmp_path / "noisy.npz").exists()


def test_bad_matrix_file_names_the_row(tmp_path):
    matrix = np.eye(10)
    matrix[6, 0] = 0.5
    np.savetxt(tmp_path / "p.csv", matrix, delimiter=",")
    result = _run("--noise", "confusion", "--level", 0.2, "--matrix", tmp_path / "p.csv",
                  "--out", tmp_path / "noisy.npz")
    assert result.exit_code == 2
    assert "row 6 sums to 1.5" in result.stderr


def test_unknown_kind_and_missing_out_folder(tmp_path):
    result = _run("--noise", "gaussian", "--level", 0.1, "--out", tmp_path / "n.npz")
    assert result.exit_code == 2 and "gaussian" in result.stderr
    result = _run("--noise", "random", "--level", 0.1, "--out", tmp_path / "no" / "n.npz")
    assert result.exit_code == 2 and "output folder" in result.stderr
