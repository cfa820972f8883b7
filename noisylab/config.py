"""Frozen dataclasses describing what to run. YAML in, resolved YAML out.

`TrainOptions` is the contract between the sweep and `noisylab.training`; `SweepConfig` describes
a whole grid of runs (datasets x noise kinds x levels x repeats x models) and is what
``noisylab sweep`` reads from ``--config`` and writes back, fully resolved, to
``results/<name>/config.yaml``.

Each field states its own rule in its metadata (``check``), and `from_dict`/`to_dict` walk
`dataclasses.fields`: adding an option is one line in its dataclass. Unknown keys are errors.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from noisylab.errors import NoisylabError
from noisylab.validate import check_bool, check_choice, check_names, check_scalar

VAL_POLICIES = ("clean", "noisy")

#: Seeds are numpy SeedSequence entropy and scikit-learn random states: 0 <= seed < 2**32.
MAX_SEED = 2**32 - 1

#: Most levels a level list or range may hold (a range step of 1e-6 would be a million).
MAX_LEVELS = 1001

#: Levels of the default sweep: 0, 0.1, ..., 0.9.
DEFAULT_LEVELS = "0:0.9:0.1"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _option(default: Any = dataclasses.MISSING, *, check: Callable[[Any, str], Any] | None = None,
            factory: Callable[[], Any] | None = None, yaml: bool = True):
    """A dataclass field with its rule: ``check(value, name)`` returns the checked value."""
    meta = {"check": check, "yaml": yaml}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _integer(low: int):
    return functools.partial(check_scalar, kind=int, low=low)


def _number(low=None, high=None, closed="both"):
    return functools.partial(check_scalar, kind=float, low=low, high=high, closed=closed)


def _check_name(value, name):
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise NoisylabError(f"{name} must be letters, digits, '.', '_' or '-', got {value!r}")
    return value


def _check_options_by_kind(value, name):
    for kind, options in value.items():
        if not isinstance(options, Mapping):
            raise NoisylabError(f"{name}.{kind} must be a mapping of options, got {options!r}")
    return value


def _run_checks(obj, prefix: str = "") -> None:
    """Apply every field's ``check`` to a frozen dataclass instance, storing the checked value."""
    for f in fields(obj):
        check = f.metadata.get("check")
        if check is not None:
            object.__setattr__(obj, f.name, check(getattr(obj, f.name), prefix + f.name))


@dataclass(frozen=True)
class TrainOptions:
    """How to train one model from scratch.

    Attributes
    ----------
    model : str
        Name in the `noisylab.training.models` registry.
    epochs : int
        Maximum number of epochs (>= 1).
    patience : int
        Early-stopping patience (>= 1) on the validation accuracy: the run stops after this many
        counted epochs without a new best. Epochs count only after the warm-up (``min_epochs``)
        and from the first epoch whose validation accuracy beats chance; a run that never beats
        chance stops after ``min_epochs + patience`` epochs. The best epoch's weights are
        restored. The whole rule: `noisylab.training.stopping`.
    min_epochs : int
        Warm-up (>= 0): epochs during which patience does not count, so that a run that starts
        slowly under heavy noise is not stopped before it has learned (``epochs`` still caps
        the run).
    batch_size : int or None
        Batch size (>= 1); None (the default) takes the recipe's by training-set size
        (`noisylab.training.recipe`: 256 from 5,000 training images up, 64 below).
    learning_rate : float or None
        Adam's learning rate (> 0, finite); None (the default) takes the recipe's: 5e-4 from
        5,000 training images up, 2e-3 below. Measured on MNIST (README, "Models and
        training"): at 2e-3 and batch 64 every dense ReLU unit of ``seed-cnn`` died in the first
        epoch at symmetric 0.8 and the run never left chance; at 5e-4 it learns from epoch 1.
    adam_epsilon : float
        Adam's epsilon (> 0), the floor of its per-parameter step normaliser.
    reduce_lr : bool
        Halve the learning rate when the validation loss plateaus (ReduceLROnPlateau).
    augment : bool
        Random shifts and rotation (plus horizontal flips for CIFAR) as Keras preprocessing layers.
    mixed_precision : bool
        Train under the ``mixed_bfloat16`` policy.
    deterministic : bool
        Turn on TensorFlow op determinism so that the same seed gives identical results.
    restore_best : bool
        Test the best validation epoch's weights (the default). False tests the last epoch's
        weights, as papers that report final-epoch (or last-epochs) accuracy do; early stopping
        still ends the run (give ``patience >= epochs`` to train every epoch).

    Every value is checked on construction (``train.<name> must be ...``).
    """

    model: str = _option("seed-cnn", yaml=False)
    epochs: int = _option(20, check=_integer(1))
    patience: int = _option(3, check=_integer(1))
    min_epochs: int = _option(3, check=_integer(0))
    batch_size: int | None = _option(None, check=functools.partial(
        check_scalar, kind=int, low=1, allow_none=True))
    learning_rate: float | None = _option(None, check=functools.partial(
        check_scalar, kind=float, low=0.0, closed="neither", allow_none=True))
    adam_epsilon: float = _option(1e-7, check=_number(0.0, closed="neither"))
    reduce_lr: bool = _option(False, check=check_bool)
    augment: bool = _option(False, check=check_bool)
    mixed_precision: bool = _option(False, check=check_bool)
    deterministic: bool = _option(False, check=check_bool)
    restore_best: bool = _option(True, check=check_bool)

    def __post_init__(self) -> None:
        _run_checks(self, "train.")


