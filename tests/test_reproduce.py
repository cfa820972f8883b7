"""``noisylab reproduce``: the published numbers, the comparison tables, the command's errors, and
a whole small protocol with a fake trainer on a fake 28x28 MNIST."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sweep_fakes import fake_train

from noisylab.cli import main
from noisylab.reproduce.compare import blog_table, drory_table
from noisylab.reproduce.protocols import PROTOCOLS, get_protocol
from noisylab.reproduce.published import blog_f1_scores


def test_blog_numbers_are_its_f1scores_csv():
    blog = blog_f1_scores()
    assert list(blog["level"]) == pytest.approx([i / 10 for i in range(11)])
    # Literal values of F1Scores.csv (DragonDuck/LearningWithNoisyLabels, commit 03e2e80f).
    assert blog.loc[8, "f1_true"] == pytest.approx(0.9227028642770713)
    assert blog.loc[9, "f1_true"] == pytest.approx(0.18210485989125172)
    assert blog.loc[0, "f1_noisy"] == pytest.approx(0.9874051432483811)
    assert blog.loc[10, "f1_noisy"] == pytest.approx(0.1057909889567515)
    assert np.round(blog["f1_true"].to_numpy(), 3).tolist() == [
        0.987, 0.988, 0.986, 0.986, 0.985, 0.98, 0.974, 0.963, 0.923, 0.182, 0.001]


def _summary(noise, levels, **metrics):
    rows = []
    for i, level in enumerate(levels):
        row = {"dataset": "mnist", "noise": noise, "model": "m", "level": level, "n_runs": 1}
        for name, values in metrics.items():
            row[f"{name}_mean"] = values[i]
        rows.append(row)
    return pd.DataFrame(rows)


def test_blog_table_sets_ours_beside_the_blog():
    summary = _summary("symmetric", [0.0, 0.8, 0.9], test_f1=[0.99, 0.92, 0.2],
                       test_f1_noisy=[0.99, 0.19, 0.1], at_chance=[0.0, 0.0, 1.0])
    table = blog_table(summary).set_index("level")
    assert len(table) == 11
    assert table.loc[0.0, "ours_at_least_blog"] is True        # 0.99 >= 0.987
    assert table.loc[0.8, "ours_at_least_blog"] is False       # 0.92 < 0.923
    assert table.loc[0.9, "ours_at_least_blog"] is None        # above 0.8: not a floor
    assert table.loc[0.5, "ours_at_least_blog"] is None        # no run there
    assert np.isnan(table.loc[0.5, "ours_f1_true"])
    assert table.loc[0.9, "at_chance"] == 1.0


def test_drory_table_checks_the_findings():
    summary = pd.concat([
        _summary("random", [0.0, 0.8], test_accuracy=[0.99, 0.95]),
        _summary("flip", [0.0, 0.3, 0.6], test_accuracy=[0.99, 0.93, 0.45]),
        _summary("concentrated", [0.0, 0.3], test_accuracy=[0.99, 0.60]),
    ])
    table = drory_table(summary)
    assert table["holds"].tolist() == [True, True, True, False]   # 0.60 is 0.10 from 0.7
    assert table.loc[0, "target"] == pytest.approx(0.99)          # relative to level 0


def test_protocols_and_their_scales():
    blog, config = get_protocol("blog", "small")
    assert config.models == ("blog-cnn",) and config.noise == ("symmetric",)
    assert len(config.levels) == 11 and config.subset == 10_000
    assert get_protocol("blog", "full")[1].subset is None
    assert set(PROTOCOLS["drory"].configs["small"].noise) == {"random", "flip", "concentrated"}
    assert all(p.expected.keys() == {"small", "full"} for p in PROTOCOLS.values())


def test_unknown_protocol_or_scale_is_one_line_exit_2(tmp_path):
    for args in (["reproduce", "cifar"], ["reproduce", "blog", "--scale", "huge"]):
        result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")])
        assert result.exit_code == 2, result.output
    assert not (tmp_path / "o").exists()


def test_missing_mnist_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["reproduce", "blog", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "mnist" in lines[0] and "noisylab data prepare" in lines[0]
    assert not (tmp_path / "o").exists()


def _fake_mnist(path, n_train=240, n_test=120, seed=0):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        for split, n in (("train", n_train), ("test", n_test)):
            labels = np.arange(n) % 10
            images = rng.integers(0, 40, (n, 28, 28, 1)).astype(np.uint8)
            for c in range(10):   # a bright bar per class: learnable by the fake trainer
                images[labels == c, 2 * c:2 * c + 3, :, 0] = 250
            f[f"{split}/images"] = images
            f[f"{split}/labels"] = labels
        f.attrs["name"] = "mnist"
        f.attrs["class_names"] = '["0","1","2","3","4","5","6","7","8","9"]'
        f.attrs["source"] = "test"


def test_reproduce_blog_writes_the_comparison(tmp_path):
    from noisylab.reproduce.run import reproduce
    from noisylab.sweep import plan_sweep

    data = tmp_path / "data"
    data.mkdir()
    _fake_mnist(data / "mnist.h5")
    protocol, config = get_protocol("blog", "small")
    config = dataclasses.replace(config, subset=200, levels=(0.0, 0.8, 0.9))
    plan = plan_sweep(config, tmp_path / "o" / "sweep", data_dir=data)
    done = reproduce(protocol, plan, scale="small", out=tmp_path / "o", trainer=fake_train)
    assert (tmp_path / "o" / "comparison.png").stat().st_size > 1000
    table = pd.read_csv(tmp_path / "o" / "comparison.csv", comment="#").set_index("level")
    assert table.loc[0.0, "ours_f1_true"] > 0.9
    assert table.loc[0.8, "blog_f1_true"] == pytest.approx(0.9227028642770713)
    assert np.isnan(table.loc[0.5, "ours_f1_true"])
    assert done.failed == []
