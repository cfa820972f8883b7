"""Frozen dataclasses describing what to run. YAML in, resolved YAML out.

`TrainOptions` is the contract between the sweep and `noisylab.train`; `SweepConfig` describes
a whole grid of runs (datasets x noise kinds x levels x repeats x models) and is what
``noisylab sweep`` reads from ``--config`` and writes back, fully resolved, to
``results/<name>/config.yaml``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from noisylab.errors import NoisylabError


@dataclass(frozen=True)
class TrainOptions:
    """How to train one model from scratch.

    Attributes
    ----------
    model : str
        Name in the `noisylab.models` registry.
    epochs : int
        Maximum number of epochs.
    patience : int
        Early-stopping patience, in epochs, on the validation accuracy; best weights are restored.
    batch_size : int
    learning_rate : float
        Adam's learning rate.
    reduce_lr : bool
        Halve the learning rate when the validation loss plateaus (ReduceLROnPlateau).
    augment : bool
        Random shifts and rotation (plus horizontal flips for CIFAR) as Keras preprocessing layers.
    mixed_precision : bool
        Train under the ``mixed_bfloat16`` policy.
    deterministic : bool
        Turn on TensorFlow op determinism so that the same seed gives identical results.
    """

    model: str = "seed-cnn"
    epochs: int = 20
    patience: int = 3
    batch_size: int = 64
    learning_rate: float = 2e-3
    reduce_lr: bool = False
    augment: bool = False
    mixed_precision: bool = False
    deterministic: bool = False


VAL_POLICIES = ("clean", "noisy")

#: Levels of the default sweep: 0, 0.1, ..., 0.9.
DEFAULT_LEVELS = "0:0.9:0.1"


@dataclass(frozen=True)
class SweepConfig:
    """A grid of training runs and the protocol shared by all of them.

    Attributes
    ----------
    name : str
        Folder name under ``results/`` (only used when ``--out`` is not given).
    seed : int
        Root seed; every run's split, noise and model seeds derive from it (see `noisylab.runs`).
    datasets : tuple of str
        Built-in dataset names (``digits``), prepared names or HDF5 paths.
    noise : tuple of str
        Noise kinds from `noisylab.noise.NOISE_KINDS`.
    levels : tuple of float
        Noise levels in [0, 1], in the order given.
    repeats : int
        Independent repeats per grid point (>= 1).
    models : tuple of str
        Model names from `noisylab.models.MODEL_NAMES`.
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
    """

    name: str = "default"
    seed: int = 0
    datasets: tuple[str, ...] = ("digits",)
    noise: tuple[str, ...] = ("random",)
    levels: tuple[float, ...] = ()
    repeats: int = 1
    models: tuple[str, ...] = ("seed-cnn",)
    val: str = "clean"
    val_fraction: float = 0.1
    subset: int | None = None
    test_size: float = 0.2
    noise_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    train: TrainOptions = field(default_factory=TrainOptions)

    def __post_init__(self) -> None:
        if not self.levels:
            object.__setattr__(self, "levels", parse_levels(DEFAULT_LEVELS))
        validate(self)

    @property
    def n_runs(self) -> int:
        """Number of runs in the grid."""
        return (len(self.datasets) * len(self.noise) * len(self.levels) * self.repeats
                * len(self.models))


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
    levels = tuple(round(v, _LEVEL_DECIMALS) + 0.0 for v in values)
    for level in levels:
        if not 0.0 <= level <= 1.0:
            raise NoisylabError(f"level must be in [0, 1], got {level:g}")
    if len(set(levels)) != len(levels):
        raise NoisylabError(f"levels must not repeat, got {list(levels)}")
    return levels


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def validate(config: SweepConfig) -> None:
    """Check the rules that need no registry; raise `NoisylabError` naming the bad value.

    Names of datasets, models and noise kinds are checked by `noisylab.sweep.validate_names`,
    which knows the registries.
    """
    if not _NAME_RE.match(str(config.name)):
        raise NoisylabError(
            f"name must be letters, digits, '.', '_' or '-', got {config.name!r}")
    if isinstance(config.seed, bool) or not isinstance(config.seed, int) or config.seed < 0:
        raise NoisylabError(f"seed must be an integer >= 0, got {config.seed!r}")
    if isinstance(config.repeats, bool) or not isinstance(config.repeats, int) \
            or config.repeats < 1:
        raise NoisylabError(f"repeats must be an integer >= 1, got {config.repeats!r}")
    for key in ("datasets", "noise", "models"):
        value = getattr(config, key)
        if not value:
            raise NoisylabError(f"{key} must name at least one entry, got {list(value)}")
        if len(set(value)) != len(value):
            raise NoisylabError(f"{key} must not repeat, got {list(value)}")
    if config.val not in VAL_POLICIES:
        raise NoisylabError(f"val must be one of {', '.join(VAL_POLICIES)}, got {config.val!r}")
    if not 0.0 < config.val_fraction < 1.0:
        raise NoisylabError(f"val_fraction must be in (0, 1), got {config.val_fraction!r}")
    if not 0.0 < config.test_size < 1.0:
        raise NoisylabError(f"test_size must be in (0, 1), got {config.test_size!r}")
    if config.subset is not None and (isinstance(config.subset, bool)
                                      or not isinstance(config.subset, int)
                                      or config.subset < 1):
        raise NoisylabError(f"subset must be an integer >= 1 or null, got {config.subset!r}")
    for kind in config.noise_options:
        if not isinstance(config.noise_options[kind], Mapping):
            raise NoisylabError(
                f"noise_options.{kind} must be a mapping of options, "
                f"got {config.noise_options[kind]!r}")
    t = config.train
    for key in ("epochs", "batch_size"):
        value = getattr(t, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise NoisylabError(f"train.{key} must be an integer >= 1, got {value!r}")
    if isinstance(t.patience, bool) or not isinstance(t.patience, int) or t.patience < 1:
        raise NoisylabError(f"train.patience must be an integer >= 1, got {t.patience!r}")
    if not (isinstance(t.learning_rate, (int, float)) and t.learning_rate > 0):
        raise NoisylabError(f"train.learning_rate must be > 0, got {t.learning_rate!r}")


# ---------------------------------------------------------------------------------------------
# YAML / dict conversion

_TRAIN_KEYS = tuple(f.name for f in fields(TrainOptions) if f.name != "model")
_SWEEP_KEYS = tuple(f.name for f in fields(SweepConfig))


def _check_keys(data: Mapping, valid: Sequence[str], where: str) -> None:
    for key in data:
        if key not in valid:
            hint = " (use 'models' at the top level)" if where == "train" and key == "model" else ""
            raise NoisylabError(
                f"unknown key {key!r} in {where}{hint}; valid keys: {', '.join(valid)}")


def _as_tuple(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, Sequence):
        items = [str(v).strip() for v in value]
    else:
        raise NoisylabError(f"{key} must be a name or a list of names, got {value!r}")
    if any(not v for v in items):
        raise NoisylabError(f"{key} has an empty name, got {value!r}")
    return tuple(items)


def _coerce(value: Any, kind: type, key: str) -> Any:
    """Coerce YAML scalars to a field's type, refusing lossy conversions."""
    if value is None:
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise NoisylabError(f"{key} must be true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise NoisylabError(f"{key} must be an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool):
            raise NoisylabError(f"{key} must be a number, got {value!r}")
        if not isinstance(value, (int, float)):
            try:
                return float(value)
            except (TypeError, ValueError):
                raise NoisylabError(f"{key} must be a number, got {value!r}") from None
        return float(value)
    return value


