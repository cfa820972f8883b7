"""`prepare_dataset` end to end on tiny fixture files in the real formats, and every way it refuses
bad input: a clear error and no output file (nor temporary file) left behind."""

from __future__ import annotations

import gzip
import http.server
import socket
import threading
from functools import partial
from pathlib import Path

import h5py
import numpy as np
import pytest
from _data_fixtures import (
    CIFAR_LAYOUT,
    IDX_NAMES,
    cifar_batch_bytes,
    cifar_members,
    cifar_source,
    idx_arrays,
    idx_source,
    write_cifar_folder,
    write_cifar_tarball,
    write_idx_folder,
    write_idx_gz,
)

from noisylab.data import load_dataset
from noisylab.data import prepare as prepare_module
from noisylab.data.prepare import prepare_dataset
from noisylab.data.sources import SOURCES
from noisylab.errors import NoisylabError


def only_output(folder: Path) -> list[str]:
    """Everything in the output folder, hidden temporaries included."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def refuse(name, source, sources, out, match):
    """Prepare must fail with a message matching ``match`` and leave the out folder empty."""
    with pytest.raises(NoisylabError, match=match) as info:
        prepare_dataset(name, source=source, out=out, sources=sources)
    assert only_output(out.parent) == [], "an output or temporary file was left behind"
    return str(info.value)


@pytest.fixture
def idx_dir(tmp_path):
    folder = tmp_path / "raw"
    arrays = write_idx_folder(folder)
    return folder, arrays


# --- IDX -----------------------------------------------------------------------------------


def test_prepare_idx_end_to_end(idx_dir, tmp_path):
    folder, arrays = idx_dir
    out = tmp_path / "out" / "mnist.h5"
    messages = []
    written = prepare_dataset(
        "mnist", source=folder, out=out, sources={"mnist": idx_source(folder)},
        log=messages.append,
    )
    assert written == out and only_output(out.parent) == ["mnist.h5"]
    assert any("wrote" in m for m in messages)
    with h5py.File(out) as f:
        assert f["train/images"].dtype == np.uint8 and f["train/images"].shape == (40, 6, 5, 1)
        assert f["test/images"].shape == (20, 6, 5, 1)
        assert f["train/labels"].dtype.kind in "iu"
        assert f.attrs["name"] == "mnist"
        assert "f68b3c2d" not in f.attrs["source"]  # the injected checksums are recorded
        assert "train-images-idx3-ubyte.gz md5=" in f.attrs["source"]
    ds = load_dataset(out)
    assert ds.name == "mnist" and ds.class_names == tuple(str(i) for i in range(10))
    assert ds.split == {"kind": "given"}
    np.testing.assert_array_equal(ds.x_train[..., 0], arrays["train_images"])
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
    assert ds.y_train.dtype == np.int64


def test_prepare_uses_class_names_of_the_source(tmp_path):
    folder = tmp_path / "raw"
    write_idx_folder(folder)
    out = tmp_path / "out" / "f.h5"
    prepare_dataset("fashion-mnist", source=folder, out=out,
                    sources={"fashion-mnist": idx_source(folder, "fashion-mnist")})
    assert load_dataset(out).class_names[9] == "Ankle boot"


def test_default_out_is_data_name_h5(idx_dir, tmp_path, monkeypatch):
    folder, _ = idx_dir
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(SOURCES, "kmnist", idx_source(folder, "kmnist"))
    assert prepare_dataset("kmnist", source=folder) == Path("data/kmnist.h5")
    assert load_dataset("kmnist").name == "kmnist"  # the bare name finds data/kmnist.h5


def test_checksum_mismatch_is_refused(idx_dir, tmp_path):
    folder, _ = idx_dir
    src = idx_source(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(b"\x00\x00\x08\x01" + (20).to_bytes(4, "big") + bytes(20))
    )
    out = tmp_path / "out" / "m.h5"
    message = refuse("mnist", folder, {"mnist": src}, out, "checksum mismatch")
    expected = next(f.md5 for f in src.files if f.filename == "t10k-labels-idx1-ubyte.gz")
    assert "t10k-labels-idx1-ubyte.gz" in message and expected in message
    assert f"got {prepare_module.raw.md5_hex((folder / IDX_NAMES['test_labels']).read_bytes())}" \
        in message


def test_official_checksums_refuse_fixture_files(idx_dir, tmp_path):
    folder, _ = idx_dir
    message = refuse("mnist", folder, None, tmp_path / "out" / "m.h5", "checksum mismatch")
    assert "f68b3c2dcbeaaa9fbdd348bbdeb94873" in message  # the real table is the default


def test_truncated_gzip_is_refused(idx_dir, tmp_path):
    folder, _ = idx_dir
    path = folder / IDX_NAMES["train_images"]
    path.write_bytes(path.read_bytes()[:-20])
    refuse("mnist", folder, {"mnist": idx_source(folder)}, tmp_path / "out" / "m.h5",
           r"train-images-idx3-ubyte.gz: truncated gzip")


def test_not_gzip_is_refused(idx_dir, tmp_path):
    folder, _ = idx_dir
    (folder / IDX_NAMES["train_labels"]).write_bytes(b"this is not gzip at all")
    refuse("mnist", folder, {"mnist": idx_source(folder)}, tmp_path / "out" / "m.h5",
           r"train-labels-idx1-ubyte.gz: not a valid gzip")


def test_wrong_idx_magic_is_refused(idx_dir, tmp_path):
    folder, arrays = idx_dir
    write_idx_gz(folder / IDX_NAMES["train_images"], arrays["train_images"], magic=0x0801_0203)
    message = refuse("mnist", folder, {"mnist": idx_source(folder)}, tmp_path / "out" / "m.h5",
                     "wrong IDX magic number")
    assert "train-images-idx3-ubyte.gz" in message and "0x00000803" in message


def test_labels_file_in_place_of_images_is_refused(idx_dir, tmp_path):
    folder, arrays = idx_dir
    write_idx_gz(folder / IDX_NAMES["test_images"], arrays["test_labels"])  # a valid IDX, 1-D
    refuse("mnist", folder, {"mnist": idx_source(folder)}, tmp_path / "out" / "m.h5",
           r"t10k-images-idx3-ubyte.gz: wrong IDX magic number 0x00000801 \(expected 0x00000803")


def test_idx_size_not_matching_header_is_refused(idx_dir, tmp_path):
    folder, arrays = idx_dir
    data = gzip.decompress((folder / IDX_NAMES["train_images"]).read_bytes())
    (folder / IDX_NAMES["train_images"]).write_bytes(gzip.compress(data[:-7]))
    refuse("mnist", folder, {"mnist": idx_source(folder)}, tmp_path / "out" / "m.h5",
           r"train-images-idx3-ubyte.gz: IDX data is \d+ bytes but the header")


def test_missing_file_is_refused(idx_dir, tmp_path):
    folder, _ = idx_dir
    src = idx_source(folder)
    (folder / IDX_NAMES["test_images"]).unlink()
    message = refuse("mnist", folder, {"mnist": src}, tmp_path / "out" / "m.h5", "missing file")
    assert "t10k-images-idx3-ubyte.gz" in message and str(folder) in message


def test_missing_source_folder_is_refused(tmp_path):
    refuse("mnist", tmp_path / "nowhere", None, tmp_path / "out" / "m.h5", "does not exist")


def test_label_out_of_range_is_refused(tmp_path):
    folder = tmp_path / "raw"
    arrays = idx_arrays()
    arrays["train_labels"][7] = 10
    write_idx_folder(folder, arrays)
    message = refuse("mnist", folder, {"mnist": idx_source(folder)}, tmp_path / "out" / "m.h5",
                     "out of range")
    assert "train-labels-idx1-ubyte.gz has label 10 at index 7" in message and "0..9" in message


def test_image_label_count_mismatch_is_refused(tmp_path):
    folder = tmp_path / "raw"
    arrays = idx_arrays()
    arrays["test_labels"] = arrays["test_labels"][:-1]
    write_idx_folder(folder, arrays)
    message = refuse("mnist", folder, {"mnist": idx_source(folder)}, tmp_path / "out" / "m.h5",
                     "count mismatch")
    assert "t10k-images-idx3-ubyte.gz has 20 images" in message
    assert "t10k-labels-idx1-ubyte.gz has 19 labels" in message


def test_unknown_name_lists_the_preparable_ones(tmp_path):
    message = refuse("mnits", None, None, tmp_path / "out" / "x.h5", "cannot prepare 'mnits'")
    assert "fashion-mnist" in message and "cifar100" in message
    refuse("digits", None, None, tmp_path / "out" / "x.h5", "built in")


def test_file_given_where_a_folder_is_needed(idx_dir, tmp_path):
    folder, _ = idx_dir
    refuse("mnist", folder / IDX_NAMES["train_images"], {"mnist": idx_source(folder)},
           tmp_path / "out" / "m.h5", "give the folder")


# --- atomic writes -------------------------------------------------------------------------


def test_interrupt_while_writing_leaves_nothing(idx_dir, tmp_path, monkeypatch):
    folder, _ = idx_dir
    calls = []
    original = h5py.Group.create_dataset

    def interrupted(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 3:  # train written, test half-written: Ctrl-C
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", interrupted)
    out = tmp_path / "out" / "m.h5"
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset("mnist", source=folder, out=out, sources={"mnist": idx_source(folder)})
    assert len(calls) == 3
    assert only_output(out.parent) == []


def test_error_keeps_an_existing_output_untouched(idx_dir, tmp_path):
    folder, _ = idx_dir
    out = tmp_path / "out" / "m.h5"
    sources = {"mnist": idx_source(folder)}
    prepare_dataset("mnist", source=folder, out=out, sources=sources)
    before = out.read_bytes()
    (folder / IDX_NAMES["train_images"]).write_bytes(b"garbage")
    with pytest.raises(NoisylabError, match="checksum mismatch"):
        prepare_dataset("mnist", source=folder, out=out, sources=sources)
    assert out.read_bytes() == before and only_output(out.parent) == ["m.h5"]


# --- CIFAR ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["cifar10", "cifar100"])
def test_prepare_cifar_tarball_end_to_end(kind, tmp_path):
    spec = CIFAR_LAYOUT[kind]
    tarball = write_cifar_tarball(tmp_path / "dl" / SOURCES[kind].files[0].filename, kind)
    out = tmp_path / "out" / f"{kind}.h5"
    prepare_dataset(kind, source=tarball, out=out,
                    sources={kind: cifar_source(kind, tarball=tarball)})
    ds = load_dataset(out)
    n_train = 12 * len(spec["train"])
    assert ds.x_train.shape == (n_train, 32, 32, 3) and ds.x_train.dtype == np.uint8
    assert ds.x_test.shape == (12, 32, 32, 3)
    assert ds.class_names == tuple(n.decode() for n in spec["names"])
    # the red channel of pixel (0, 0) carries the label: channel-first rows became HWC correctly
    np.testing.assert_array_equal(ds.x_train[:, 0, 0, 0], ds.y_train)
    np.testing.assert_array_equal(ds.x_test[:, 0, 0, 0], ds.y_test)


def test_prepare_cifar_from_folder_holding_the_tarball(tmp_path):
    tarball = write_cifar_tarball(tmp_path / "dl" / "cifar-10-python.tar.gz")
    out = tmp_path / "out" / "c.h5"
    prepare_dataset("cifar10", source=tmp_path / "dl", out=out,
                    sources={"cifar10": cifar_source("cifar10", tarball=tarball)})
    assert load_dataset(out).num_classes == 10


@pytest.mark.parametrize("point_at", ["parent", "folder"])
def test_prepare_cifar_extracted_folder(point_at, tmp_path):
    folder = write_cifar_folder(tmp_path / "dl", "cifar10")
    out = tmp_path / "out" / "c.h5"
    source = tmp_path / "dl" if point_at == "parent" else folder
    prepare_dataset("cifar10", source=source, out=out,
                    sources={"cifar10": cifar_source("cifar10", folder=folder)})
    assert len(load_dataset(out).y_train) == 60


def test_cifar_extracted_member_checksum_mismatch(tmp_path):
    folder = write_cifar_folder(tmp_path / "dl", "cifar10")
    src = cifar_source("cifar10", folder=folder)
    (folder / "data_batch_3").write_bytes((folder / "data_batch_3").read_bytes() + b"x")
    message = refuse("cifar10", folder, {"cifar10": src}, tmp_path / "out" / "c.h5",
                     "checksum mismatch")
    assert "data_batch_3" in message


def test_cifar_tarball_checksum_mismatch_with_official_table(tmp_path):
    tarball = write_cifar_tarball(tmp_path / "dl" / "cifar-10-python.tar.gz")
    message = refuse("cifar10", tarball, None, tmp_path / "out" / "c.h5", "checksum mismatch")
    assert "c58f30108f718f92721af3b95e74349a" in message and "cifar-10-python.tar.gz" in message


def test_cifar_truncated_tarball(tmp_path):
    tarball = write_cifar_tarball(tmp_path / "dl" / "cifar-10-python.tar.gz")
    tarball.write_bytes(tarball.read_bytes()[:-200])
    refuse("cifar10", tarball, {"cifar10": cifar_source("cifar10", tarball=tarball)},
           tmp_path / "out" / "c.h5", "truncated or corrupt tar.gz")


def test_cifar_source_folder_without_cifar_files(tmp_path):
    (tmp_path / "empty").mkdir()
    refuse("cifar10", tmp_path / "empty", None, tmp_path / "out" / "c.h5",
           "holds neither cifar-10-python.tar.gz nor its extracted folder cifar-10-batches-py/")


def test_cifar_missing_member(tmp_path):
    members = cifar_members("cifar10")
    del members["data_batch_4"]
    tarball = write_cifar_tarball(tmp_path / "dl" / "cifar-10-python.tar.gz", members=members)
    refuse("cifar10", tarball, {"cifar10": cifar_source("cifar10", tarball=tarball)},
           tmp_path / "out" / "c.h5", "lacks cifar-10-batches-py/data_batch_4")


def test_cifar_missing_file_in_extracted_folder(tmp_path):
    folder = write_cifar_folder(tmp_path / "dl", "cifar10")
    src = cifar_source("cifar10", folder=folder)
    (folder / "test_batch").unlink()
    refuse("cifar10", folder, {"cifar10": src}, tmp_path / "out" / "c.h5",
           "missing file in .*: test_batch")


def _cifar_with_batch(tmp_path, images, labels):
    members = cifar_members("cifar10", overrides={
        "data_batch_2": cifar_batch_bytes(images, labels, b"labels")})
    tarball = write_cifar_tarball(tmp_path / "dl" / "cifar-10-python.tar.gz", members=members)
    return tarball, {"cifar10": cifar_source("cifar10", tarball=tarball)}


def test_cifar_label_out_of_range(tmp_path):
    images = np.zeros((4, 32, 32, 3), np.uint8)
    tarball, src = _cifar_with_batch(tmp_path, images, [0, 1, 10, 2])
    refuse("cifar10", tarball, src, tmp_path / "out" / "c.h5",
           r"data_batch_2 labels has label 10 at index 2, out of range for 10 classes")


def test_cifar_image_label_count_mismatch(tmp_path):
    images = np.zeros((4, 32, 32, 3), np.uint8)
    tarball, src = _cifar_with_batch(tmp_path, images, [0, 1, 2])
    refuse("cifar10", tarball, src, tmp_path / "out" / "c.h5",
           "data_batch_2 data has 4 images but data_batch_2 labels has 3 labels .*count mismatch")


def test_cifar_pickle_with_foreign_objects_is_refused(tmp_path):
    import pickle

    members = cifar_members("cifar10", overrides={"batches.meta": pickle.dumps(
        {b"label_names": [b"a"], b"x": Path("/")}, protocol=2)})
    tarball = write_cifar_tarball(tmp_path / "dl" / "cifar-10-python.tar.gz", members=members)
    refuse("cifar10", tarball, {"cifar10": cifar_source("cifar10", tarball=tarball)},
           tmp_path / "out" / "c.h5", "batches.meta: not a CIFAR python pickle")


# --- downloads from a real local HTTP server -----------------------------------------------


class _Server:
    def __init__(self, folder: Path):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):  # noqa: N802 - the http.server name
                outer.requests.append(self.path)
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(Handler, directory=str(folder))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )


@pytest.fixture
def served(tmp_path):
    """The fixture IDX files behind a real HTTP server on 127.0.0.1 (an ephemeral port)."""
    folder = tmp_path / "www" / "mnist"
    write_idx_folder(folder)
    server = _Server(tmp_path / "www")
    server.thread.start()
    try:
        yield server, folder
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(5)


def test_download_verifies_and_caches(served, tmp_path):
    server, folder = served
    src = idx_source(folder, mirrors=(server.url + "mnist/",))
    out = tmp_path / "data" / "mnist.h5"
    prepare_dataset("mnist", out=out, sources={"mnist": src})
    assert sorted(server.requests) == sorted(f"/mnist/{f}" for f in IDX_NAMES.values())
    assert len(load_dataset(out).y_train) == 40
    raw = tmp_path / "data" / "raw" / "mnist"
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_NAMES.values())  # no .part left
    server.requests.clear()
    out.unlink()
    prepare_dataset("mnist", out=out, sources={"mnist": src})  # verified cache: no new request
    assert server.requests == [] and out.is_file()


def test_download_tries_the_next_mirror(served, tmp_path):
    server, folder = served
    src = idx_source(folder, mirrors=(server.url + "gone/", server.url + "mnist/"))
    out = tmp_path / "data" / "mnist.h5"
    prepare_dataset("mnist", out=out, sources={"mnist": src})
    assert out.is_file() and f"/gone/{IDX_NAMES['train_images']}" in server.requests


def test_download_from_source_url(served, tmp_path):
    server, folder = served
    out = tmp_path / "data" / "mnist.h5"
    prepare_dataset("mnist", source=server.url + "mnist", out=out,
                    sources={"mnist": idx_source(folder, mirrors=("http://unused.invalid/",))})
    assert out.is_file()


def test_download_checksum_mismatch(served, tmp_path):
    server, folder = served
    src = idx_source(folder, mirrors=(server.url + "mnist/",))
    (folder / IDX_NAMES["train_labels"]).write_bytes(gzip.compress(b"tampered"))
    out = tmp_path / "data" / "mnist.h5"
    with pytest.raises(NoisylabError, match="checksum mismatch for train-labels-idx1-ubyte.gz "
                       "downloaded from http://127.0.0.1"):
        prepare_dataset("mnist", out=out, sources={"mnist": src})
    raw = tmp_path / "data" / "raw" / "mnist"
    assert IDX_NAMES["train_labels"] not in only_output(raw)  # never moved into place
    assert not [p for p in only_output(raw) if p.startswith(".")]  # no temp file left
    assert not out.exists()


def test_download_http_error(served, tmp_path):
    server, folder = served
    src = idx_source(folder, mirrors=(server.url + "nothing-here/",))
    out = tmp_path / "data" / "mnist.h5"
    with pytest.raises(NoisylabError, match="HTTP 404.*--source"):
        prepare_dataset("mnist", out=out, sources={"mnist": src})
    assert not out.exists()


def test_offline_says_so_and_suggests_source(tmp_path):
    with socket.socket() as s:  # a port on which nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_idx_folder(tmp_path / "x")
    src = idx_source(tmp_path / "x", mirrors=(f"http://127.0.0.1:{port}/",))
    out = tmp_path / "data" / "mnist.h5"
    with pytest.raises(NoisylabError) as info:
        prepare_dataset("mnist", out=out, sources={"mnist": src})
    message = str(info.value)
    assert "network is unreachable" in message and "offline" in message
    assert "train-images-idx3-ubyte.gz" in message and "--source FOLDER" in message
    assert "\n" not in message
    assert not out.exists()
    left = only_output(tmp_path / "data" / "raw" / "mnist")
    assert not [p for p in left if p.startswith(".")]  # no temp file left
