"""`noisylab data prepare` and `noisylab data info` through the command line: output, and user
errors as one line on stderr with exit status 2 and no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from _data_fixtures import IDX_NAMES, idx_source, write_idx_folder
from click.testing import CliRunner

from noisylab.cli import main
from noisylab.data.sources import SOURCES


def run(*args):
    return CliRunner().invoke(main, list(args))


def assert_user_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture
def raw_mnist(tmp_path, monkeypatch):
    """Fixture IDX files, with their checksums injected into the source table."""
    folder = tmp_path / "raw"
    write_idx_folder(folder)
    monkeypatch.setitem(SOURCES, "mnist", idx_source(folder))
    monkeypatch.chdir(tmp_path)
    return folder


def test_prepare_then_info(raw_mnist, tmp_path):
    result = run("data", "prepare", "mnist", "--source", str(raw_mnist))
    assert result.exit_code == 0, result.output
    assert "wrote data/mnist.h5" in result.stdout and result.stderr == ""
    assert (tmp_path / "data" / "mnist.h5").is_file()
    info = run("data", "info", "mnist")
    assert info.exit_code == 0, info.output
    assert "images (40, 6, 5, 1) uint8" in info.stdout and "labels (20,) int64" in info.stdout
    assert "per-class counts" in info.stdout
    info_path = run("data", "info", "data/mnist.h5")
    assert info_path.stdout == info.stdout


def test_prepare_out_option(raw_mnist, tmp_path):
    result = run("data", "prepare", "mnist", "--source", str(raw_mnist), "--out", "x/y.h5")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x" / "y.h5").is_file() and not (tmp_path / "data").exists()


def test_info_digits():
    result = run("data", "info", "digits")
    assert result.exit_code == 0
    assert "images (1437, 8, 8, 1) uint8" in result.stdout and "total" in result.stdout


def test_prepare_checksum_error(raw_mnist, tmp_path):
    (raw_mnist / IDX_NAMES["train_images"]).write_bytes(b"nope")
    line = assert_user_error(run("data", "prepare", "mnist", "--source", str(raw_mnist)),
                             "checksum mismatch", "train-images-idx3-ubyte.gz", "expected md5")
    assert "got " in line
    assert not (tmp_path / "data" / "mnist.h5").exists()


def test_prepare_unknown_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_user_error(run("data", "prepare", "svhn"), "cannot prepare 'svhn'", "cifar10")


def test_info_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_user_error(run("data", "info", "mnist"), "noisylab data prepare mnist")
    assert_user_error(run("data", "info", "nope"), "unknown dataset 'nope'")
    (tmp_path / "bad.h5").write_text("not hdf5")
    assert_user_error(run("data", "info", "bad.h5"), "not an HDF5 file")


def test_offline_download_message(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_idx_folder(tmp_path / "raw")
    monkeypatch.setitem(SOURCES, "mnist", idx_source(tmp_path / "raw",
                                                     mirrors=(f"http://127.0.0.1:{port}/",)))
    monkeypatch.chdir(tmp_path)
    assert_user_error(run("data", "prepare", "mnist"), "offline", "--source")
    assert not (tmp_path / "data" / "mnist.h5").exists()


def test_real_subprocess_exit_status(tmp_path):
    """The installed entry point: exit 2 and one line on stderr, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "noisylab", "data", "info", str(tmp_path / "missing.h5")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("Error: no such file")