_TRAIN_TYPES = {"epochs": int, "patience": int, "batch_size": int, "learning_rate": float,
                "reduce_lr": bool, "augment": bool, "mixed_precision": bool,
                "deterministic": bool}


def from_dict(data: Mapping[str, Any], *, where: str = "config") -> SweepConfig:
    """Build a `SweepConfig` from a plain mapping (parsed YAML); unknown keys are errors."""
    if not isinstance(data, Mapping):
        raise NoisylabError(f"{where} must be a mapping of keys, got {type(data).__name__}")
    _check_keys(data, _SWEEP_KEYS, where)
    kwargs: dict[str, Any] = {}
    for key in ("name",):
        if key in data:
            kwargs[key] = str(data[key])
    for key in ("seed", "repeats", "subset"):
        if key in data:
            kwargs[key] = _coerce(data[key], int, key)
    for key in ("val_fraction", "test_size"):
        if key in data:
            kwargs[key] = _coerce(data[key], float, key)
    if "val" in data:
        kwargs["val"] = str(data["val"])
    for key in ("datasets", "noise", "models"):
        if key in data:
            kwargs[key] = _as_tuple(data[key], key)
    if "levels" in data:
        kwargs["levels"] = parse_levels(data["levels"])
    if "noise_options" in data:
        opts = data["noise_options"] or {}
        if not isinstance(opts, Mapping):
            raise NoisylabError(f"noise_options must be a mapping by noise kind, got {opts!r}")
        kwargs["noise_options"] = {str(k): dict(v) if isinstance(v, Mapping) else v
                                   for k, v in opts.items()}
    if "train" in data:
        train = data["train"] or {}
        if not isinstance(train, Mapping):
            raise NoisylabError(f"train must be a mapping of options, got {train!r}")
        _check_keys(train, _TRAIN_KEYS, "train")
        kwargs["train"] = TrainOptions(
            **{k: _coerce(v, _TRAIN_TYPES[k], f"train.{k}") for k, v in train.items()})
    config = SweepConfig(**kwargs)
    return _sync_model(config)


