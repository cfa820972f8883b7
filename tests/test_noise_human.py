"""Human label noise: label sets of a file, the order check against the dataset, short names."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from noisylab.cli import main
from noisylab.data import Dataset, save_dataset
from noisylab.errors import NoisylabError
from noisylab.noise import inject, load_noisy
from noisylab.noise.human import resolve_label_set

CLEAN = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
WORSE = np.array([1, 1, 0, 0, 2, 2, 0, 1, 1, 0])      # 4 of 10 differ
AGGRE = np.array([0, 1, 2, 0, 1, 2, 0, 1, 1, 0])      # 1 of 10 differs


def cifar_n_file(path, **sets):
    """A file laid out like CIFAR-10_human.pt (torch zip with a pickled dict of arrays)."""
    sets = sets or {"clean_label": CLEAN, "worse_label": WORSE, "aggre_label": AGGRE}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(sets, protocol=2))
        archive.writestr("archive/version", "3\n")
    return path


def test_label_set_gives_its_labels_rate_and_matrix(tmp_path):
    path = cifar_n_file(tmp_path / "h.pt")
    out = inject(CLEAN, kind="human", level=None, rng=np.random.default_rng(0),
                 label_set=f"{path}:worse_label")
    assert out.labels.tolist() == WORSE.tolist()
    assert out.realized_rate == 0.4
    assert out.transition[0].tolist() == [0.75, 0.25, 0.0]     # class 0: 3 stay, 1 -> 1
    assert out.spec["key"] == "worse_label" and out.spec["file_rate"] == 0.4
    assert out.spec["level"] is None


def test_a_file_whose_clean_labels_differ_is_refused(tmp_path):
    path = cifar_n_file(tmp_path / "h.pt")
    shuffled = CLEAN[[1, 0, 2, 3, 4, 5, 6, 7, 8, 9]]
    with pytest.raises(NoisylabError, match=r"refusing .*h\.pt:worse_label: its clean_label "
                                            r"differs .* at 2 of 10 positions \(first at index "
                                            r"0: 0 in the file, 1 in the dataset\)"):
        inject(shuffled, kind="human", level=None, rng=np.random.default_rng(0),
               label_set=f"{path}:worse_label")
    with pytest.raises(NoisylabError, match=r"has 10 labels but the dataset's training split "
                                            r"has 9"):
        inject(CLEAN[:9], kind="human", level=None, rng=np.random.default_rng(0),
               label_set=f"{path}:worse_label")


def test_a_subset_is_taken_by_index_and_checked(tmp_path):
    path = cifar_n_file(tmp_path / "h.pt")
    index = np.array([8, 0, 4])
    out = inject(CLEAN[index], kind="human", level=None, rng=np.random.default_rng(0),
                 label_set=f"{path}:worse_label", index=index)
    assert out.labels.tolist() == [1, 1, 2]
    with pytest.raises(NoisylabError, match="differs"):
        inject(CLEAN[index], kind="human", level=None, rng=np.random.default_rng(0),
               label_set=f"{path}:worse_label", index=index + 1)


def test_missing_sets_and_keys_are_named(tmp_path):
    path = cifar_n_file(tmp_path / "h.pt")
    with pytest.raises(NoisylabError, match=r"has no label set 'nope'; found: clean_label, "
                                            "worse_label, aggre_label"):
        inject(CLEAN, kind="human", level=None, rng=np.random.default_rng(0),
               label_set=f"{path}:nope")
    no_clean = cifar_n_file(tmp_path / "n.pt", worse_label=WORSE)
    with pytest.raises(NoisylabError, match="no label set 'clean_label' .*check the order"):
        inject(CLEAN, kind="human", level=None, rng=np.random.default_rng(0),
               label_set=f"{no_clean}:worse_label")
    with pytest.raises(NoisylabError, match="name the label set of .*h.pt: PATH:KEY"):
        inject(CLEAN, kind="human", level=None, rng=np.random.default_rng(0),
               label_set=str(path))
    with pytest.raises(NoisylabError, match="out of range for 2 classes"):
        inject(CLEAN.clip(0, 1), kind="human", level=None, rng=np.random.default_rng(0),
               num_classes=2, label_set=f"{path}:worse_label")


def test_short_names_are_found_in_the_search_folders(tmp_path):
    (tmp_path / "data" / "cifar10n").mkdir(parents=True)
    real = cifar_n_file(tmp_path / "data" / "cifar10n" / "CIFAR-10_human.pt")
    assert resolve_label_set("cifar10n:worse", search=[tmp_path / "x", tmp_path / "data"]) == (
        real, "worse_label")
    assert resolve_label_set("cifar10n:random2", search=[tmp_path / "data"])[1] == \
        "random_label2"
    with pytest.raises(NoisylabError, match=r"unknown label set 'cifar10n:best'; cifar10n has: "
                                            r"cifar10n:aggre, cifar10n:worse"):
        resolve_label_set("cifar10n:best", search=[tmp_path])
    with pytest.raises(NoisylabError, match=r"cifar10n:aggre means CIFAR-10_human\.pt, which "
                                            r"is not in .*elsewhere/, .*elsewhere/cifar10n/"):
        resolve_label_set("cifar10n:aggre", search=[tmp_path / "elsewhere"])


def test_inject_cli_human_with_path_key_and_short_name(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    ds = Dataset(x_train=rng.integers(0, 255, (10, 4, 4, 1), dtype=np.uint8), y_train=CLEAN,
                 x_test=rng.integers(0, 255, (3, 4, 4, 1), dtype=np.uint8),
                 y_test=np.array([0, 1, 2]), class_names=("a", "b", "c"), name="tiny",
                 split={"kind": "given"})
    save_dataset(ds, tmp_path / "tiny.h5")
    cifar_n_file(tmp_path / "CIFAR-10_human.pt")      # next to the dataset: a short name finds it
    monkeypatch.chdir(tmp_path)
    for args in (["--human-labels", f"{tmp_path}/CIFAR-10_human.pt:worse_label"],
                 ["--human-labels", f"{tmp_path}/CIFAR-10_human.pt", "--human-key",
                  "worse_label"],
                 ["--human-labels", "cifar10n:worse"]):
        result = CliRunner().invoke(main, ["inject", "--dataset", str(tmp_path / "tiny.h5"),
                                           "--noise", "human", *args, "--out", "h.npz"])
        assert result.exit_code == 0, result.output
        assert "realized rate: 0.4000 (4 of 10 labels changed)" in result.output
        noisy, clean = load_noisy(tmp_path / "h.npz")
        assert noisy.labels.tolist() == WORSE.tolist() and clean.tolist() == CLEAN.tolist()
    result = CliRunner().invoke(main, ["inject", "--dataset", str(tmp_path / "tiny.h5"),
                                       "--noise", "human", "--human-labels", "cifar10n:worse",
                                       "--human-key", "aggre_label", "--out", "x.npz"])
    assert result.exit_code == 2 and "means key 'worse_label', not --human-key" in result.stderr
    assert not (tmp_path / "x.npz").exists()
