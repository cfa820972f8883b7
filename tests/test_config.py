"""Sweep configs: level parsing, YAML round trip, unknown keys, overrides, the stable hash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from noisylab.config import (
    SweepConfig,
    TrainOptions,
    config_hash,
    default_config,
    from_dict,
    load_config,
    parse_levels,
    resolve,
    to_yaml,
)
from noisylab.errors import NoisylabError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_range_includes_stop_on_grid():
    assert parse_levels("0:0.9:0.1") == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    assert parse_levels("0:1:0.25") == (0.0, 0.25, 0.5, 0.75, 1.0)


def test_range_stops_before_stop_off_grid():
    assert parse_levels("0:0.95:0.1")[-1] == 0.9
    assert parse_levels("0.2:0.2:0.1") == (0.2,)


def test_list_number_and_sequence():
    assert parse_levels("0, 0.2,0.4") == (0.0, 0.2, 0.4)
    assert parse_levels(0.3) == (0.3,)
    assert parse_levels([0, 0.5, 1]) == (0.0, 0.5, 1.0)


@pytest.mark.parametrize("spec, match", [
    ("0:1.2:0.1", "level must be in \\[0, 1\\], got 1.1"),
    ("-0.1,0.2", "got -0.1"),
    ("0,1.5", "got 1.5"),
    ("0:a:0.1", "'0:a:0.1'"),
    ("0:1", "'0:1'"),
    ("0:1:0", "positive step"),
    ("0.5:0.1:0.1", "start <= stop"),
    ("0,,0.2", "'0,,0.2'"),
    ("", "empty"),
    ("0.1,0.1", "must not repeat"),
    ("nan", "finite"),
])
def test_bad_levels_name_the_value(spec, match):
    with pytest.raises(NoisylabError, match=match):
        parse_levels(spec)


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=8, unique=True))
def test_listed_levels_round_trip(values):
    levels = tuple(round(v, 10) + 0.0 for v in values)
    assume(len(set(levels)) == len(levels))
    assert parse_levels(",".join(repr(v) for v in levels)) == levels


@given(st.integers(0, 5), st.integers(1, 20), st.integers(1, 10))
def test_on_grid_ranges_have_the_expected_count(start_tenths, count, step_hundredths):
    step = step_hundredths / 100
    start = start_tenths / 10
    stop = start + (count - 1) * step
    assume(stop <= 1)
    assert len(parse_levels(f"{start}:{stop}:{step}")) == count


def test_yaml_round_trip_and_hash_stable(tmp_path):
    cfg = resolve(default_config(), noise="random,flip", levels="0,0.5", repeats=2,
                  epochs=3, subset=100, noise_options={"flip": {"stratify": True}})
    path = tmp_path / "c.yaml"
    path.write_text(to_yaml(cfg))
    again = load_config(path)
    assert again == cfg
    assert config_hash(again) == config_hash(cfg)


def test_hash_ignores_name_but_not_protocol():
    cfg = default_config()
    assert config_hash(resolve(cfg, name="other")) == config_hash(cfg)
    assert config_hash(resolve(cfg, epochs=cfg.train.epochs + 1)) != config_hash(cfg)
    assert config_hash(resolve(cfg, val="noisy")) != config_hash(cfg)
    assert config_hash(resolve(cfg, seed=1)) != config_hash(cfg)


def test_hash_is_the_same_in_another_process():
    code = ("from noisylab.config import default_config, config_hash;"
            "print(config_hash(default_config()))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": str(s), "PATH": ""}, check=True).stdout
            for s in (1, 2)}
    assert outs == {config_hash(default_config()) + "\n"}


def test_unknown_keys_are_named_with_the_valid_ones(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nlevles: 0,0.5\n")
    with pytest.raises(NoisylabError, match="unknown key 'levles'.*valid keys: name, seed"):
        load_config(path)
    path.write_text("train:\n  epochz: 3\n")
    with pytest.raises(NoisylabError, match="unknown key 'epochz' in train.*epochs"):
        load_config(path)
    path.write_text("train:\n  model: seed-cnn\n")
    with pytest.raises(NoisylabError, match="use 'models'"):
        load_config(path)


@pytest.mark.parametrize("data, match", [
    ({"repeats": 0}, "repeats must be an integer >= 1, got 0"),
    ({"val": "dirty"}, "val must be one of clean, noisy, got 'dirty'"),
    ({"val_fraction": 1.0}, "val_fraction must be in \\(0, 1\\)"),
    ({"subset": 0}, "subset must be an integer >= 1"),
    ({"seed": -1}, "seed must be an integer in \\[0, 4294967295\\], got -1"),
    ({"seed": 2**32}, "seed must be an integer in \\[0, 4294967295\\], got 4294967296"),
    ({"name": "a/b"}, "name must be"),
    ({"noise": []}, "noise must name at least one"),
    ({"models": ["a", "a"]}, "models must not repeat"),
    ({"train": {"epochs": 0}}, "train.epochs must be an integer >= 1"),
    ({"train": {"patience": 0}}, "train.patience must be an integer >= 1, got 0"),
    ({"train": {"learning_rate": True}}, "train.learning_rate must be a number > 0, got True"),
    ({"train": {"learning_rate": "fast"}}, "train.learning_rate must be a number"),
    ({"train": {"augment": "yes"}}, "train.augment must be true or false"),
    ({"repeats": 1.5}, "repeats must be an integer"),
    ({"train": {"learning_rate": float("inf")}}, "train.learning_rate must be a finite number"),
    ({"train": {"learning_rate": float("nan")}}, "train.learning_rate must be a finite number"),
    ({"train": {"batch_size": 0}}, "train.batch_size must be an integer >= 1, got 0"),
    ({"test_size": 0.0}, "test_size must be in \\(0, 1\\), got 0.0"),
])
def test_bad_values(data, match):
    with pytest.raises(NoisylabError, match=match):
        from_dict(data)


def test_missing_and_invalid_yaml(tmp_path):
    with pytest.raises(NoisylabError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(NoisylabError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(NoisylabError, match="must be a mapping"):
        load_config(bad)


def test_resolve_overrides_and_keeps_the_rest():
    base = default_config()
    cfg = resolve(base, datasets="digits", noise="symmetric", models="seed-cnn", epochs=2,
                  learning_rate=0.01, batch_size=None)
    assert cfg.noise == ("symmetric",)
    assert cfg.train.epochs == 2 and cfg.train.learning_rate == 0.01
    assert cfg.train.batch_size == base.train.batch_size
    assert cfg.levels == base.levels
    with pytest.raises(NoisylabError, match="unknown option 'colour'"):
        resolve(base, colour="red")


def test_train_model_follows_models():
    cfg = from_dict({"models": ["drory-mnist", "seed-cnn"]})
    assert cfg.train.model == "drory-mnist"
    assert isinstance(cfg.train, TrainOptions)


def test_default_yaml_is_the_default_sweep():
    assert load_config(CONFIGS / "default.yaml") == default_config()


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load_and_have_a_header(path):
    cfg = load_config(path)
    assert isinstance(cfg, SweepConfig)
    header = path.read_text().splitlines()[0]
    assert header.startswith("#"), f"{path.name} must start with a comment header"
    text = path.read_text()
    assert "CPU" in text and "GPU" in text and "xpect" in text