@dataclass(frozen=True)
class ExecutorOptions:
    """Where the runs of a sweep train (`noisylab.sweep.executors`).

    Recorded per session in ``metadata.json`` and never part of `config_hash`, so that a sweep
    can be resumed with another executor. ``executor:`` in YAML; ``--executor``, ``--workers``,
    ``--max-runs-per-worker``, ``--ray-address``, ``--num-cpus`` and ``--num-gpus`` on the command
    line.

    Attributes
    ----------
    kind : str
        ``sequential``, ``process`` or ``ray`` (checked against the registry by the plan).
    workers : int or None
        Worker processes of the ``process`` executor (None: one per core).
    max_runs_per_worker : int
        Runs a worker process trains before it is replaced (>= 1), which keeps memory flat.
    ray_address : str or None
        An existing Ray cluster (``auto``, ``host:port``, ``ray://host:port``); None starts a
        local one for the sweep.
    num_cpus : float
        CPUs each Ray task asks for (> 0).
    num_gpus : float
        GPUs each Ray task asks for (>= 0; a fraction lets runs share a GPU).
    """

    kind: str = _option("sequential", check=_check_name)
    workers: int | None = _option(None, check=functools.partial(
        check_scalar, kind=int, low=1, allow_none=True))
    max_runs_per_worker: int = _option(20, check=_integer(1))
    ray_address: str | None = _option(None)
    num_cpus: float = _option(1.0, check=_number(0.0, closed="neither"))
    num_gpus: float = _option(0.0, check=_number(0.0))

    def __post_init__(self) -> None:
        _run_checks(self, "executor.")


#: Trainers of a sweep (`TrainerOptions.kind`).
TRAINERS = ("keras", "packed", "auto")
#: How a pack's members share one compiled program (`noisylab.training.packed.MECHANISMS`).
PACK_MECHANISMS = ("unroll", "vmap")


@dataclass(frozen=True)
class TrainerOptions:
    """How the runs of a sweep train: one at a time, or many in one compiled step.

    Like the executor, recorded in ``metadata.json`` (and per run in ``runs.csv``: ``trainer``,
    ``pack_size``) and never part of `config_hash`, so that a sweep can be resumed with the
    other trainer. ``trainer:`` in YAML; ``--trainer``, ``--pack-size`` and
    ``--pack-mechanism`` on the command line.

    Attributes
    ----------
    kind : {'keras', 'packed', 'auto'}
        ``keras``: each run alone under ``model.fit`` (`noisylab.training.loop`). ``packed``:
        the runs that share dataset, model, method and options train together in packs
        (`noisylab.training.packed`, Keras on the JAX backend); methods that cannot be packed
        train with ``keras``. ``auto``: ``packed`` where it was measured to win, else
        ``keras`` (`noisylab.sweep.packing.choose_trainer` states the rule).
    pack_size : int or None
        Runs trained at once in one pack (>= 1); None (the default): 2 on a CPU, 32 on an
        accelerator (`noisylab.sweep.packing.default_pack_size`). A pack too large for the
        device's memory gets fewer.
    mechanism : {'unroll', 'vmap'}
        ``unroll``: the members' steps side by side in one program; ``vmap``: ``jax.vmap``
        over stacked parameters (grouped convolutions; 5x slower than ``unroll`` per member on
        a CPU, measured in ``benchmarks/packed.py``).
    """

    kind: str = _option("keras", check=lambda v, n: check_choice(v, n, TRAINERS))
    pack_size: int | None = _option(None, check=functools.partial(
        check_scalar, kind=int, low=1, allow_none=True))
    mechanism: str = _option("unroll", check=lambda v, n: check_choice(v, n, PACK_MECHANISMS))

    def __post_init__(self) -> None:
        _run_checks(self, "trainer.")


