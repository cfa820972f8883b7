"""Sweeps over human label sets (grid points at their realized rates) and instance noise."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
from sweep_fakes import FAKE_MODELS, fake_train

from noisylab.config import SweepConfig, TrainOptions
from noisylab.data import load_dataset
from noisylab.errors import NoisylabError
from noisylab.noise import load_noisy  # noqa: F401 - the archive format is the noise package's
from noisylab.results import ResultsFolder
from noisylab.sweep import plan_sweep, run_sweep

FAST = TrainOptions(epochs=2, patience=1)


@pytest.fixture
def digits_sets(tmp_path):
    """A CIFAR-N-style file for digits' training labels: a 10 % and a 40 % set, and clean."""
    y = load_dataset("digits").y_train
    rng = np.random.default_rng(0)
    sets = {"clean_label": y}
    for key, rate in (("low_label", 0.1), ("high_label", 0.4)):
        noisy = y.copy()
        pick = rng.choice(y.size, round(rate * y.size), replace=False)
        noisy[pick] = (y[pick] + rng.integers(1, 10, pick.size)) % 10
        sets[key] = noisy
    path = tmp_path / "digits_human.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(sets, protocol=2))
    return path, sets


def config(path, **kw):
    base = dict(name="h", noise=("random", "human"), levels=(0.0, 0.5), subset=400, train=FAST,
                noise_options={"human": {"label_sets": [f"{path}:low_label",
                                                        f"{path}:high_label",
                                                        f"{path}:clean_label"]}})
    base.update(kw)
    return SweepConfig(**base)


def test_label_sets_are_grid_points_at_their_realized_rates(digits_sets, tmp_path):
    path, sets = digits_sets
    plan = plan_sweep(config(path), tmp_path / "r", model_names=FAKE_MODELS)
    human = [r for r in plan.runs if r.noise == "human"]
    rates = [float(np.mean(sets[k] != sets["clean_label"])) for k in
             ("low_label", "high_label", "clean_label")]
    assert [r.level for r in human] == rates and rates[2] == 0.0
    assert [r.run_id for r in human] == [f"digits-human-{v:.3f}-r0-seed-cnn" for v in rates]
    assert len(plan.runs) == 2 + 3                      # the levels do not apply to human
    result = run_sweep(plan, trainer=fake_train)
    runs = pd.read_csv(result.runs_csv)
    high = runs[(runs["noise"] == "human") & (runs["level"] == rates[1])].iloc[0]
    # on the subset, the realized rate is that of the chosen positions of the file
    folder = ResultsFolder(tmp_path / "r")
    with np.load(folder.path / "runs" / high["run_id"] / "noise.npz") as noise:
        index, labels = noise["train_index"], noise["noisy_labels"]
    assert np.array_equal(labels, sets["high_label"][index])
    assert high["realized_noise_rate"] == pytest.approx(
        np.mean(sets["high_label"][index] != sets["clean_label"][index]))
    assert 0.3 < high["realized_noise_rate"] < 0.5
    clean = runs[(runs["noise"] == "human") & (runs["level"] == 0)].iloc[0]
    assert clean["realized_noise_rate"] == 0
    summary = pd.read_csv(result.summary_csv)
    assert sorted(summary[summary["noise"] == "human"]["level"]) == sorted(rates)


def test_human_seeds_come_from_the_set_name_and_are_stable(digits_sets, tmp_path):
    path, _ = digits_sets
    a = plan_sweep(config(path), tmp_path / "a", model_names=FAKE_MODELS).runs
    b = plan_sweep(config(path, levels=(0.1,)), tmp_path / "b", model_names=FAKE_MODELS).runs
    seeds = {r.run_id: r.seed_noise for r in a if r.noise == "human"}
    assert seeds == {r.run_id: r.seed_noise for r in b if r.noise == "human"}


def test_human_sweep_problems_are_refused_before_any_folder(digits_sets, tmp_path):
    path, sets = digits_sets
    out = tmp_path / "r"
    cases = [
        (dict(noise_options={}), r"noise kind 'human' has no levels; name its label sets"),
        (dict(noise_options={"human": {"label_set": "x"}}),
         r"kind 'human' does not take option 'label_set'; valid: label_sets"),
        (dict(noise_options={"human": {"label_sets": [f"{path}:nope"]}}),
         r"has no label set 'nope'"),
    ]
    shifted = {k: np.roll(v, 1) for k, v in sets.items()}
    bad = tmp_path / "shifted.npz"
    np.savez(bad, **shifted)
    cases.append((dict(noise_options={"human": {"label_sets": [f"{bad}:high_label"]}}),
                  r"refusing .*shifted\.npz:high_label: its clean_label differs"))
    for kw, match in cases:
        with pytest.raises(NoisylabError, match=match):
            plan_sweep(config(path, **kw), out, model_names=FAKE_MODELS)
        assert not out.exists()


def test_instance_noise_in_a_sweep_uses_the_images(tmp_path):
    cfg = SweepConfig(name="i", noise=("instance",), levels=(0.0, 0.4), subset=400, train=FAST)
    result = run_sweep(plan_sweep(cfg, tmp_path / "i", model_names=FAKE_MODELS),
                       trainer=fake_train)
    runs = pd.read_csv(result.runs_csv)
    assert runs["realized_noise_rate"].tolist()[0] == 0
    assert abs(runs["realized_noise_rate"].tolist()[1] - 0.4) < 4.5 * np.sqrt(0.24 / 400)
    assert (runs["test_f1_noisy"] < runs["test_f1"]).tolist() == [False, True]
