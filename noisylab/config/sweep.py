"""`SweepConfig`, the grid of runs a sweep trains, and the level grammar (`parse_levels`).

Internal to `noisylab.config`, which re-exports the public names.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from noisylab.config.options import (
    ExecutorOptions,
    TrainerOptions,
    TrainOptions,
    _check_name,
    _check_options_by_kind,
    _integer,
    _number,
    _option,
    _run_checks,
)
from noisylab.errors import NoisylabError
from noisylab.validate import check_choice, check_names, check_scalar

VAL_POLICIES = ("clean", "noisy")

#: Seeds are numpy SeedSequence entropy and scikit-learn random states: 0 <= seed < 2**32.
MAX_SEED = 2**32 - 1

#: Most levels a level list or range may hold (a range step of 1e-6 would be a million).
MAX_LEVELS = 1001

#: Levels of the default sweep: 0, 0.1, ..., 0.9.
DEFAULT_LEVELS = "0:0.9:0.1"


@dataclass(frozen=True)
class SweepConfig:
    """A grid of training runs and the protocol shared by all of them.

    Attributes
    ----------
    name : str
        Folder name under ``results/`` (only used when ``--out`` is not given). ``default``
        means "not chosen": the folder is then named after what differs from the default
        sweep (`noisylab.sweep.naming.folder_name`).
    seed : int
        Root seed; every run's split, noise and model seeds derive from it (see
        `noisylab.sweep.grid`).
    datasets : tuple of str
        Built-in dataset names (``digits``), prepared names or HDF5 paths.
    noise : tuple of str
        Noise kinds from `noisylab.noise.NOISE_KINDS`.
    levels : tuple of float
        Noise levels in [0, 1], in the order given.
    repeats : int
        Independent repeats per grid point (>= 1).
    models : tuple of str
        Model names from `noisylab.training.models.MODEL_NAMES`.
    methods : tuple of str
        Training methods from `noisylab.training.methods.METHODS` (default ``ce``, plain
        cross-entropy); one run per method at every grid point.
    method_options : dict
        Options per method, e.g. ``{"gce": {"q": 0.5}}``; checked against the method registry by
        `noisylab.sweep.plan`, which also drops options given at their default value (so the
        config, its hash and its folder name are the same whether a default is spelled out or
        not). Each run's fully resolved options are in its ``runs.csv`` row and in
        ``metadata.json``.
    val : {'clean', 'noisy'}
        ``clean``: split the clean test set 50/50 (seeded) into validation and test.
        ``noisy``: hold out ``val_fraction`` of the noisy training set.
    val_fraction : float
        Fraction of the training set held out under ``val: noisy``, in (0, 1).
    subset : int or None
        Stratified subsample of this many training images, or None for all.
    test_size : float
        Test fraction for datasets without a given test split (``digits``).
    noise_options : dict
        Extra options per noise kind, passed to `noisylab.noise.inject`, e.g.
        ``{"concentrated": {"features": "model"}}``.
    train : TrainOptions
        Training options; ``train.model`` is ignored in favour of ``models``.
    executor : ExecutorOptions
        Where the runs train; not part of the config hash.
    trainer : TrainerOptions
        How the runs train (alone or packed); not part of the config hash.

    Names of datasets, models and noise kinds are checked against their registries by
    `noisylab.sweep.plan`, which knows them; every other rule is checked on construction.
    """

    name: str = _option("default", check=_check_name)
    seed: int = _option(0, check=functools.partial(check_scalar, kind=int, low=0,
                                                    high=MAX_SEED))
    datasets: tuple[str, ...] = _option(("digits",), check=check_names)
    noise: tuple[str, ...] = _option(("random",), check=check_names)
    levels: tuple[float, ...] = _option(())
    repeats: int = _option(1, check=_integer(1))
    models: tuple[str, ...] = _option(("seed-cnn",), check=check_names)
    methods: tuple[str, ...] = _option(("ce",), check=check_names)
    method_options: Mapping[str, Mapping[str, Any]] = _option(factory=dict,
                                                              check=_check_options_by_kind)
    val: str = _option("clean", check=lambda v, n: check_choice(v, n, VAL_POLICIES))
    val_fraction: float = _option(0.1, check=_number(0.0, 1.0, "neither"))
    subset: int | None = _option(None, check=functools.partial(check_scalar, kind=int, low=1,
                                                                allow_none=True))
    test_size: float = _option(0.2, check=_number(0.0, 1.0, "neither"))
    noise_options: Mapping[str, Mapping[str, Any]] = _option(factory=dict,
                                                             check=_check_options_by_kind)
    train: TrainOptions = _option(factory=TrainOptions)
    executor: ExecutorOptions = _option(factory=ExecutorOptions)
    trainer: TrainerOptions = _option(factory=TrainerOptions)

    def __post_init__(self) -> None:
        if not self.levels:
            object.__setattr__(self, "levels", parse_levels(DEFAULT_LEVELS))
        _run_checks(self)

    @property
    def n_runs(self) -> int:
        """Number of runs in the grid."""
        return (len(self.datasets) * len(self.noise) * len(self.levels) * self.repeats
                * len(self.methods) * len(self.models))


_LEVEL_DECIMALS = 10


def _parse_float(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise NoisylabError(
            f"levels must be 'start:stop:step' or a comma-separated list of numbers, got {spec!r}"
        ) from None
    if not math.isfinite(value):
        raise NoisylabError(f"levels must be finite numbers, got {spec!r}")
    return value


def parse_levels(spec: str | float | Sequence[float]) -> tuple[float, ...]:
    """Parse noise levels from ``'start:stop:step'``, ``'0,0.2,0.4'``, a number or a list.

    A range includes ``stop`` when it lies on the grid (``0:0.9:0.1`` gives 10 levels).

    Parameters
    ----------
    spec : str, float or sequence of float

    Returns
    -------
    tuple of float
        Levels rounded to 10 decimals, each in [0, 1].

    Raises
    ------
    NoisylabError
        When the text is malformed, the range is empty, a step is not positive, a level is
        repeated, or a level lies outside [0, 1].
    """
    from noisylab.validate import check_level

    if isinstance(spec, bool):
        raise NoisylabError(f"levels must be numbers in [0, 1], got {spec!r}")
    if isinstance(spec, (int, float)):
        values = [float(spec)]
    elif isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise NoisylabError("levels must not be empty")
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise NoisylabError(f"a level range must be 'start:stop:step', got {spec!r}")
            start, stop, step = (_parse_float(p, spec) for p in parts)
            if step <= 0:
                raise NoisylabError(f"a level range needs a positive step, got {spec!r}")
            if stop < start:
                raise NoisylabError(f"a level range needs start <= stop, got {spec!r}")
            count = int(math.floor((stop - start) / step + 1e-9))
            if count + 1 > MAX_LEVELS:
                raise NoisylabError(
                    f"a level range may hold at most {MAX_LEVELS} levels, got {spec!r} "
                    f"({count + 1:,} levels); use a larger step")
            values = [start + i * step for i in range(count + 1)]
        else:
            values = [_parse_float(p, spec) for p in text.split(",")]
    elif isinstance(spec, Sequence):
        values = []
        for item in spec:
            if isinstance(item, bool) or not isinstance(item, (int, float, str)):
                raise NoisylabError(f"levels must be numbers in [0, 1], got {item!r}")
            values.append(_parse_float(str(item), str(item)))
    else:
        raise NoisylabError(f"levels must be a string or a list of numbers, got {spec!r}")
    if len(values) > MAX_LEVELS:
        raise NoisylabError(f"at most {MAX_LEVELS} levels, got {len(values):,}")
    levels = tuple(check_level(round(v, _LEVEL_DECIMALS) + 0.0) for v in values)
    if len(set(levels)) != len(levels):
        raise NoisylabError(f"levels must not repeat, got {list(levels)}")
    return levels


def default_config() -> SweepConfig:
    """What ``noisylab sweep`` runs with no options (also written out as configs/default.yaml).

    digits, random noise at 0, 0.1, ..., 0.9, one repeat, ``seed-cnn``, clean validation, and
    `TrainOptions`' defaults (on digits' 1,437 images Adam 2e-3 and batch 64 by the recipe,
    up to 20 epochs, patience 3 counted after a warm-up of 3 epochs).
    """
    return SweepConfig(name="default")