#: Command-line names of the `TrainerOptions` fields (``--trainer`` is ``kind``).
TRAINER_OVERRIDES = {"trainer": "kind", "pack_size": "pack_size", "pack_mechanism": "mechanism"}

#: Command-line names of the `ExecutorOptions` fields (``--executor`` is ``kind``).
EXECUTOR_OVERRIDES = {"executor": "kind", "workers": "workers",
                      "max_runs_per_worker": "max_runs_per_worker",
                      "ray_address": "ray_address", "num_cpus": "num_cpus",
                      "num_gpus": "num_gpus"}


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


# ---------------------------------------------------------------------------------------------
# YAML / dict conversion, driven by the dataclass fields


def _yaml_fields(cls) -> list[dataclasses.Field]:
    return [f for f in fields(cls) if f.metadata.get("yaml", True)]


def _check_keys(data: Mapping, cls, where: str) -> None:
    valid = [f.name for f in _yaml_fields(cls)]
    for key in data:
        if key not in valid:
            hint = " (use 'models' at the top level)" if cls is TrainOptions and key == "model" \
                else ""
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


def _from_yaml(value: Any, kind: Any, key: str) -> Any:
    """One YAML value converted to a field's type (the field's own check runs afterwards)."""
    if kind == tuple[float, ...]:
        return parse_levels(value)
    if kind == tuple[str, ...]:
        return _as_tuple(value, key)
    if kind in (TrainOptions, ExecutorOptions, TrainerOptions):
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise NoisylabError(f"{key} must be a mapping of options, got {value!r}")
        return _dataclass_from(kind, value, key)
    if typing.get_origin(kind) is Mapping or kind is Mapping:
        value = value or {}
        if not isinstance(value, Mapping):
            raise NoisylabError(f"{key} must be a mapping by name, got {value!r}")
        return {str(k): dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
    if kind is str:
        return str(value)
    if value is None:
        return None
    if kind in (float, int) and isinstance(value, str):
        # YAML reads 1e-3 (no dot) as a string; a number written so is still a number.
        try:
            return float(value)
        except ValueError:
            return value
    return value


@functools.cache
def _hints(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {k: (int if v == (int | None) else float if v == (float | None) else v)
            for k, v in hints.items()}


def _dataclass_from(cls, data: Mapping[str, Any], where: str):
    """An instance of ``cls`` from a mapping: keys checked, values converted, rules checked."""
    _check_keys(data, cls, where)
    prefix = "" if cls is SweepConfig else f"{where}."
    hints = _hints(cls)
    kwargs = {f.name: _from_yaml(data[f.name], hints[f.name], prefix + f.name)
              for f in _yaml_fields(cls) if f.name in data}
    return cls(**kwargs)


def from_dict(data: Mapping[str, Any], *, where: str = "config") -> SweepConfig:
    """Build a `SweepConfig` from a plain mapping (parsed YAML); unknown keys are errors."""
    if not isinstance(data, Mapping):
        raise NoisylabError(f"{where} must be a mapping of keys, got {type(data).__name__}")
    return _sync_model(_dataclass_from(SweepConfig, data, where))


def _sync_model(config: SweepConfig) -> SweepConfig:
    """Keep ``train.model`` equal to the first model so that the options stay self-consistent."""
    if config.train.model != config.models[0]:
        return dataclasses.replace(
            config, train=dataclasses.replace(config.train, model=config.models[0]))
    return config


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in _yaml_fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(dict(v)) if isinstance(v, Mapping) else v
                for k, v in sorted(value.items())}
    if isinstance(value, float):
        return float(value)
    return value


def to_dict(config: SweepConfig, *, executor: bool = True) -> dict[str, Any]:
    """The fully resolved config as plain YAML/JSON-friendly values (fields in order).

    ``executor=False`` leaves out the ``executor`` and ``trainer`` sections (they decide where
    and how the runs train, not what a run is).
    """
    data = _plain(config)
    if not executor:
        data.pop("executor")
        data.pop("trainer")
    return data


def to_yaml(config: SweepConfig, *, executor: bool = True) -> str:
    """The fully resolved config as YAML text (round-trips through `load_config`)."""
    import yaml

    return yaml.safe_dump(to_dict(config, executor=executor), sort_keys=False,
                          default_flow_style=None)


def load_config(path: str | Path) -> SweepConfig:
    """Read a sweep config from a YAML file.

    Raises
    ------
    NoisylabError
        When the file is missing or not YAML, or a key is unknown (the message names the key
        and lists the valid ones), or a value breaks a rule.
    """
    from noisylab.readers import parse_yaml, read_text

    path = Path(path)
    data = parse_yaml(read_text(path, what="config file"), where=str(path))
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
    train_keys = [f.name for f in _yaml_fields(TrainOptions)]
    sweep_keys = [f.name for f in _yaml_fields(SweepConfig)]
    for key, value in overrides.items():
        if value is None:
            continue
        if key in EXECUTOR_OVERRIDES:
            base["executor"][EXECUTOR_OVERRIDES[key]] = value
        elif key in TRAINER_OVERRIDES:
            base["trainer"][TRAINER_OVERRIDES[key]] = value
        elif key in train_keys:
            base["train"][key] = value
        elif key in sweep_keys:
            base[key] = value
        else:
            raise NoisylabError(
                f"unknown option {key!r}; valid: {', '.join(sweep_keys + train_keys)}")
    return from_dict(base)


def merge_method_options(current: Mapping[str, Mapping[str, Any]] | None,
                         items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--method-option`` values merged into a config's ``method_options``.

    Each item is ``METHOD.KEY=VALUE``, VALUE parsed like a YAML value (``0.8``, ``true``,
    ``level``); a later item overrides an earlier one and the YAML's. The names and values are
    checked later, with the rest of the config (`noisylab.training.methods.resolve_methods`).

    Raises
    ------
    NoisylabError
        An item that is not ``METHOD.KEY=VALUE``.
    """
    import yaml

    out = {name: dict(opts) for name, opts in (current or {}).items()}
    for item in items:
        target, sep, text = str(item).partition("=")
        method, dot, key = target.strip().partition(".")
        if not (sep and dot and method and key and text.strip()):
            raise NoisylabError(
                f"--method-option must be METHOD.KEY=VALUE (e.g. gce.q=0.5), got {item!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        out.setdefault(method, {})[key.strip()] = value
    return out


#: Fields added after results folders existed, with the default at which the hash leaves them out.
HASH_OMITS_AT_DEFAULT = {"methods": ["ce"], "method_options": {}}
#: The same for fields of ``train``: Adam's epsilon at Keras' default (what every earlier run
#: used) and the warm-up at its default (an earlier folder resumed under this version trains its
#: remaining runs with the warm-up; its finished runs are kept as they are), and the best-epoch
#: restore at its default (what every earlier run did).
TRAIN_HASH_OMITS_AT_DEFAULT = {"adam_epsilon": 1e-7, "min_epochs": 3, "restore_best": True}


def config_hash(config: SweepConfig) -> str:
    """A stable 12-hex-digit hash of everything that decides the runs' results.

    The ``name`` (it only picks a folder), the ``executor`` and the ``trainer`` (they only
    decide where and how runs train) are left out. The hash is computed from sorted JSON, so
    it does not depend on Python's hash seed or on key order in the YAML file.
    """
    data = to_dict(config, executor=False)
    data.pop("name")
    # Fields added after folders were written are left out at their default, so that those
    # folders keep their hash (and resume) under this version.
    for key, default in HASH_OMITS_AT_DEFAULT.items():
        if data.get(key) == default:
            data.pop(key)
    train = data.get("train")
    if isinstance(train, dict):
        data["train"] = {k: v for k, v in train.items()
                         if not (k in TRAIN_HASH_OMITS_AT_DEFAULT
                                 and v == TRAIN_HASH_OMITS_AT_DEFAULT[k])}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def default_config() -> SweepConfig:
    """What ``noisylab sweep`` runs with no options (also written out as configs/default.yaml).

    digits, random noise at 0, 0.1, ..., 0.9, one repeat, ``seed-cnn``, clean validation, and
    `TrainOptions`' defaults (on digits' 1,437 images Adam 2e-3 and batch 64 by the recipe,
    up to 20 epochs, patience 3 counted after a warm-up of 3 epochs).
    """
    return SweepConfig(name="default")
