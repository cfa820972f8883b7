"""noisylab.labelfiles: label sequences from .npy/.npz/.csv/.pt files; .pt without torch, safely."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from noisylab.errors import NoisylabError
from noisylab.labelfiles import load_pickle, load_pt, read_label_table, read_labels, split_spec


class _RunsCode:
    """Unpickling this calls os.system: what a crafted .pt file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def torch_zip(path, obj, *, folder="archive", protocol=2, extra=()):
    """A file in torch's zip layout (``<folder>/data.pkl`` + ``<folder>/version``), stored."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{folder}/data.pkl", pickle.dumps(obj, protocol=protocol))
        archive.writestr(f"{folder}/version", "3\n")
        for name, data in extra:
            archive.writestr(name, data)
    return path


def test_torch_zip_dict_of_arrays_loads_with_numpy_only(tmp_path):
    labels = {"clean_label": np.array([6, 9, 9, 4]), "noisy": np.array([6, 1, 9, 4])}
    obj = load_pt(torch_zip(tmp_path / "x.pt", labels, folder="CIFAR-100_human"))
    assert list(obj) == ["clean_label", "noisy"]
    assert obj["clean_label"].tolist() == [6, 9, 9, 4]
    assert obj["noisy"].dtype == np.int64


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_of_plain_arrays_and_lists(tmp_path, protocol):
    data = {"a": np.arange(5, dtype=np.int32), "b": [1, 2, 3], "c": (np.zeros((2, 2)),)}
    path = tmp_path / "x.pt"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    obj = load_pt(path)
    assert obj["a"].tolist() == [0, 1, 2, 3, 4] and obj["a"].dtype == np.int32
    assert obj["b"] == [1, 2, 3] and obj["c"][0].shape == (2, 2)


def test_legacy_torch_format_several_pickles_in_a_row(tmp_path):
    stream = io.BytesIO()
    for part in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}):
        pickle.dump(part, stream, protocol=2)
    pickle.dump({"y": np.array([1, 2])}, stream, protocol=2)
    path = tmp_path / "old.pt"
    path.write_bytes(stream.getvalue())
    assert load_pt(path)["y"].tolist() == [1, 2]


@pytest.mark.parametrize("wrap", ["plain", "zip", "nested"])
def test_a_crafted_pickle_is_refused_and_runs_nothing(tmp_path, wrap):
    marker = tmp_path / "PWNED"
    payload = _RunsCode(marker)
    obj = {"clean_label": np.arange(3), "x": payload if wrap != "nested" else [1, {"y": payload}]}
    path = tmp_path / "evil.pt"
    if wrap == "plain":
        path.write_bytes(pickle.dumps(obj, protocol=2))
    else:
        torch_zip(path, obj)
    with pytest.raises(NoisylabError, match=r"evil\.pt: refusing to unpickle: it names "
                                            r"(posix|nt)\.system"):
        load_pt(path)
    assert not marker.exists()


@pytest.mark.parametrize("global_name", [
    b"builtins\neval\n", b"numpy\nload\n", b"numpy.core.multiarray\nscalar\n",
    b"subprocess\nPopen\n", b"torch._utils\n_rebuild_tensor_v2\n"])
def test_only_the_allow_listed_globals_are_admitted(global_name):
    crafted = b"\x80\x02c" + global_name + b"q\x00."
    with pytest.raises(NoisylabError, match="refusing to unpickle: it names"):
        load_pickle(crafted, "crafted")


def test_reconstruct_of_another_class_and_codecs_other_than_latin1_are_refused():
    # numpy.core.multiarray._reconstruct(numpy.dtype, ...) instead of numpy.ndarray
    crafted = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\ndtype\nq\x01"
               b"K\x00\x85q\x02C\x01bq\x03\x87q\x04Rq\x05.")
    with pytest.raises(NoisylabError, match="other than numpy.ndarray"):
        load_pickle(crafted, "crafted")
    crafted = b"\x80\x02c_codecs\nencode\nq\x00X\x03\x00\x00\x00abcX\x06\x00\x00\x00rot_13\x86R."
    with pytest.raises(NoisylabError, match="encoding 'rot_13'"):
        load_pickle(crafted, "crafted")


def test_torch_tensors_persistent_ids_are_refused(tmp_path):
    class WithPid(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", "0") if isinstance(obj, bytearray) else None

    stream = io.BytesIO()
    WithPid(stream, protocol=2).dump({"w": bytearray(b"xx")})
    with pytest.raises(NoisylabError, match="PyTorch tensors"):
        load_pickle(stream.getvalue(), "t.pt")


def test_zip_members_that_escape_or_several_data_pkl_are_refused(tmp_path):
    path = torch_zip(tmp_path / "a.pt", {"y": np.arange(2)}, extra=[("../../etc/x", "no")])
    with pytest.raises(NoisylabError, match=r"member '\.\./\.\./etc/x' escapes"):
        load_pt(path)
    path = torch_zip(tmp_path / "b.pt", {"y": np.arange(2)}, extra=[("other/data.pkl", "x")])
    with pytest.raises(NoisylabError, match="holds one \\*/data.pkl member, found 2"):
        load_pt(path)


def test_truncated_pickle_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.pt"
    path.write_bytes(pickle.dumps({"y": np.arange(100)}, protocol=2)[:40])
    with pytest.raises(NoisylabError, match=r"cut\.pt: not a readable pickle"):
        load_pt(path)


def test_read_labels_from_every_format(tmp_path):
    y = np.array([3, 1, 4, 1, 5])
    np.save(tmp_path / "a.npy", y)
    np.savez(tmp_path / "b.npz", clean_label=y, other=y + 1)
    (tmp_path / "c.csv").write_text("3\n1\n4\n1\n5\n")
    (tmp_path / "d.csv").write_text("id,label\n0,3\n1,1\n2,4\n3,1\n4,5\n")
    np.save(tmp_path / "e.npy", np.array({"clean_label": y}, dtype=object), allow_pickle=True)
    torch_zip(tmp_path / "f.pt", {"clean_label": y, "x": list(range(5))})
    for spec in ("a.npy", "b.npz:clean_label", "c.csv", "d.csv:label", "e.npy:clean_label",
                 "f.pt:clean_label"):
        labels, where = read_labels(tmp_path / spec if ":" not in spec else f"{tmp_path}/{spec}")
        assert labels.tolist() == [3, 1, 4, 1, 5] and labels.dtype == np.int64, spec
        assert where.endswith(spec)
    assert read_labels(f"{tmp_path}/f.pt", key="x")[0].tolist() == [0, 1, 2, 3, 4]


def test_read_labels_errors_name_the_file_and_the_rule(tmp_path):
    np.savez(tmp_path / "b.npz", clean_label=np.arange(3), other=np.arange(3))
    with pytest.raises(NoisylabError, match=r"b\.npz holds several label sets \(clean_label, "
                                            r"other\); name one as .*b\.npz:KEY"):
        read_labels(tmp_path / "b.npz")
    with pytest.raises(NoisylabError, match=r"b\.npz has no label set 'nope'; found: "
                                            "clean_label, other"):
        read_labels(f"{tmp_path}/b.npz:nope")
    np.save(tmp_path / "f.npy", np.array([0.5, 1.0]))
    with pytest.raises(NoisylabError, match=r"f\.npy has a non-integer label 0\.5 at index 0"):
        read_labels(tmp_path / "f.npy")
    np.save(tmp_path / "n.npy", np.array([1, -2]))
    with pytest.raises(NoisylabError, match="negative label -2 at index 1"):
        read_labels(tmp_path / "n.npy")
    (tmp_path / "x.json").write_text("[1]")
    with pytest.raises(NoisylabError, match=r"must be one of \.npy, \.npz"):
        read_labels(tmp_path / "x.json")
    with pytest.raises(NoisylabError, match="label file .*missing.npy does not exist"):
        read_labels(tmp_path / "missing.npy:key")
    (tmp_path / "r.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(NoisylabError, match=r"r\.csv line 3 has 1 columns, expected 2"):
        read_label_table(tmp_path / "r.csv")


def test_split_spec_keeps_a_path_that_exists_even_with_a_colon(tmp_path):
    odd = tmp_path / "a:b.npy"
    np.save(odd, np.arange(2))
    assert split_spec(str(odd)) == (odd, None)
    assert split_spec(f"{tmp_path}/x.pt:worse_label") == (tmp_path / "x.pt", "worse_label")
    with pytest.raises(NoisylabError, match="ends in ':'"):
        split_spec(f"{tmp_path}/x.pt:")


def test_cifar10n_file_loads_with_the_readme_facts(shared_datasets):
    table = read_label_table(shared_datasets / "cifar10n" / "CIFAR-10_human.pt")
    assert list(table) == ["clean_label", "aggre_label", "worse_label", "random_label1",
                           "random_label2", "random_label3"]
    clean = table["clean_label"]
    assert clean.shape == (50000,) and clean.dtype == np.int64
    assert clean[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert np.bincount(clean).tolist() == [5000] * 10
    differing = {k: int((v != clean).sum()) for k, v in table.items() if k != "clean_label"}
    assert differing == {"aggre_label": 4505, "worse_label": 20104, "random_label1": 8617,
                         "random_label2": 9061, "random_label3": 8820}
    coarse, _ = read_labels(f"{shared_datasets}/cifar10n/CIFAR-100_human.pt:clean_coarse_label")
    assert np.bincount(coarse).tolist() == [2500] * 20
