"""The default recipe's rule (noisylab.training.recipe) and how TrainOptions expresses it."""

from __future__ import annotations

import pytest

from noisylab.config import TrainOptions, from_dict, resolve, to_dict
from noisylab.errors import NoisylabError
from noisylab.training.recipe import resolve_recipe


@pytest.mark.parametrize(("n_train", "expected"), [
    (1437, (2e-3, 64)),      # digits
    (4999, (2e-3, 64)),
    (5000, (5e-4, 256)),
    (20000, (5e-4, 256)),    # the MNIST subset of issue #11
    (60000, (5e-4, 256)),
])
def test_auto_recipe_by_training_set_size(n_train, expected):
    assert resolve_recipe(None, None, n_train) == expected


def test_explicit_values_are_kept():
    assert resolve_recipe(1e-3, None, 20000) == (1e-3, 256)
    assert resolve_recipe(None, 32, 20000) == (5e-4, 32)
    assert resolve_recipe(1e-2, 16, 100) == (1e-2, 16)


def test_train_options_defaults_state_the_rule():
    options = TrainOptions()
    assert (options.learning_rate, options.batch_size) == (None, None)
    assert (options.patience, options.min_epochs, options.epochs) == (3, 3, 20)
    assert options.adam_epsilon == pytest.approx(1e-7)


def test_yaml_null_means_auto_and_numbers_round_trip():
    cfg = from_dict({"train": {"learning_rate": None, "batch_size": None, "min_epochs": 5}})
    assert cfg.train.learning_rate is None and cfg.train.min_epochs == 5
    assert to_dict(cfg)["train"]["learning_rate"] is None
    cfg = resolve(None, learning_rate="1e-3", batch_size=32, min_epochs=0)
    assert (cfg.train.learning_rate, cfg.train.batch_size, cfg.train.min_epochs) == (1e-3, 32, 0)


@pytest.mark.parametrize(("train", "match"), [
    ({"min_epochs": -1}, "train.min_epochs must be an integer >= 0, got -1"),
    ({"batch_size": 0}, "train.batch_size must be an integer >= 1, got 0"),
    ({"adam_epsilon": 0.0}, "train.adam_epsilon must be > 0, got 0.0"),
])
def test_bad_train_options(train, match):
    with pytest.raises(NoisylabError, match=match):
        from_dict({"train": train})
