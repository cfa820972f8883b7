"""Results folder names derived from the config (`noisylab.sweep.naming`); choosing the folder."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from noisylab.config import config_hash, default_config, resolve, to_dict, to_yaml
from noisylab.errors import NoisylabError
from noisylab.sweep.naming import MAX_NAME, choose_folder, folder_name

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def name(**overrides) -> str:
    return folder_name(resolve(default_config(), **overrides))


@pytest.mark.parametrize("overrides, expected", [
    ({}, "default"),
    (dict(noise="random", datasets="digits", levels="0:0.9:0.1"), "default"),  # = the default
    (dict(datasets="mnist", noise="random"), "mnist-random"),
    (dict(noise="flip"), "digits-flip"),
    (dict(datasets="mnist", noise="random,flip", seed=3), "mnist-random+flip-seed3"),
    (dict(noise="flip", levels="0,0.5"), "digits-flip-levels0+0.5"),
    (dict(levels="0:0.8:0.2"), "digits-random-levels0..0.8x5"),
    (dict(datasets="/data/sets/my mnist.h5"), "my_mnist-random"),
    (dict(repeats=3, learning_rate=1e-3, batch_size=32),
     "digits-random-repeats3-batch32-lr0.001"),                          # field order
    (dict(val="noisy", subset=500, models="allconv,robust-cnn"),
     "digits-random-model_allconv+robust-cnn-val_noisy-subset500"),
    (dict(augment=True, epochs=5), "digits-random-epochs5-augment"),
    (dict(noise="concentrated", noise_options={"concentrated": {"features": "model"}}),
     "digits-concentrated-features_model"),
    (dict(name="my-study", noise="flip"), "my-study"),     # a chosen name wins
])
def test_names_as_documented(overrides, expected):
    assert name(**overrides) == expected


def test_field_order_not_option_order_decides_the_name():
    assert name(seed=3, repeats=2) == name(repeats=2, seed=3) == "digits-random-seed3-repeats2"


def test_every_number_and_flag_field_is_named_when_changed():
    # generic over the dataclass fields: a new numeric or boolean option (top level or under
    # train:) is named with no registration anywhere
    base = to_dict(default_config())
    leaves = [(k, v) for k, v in base.items() if k != "name"]
    leaves += [(k, v) for k, v in base["train"].items()]
    checked = 0
    for key, value in leaves:
        if isinstance(value, bool):
            changed = not value
        elif isinstance(value, int):
            changed = value + 1
        elif isinstance(value, float):
            changed = value / 2
        elif value is None:        # subset
            changed = 7
        else:
            continue
        try:
            config = resolve(default_config(), **{key: changed})
        except NoisylabError:
            continue
        got = folder_name(config)
        assert got.startswith("digits-random-") and len(got) > len("digits-random-"), key
        checked += 1
    assert checked >= 10      # seed, repeats, val_fraction, subset, test_size, 5+ train options


def test_long_names_are_cut_and_end_in_the_hash():
    config = resolve(default_config(), datasets="mnist,fashion-mnist,kmnist,cifar10",
                     noise="random,flip,symmetric,asymmetric,concentrated", seed=12345)
    got = folder_name(config)
    assert got == ("mnist+fashion-mnist+kmnist+cifar10-random+flip+symmetric+asymmetric-"
                   + config_hash(config)[:6])
    assert len(got) <= MAX_NAME


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**9), repeats=st.integers(1, 50),
       noise=st.lists(st.sampled_from(["random", "symmetric", "flip", "concentrated"]),
                      min_size=1, max_size=4, unique=True),
       levels=st.lists(st.integers(0, 100), min_size=1, max_size=12, unique=True),
       datasets=st.lists(st.text(st.characters(codec="utf-8", exclude_characters=",/\\"),
                                 min_size=1, max_size=30).map(lambda t: t.strip() or "x"),
                         min_size=1, max_size=3, unique=True),
       lr=st.floats(1e-6, 1.0), subset=st.none() | st.integers(1, 10**6))
def test_names_are_safe_short_and_deterministic(seed, repeats, noise, levels, datasets, lr,
                                                 subset):
    try:
        config = resolve(default_config(), seed=seed, repeats=repeats, noise=noise,
                         levels=[v / 100 for v in levels], datasets=datasets, learning_rate=lr,
                         subset=subset)
    except NoisylabError:   # e.g. two dataset names that are equal once stripped
        assume(False)
    got = folder_name(config)
    assert SAFE.match(got), got
    assert len(got) <= MAX_NAME
    assert folder_name(resolve(default_config(), seed=seed, repeats=repeats, noise=noise,
                               levels=[v / 100 for v in levels], datasets=datasets,
                               learning_rate=lr, subset=subset)) == got


# -- choosing the folder ---------------------------------------------------------------------

def _occupy(folder, config):
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(to_yaml(config))


def test_choose_free_mine_and_taken(tmp_path):
    root = tmp_path / "results"
    flip = resolve(default_config(), noise="flip")
    assert choose_folder(flip, root=root).path == root / "digits-flip"
    assert not root.exists()                       # nothing created
    _occupy(root / "digits-flip", flip)
    again = choose_folder(flip, root=root)
    assert again.path == root / "digits-flip" and not again.suffixed

    mine = resolve(default_config(), name="study")
    other = resolve(default_config(), name="study", epochs=3)
    _occupy(root / "study", mine)
    chosen = choose_folder(other, root=root)
    assert chosen.path == root / f"study-{config_hash(other)[:6]}"
    assert chosen.suffixed and chosen.taken == (root / "study",)
    assert chosen.name == chosen.path.name
    _occupy(chosen.path, other)
    assert choose_folder(other, root=root).path == chosen.path   # the resume finds it
    assert choose_folder(mine, root=root).path == root / "study"


def test_choose_prefers_the_suffixed_folder_holding_this_config(tmp_path):
    root = tmp_path / "results"
    config = resolve(default_config(), name="study", epochs=3)
    suffixed = root / f"study-{config_hash(config)[:6]}"
    _occupy(suffixed, config)                     # plain name free (its folder was deleted)
    assert choose_folder(config, root=root).path == suffixed


def test_a_file_or_a_foreign_folder_is_passed_over(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    (root / "digits-flip").write_text("not a folder")
    config = resolve(default_config(), noise="flip")
    assert choose_folder(config, root=root).path == root / f"digits-flip-{config_hash(config)[:6]}"
    (root / "default").mkdir()
    (root / "default" / "notes.txt").write_text("mine, not a sweep's")
    assert choose_folder(default_config(), root=root).suffixed


def test_every_candidate_taken_is_one_clear_error(tmp_path):
    root = tmp_path / "results"
    config = resolve(default_config(), noise="flip")
    digest = config_hash(config)
    for n in ("digits-flip", f"digits-flip-{digest[:6]}", f"digits-flip-{digest}"):
        _occupy(root / n, default_config())
    with pytest.raises(NoisylabError, match=r"digits-flip-[0-9a-f]{12} all hold other configs; "
                                            r"use --out"):
        choose_folder(config, root=root)


def test_unwritable_root_is_reported_as_such(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(NoisylabError, match="output folder .* is not a folder|cannot be created"):
        choose_folder(default_config(), root=a_file / "results")