def _sync_model(config: SweepConfig) -> SweepConfig:
    """Keep ``train.model`` equal to the first model so that the options stay self-consistent."""
    if config.train.model != config.models[0]:
        return dataclasses.replace(
            config, train=dataclasses.replace(config.train, model=config.models[0]))
    return config


def to_dict(config: SweepConfig) -> dict[str, Any]:
    """The fully resolved config as plain YAML/JSON-friendly values."""
    train = {k: getattr(config.train, k) for k in _TRAIN_KEYS}
    return {
        "name": config.name,
        "seed": config.seed,
        "datasets": list(config.datasets),
        "noise": list(config.noise),
        "levels": [float(v) for v in config.levels],
        "repeats": config.repeats,
        "models": list(config.models),
        "val": config.val,
        "val_fraction": float(config.val_fraction),
        "subset": config.subset,
        "test_size": float(config.test_size),
        "noise_options": {k: dict(v) for k, v in sorted(config.noise_options.items())},
        "train": train,
    }


def to_yaml(config: SweepConfig) -> str:
    """The fully resolved config as YAML text (round-trips through `load_config`)."""
    import yaml

    return yaml.safe_dump(to_dict(config), sort_keys=False, default_flow_style=None)


def load_config(path: str | Path) -> SweepConfig:
    """Read a sweep config from a YAML file.

    Raises
    ------
    NoisylabError
        When the file is missing or not YAML, or a key is unknown (the message names the key
        and lists the valid ones), or a value breaks a rule.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NoisylabError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise NoisylabError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise NoisylabError(f"{path} is not valid YAML: {first}") from None
    if data is None:
        data = {}
    return from_dict(data, where=str(path))


def resolve(config: SweepConfig | None = None, **overrides: Any) -> SweepConfig:
    """Apply command-line overrides to a config; ``None`` values mean "not given".

    Parameters
    ----------
    config : SweepConfig, optional
        The base config (the default sweep when None).
    **overrides
        Top-level keys (``datasets``, ``noise``, ``levels``, ``repeats``, ``models``, ``val``,
        ``subset``, ``seed``, ``name``, ...) or train keys (``epochs``, ``patience``,
        ``batch_size``, ``learning_rate``, ...). Strings are parsed like YAML values:
        ``noise="random,flip"``, ``levels="0:0.9:0.1"``.
    """
    base = to_dict(config if config is not None else SweepConfig())
    for key, value in overrides.items():
        if value is None:
            continue
        if key in _TRAIN_KEYS:
            base["train"][key] = value
        elif key in _SWEEP_KEYS:
            base[key] = value
        else:
            raise NoisylabError(
                f"unknown option {key!r}; valid: {', '.join(_SWEEP_KEYS + _TRAIN_KEYS)}")
    return from_dict(base)


def config_hash(config: SweepConfig) -> str:
    """A stable 12-hex-digit hash of everything that decides the runs' results.

    The ``name`` is left out: it only picks a folder. The hash is computed from sorted JSON, so it
    does not depend on Python's hash seed or on key order in the YAML file.
    """
    data = to_dict(config)
    data.pop("name")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def default_config() -> SweepConfig:
    """What ``noisylab sweep`` runs with no options (also written out as configs/default.yaml).

    digits, random noise at 0, 0.1, ..., 0.9, one repeat, ``seed-cnn``, clean validation, and
    `TrainOptions`' defaults (Adam 2e-3, batch 64, up to 20 epochs, patience 3).
    """
    return SweepConfig(name="default")
