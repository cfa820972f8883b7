"""YAML in, resolved YAML out: `SweepConfig` from and to plain mappings, driven by the dataclass
fields (unknown keys are errors), command-line overrides, and the config hash.

Internal to `noisylab.config`, which re-exports the public names.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import typing
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from noisylab.config.options import (
    EXECUTOR_OVERRIDES,
    TRAINER_OVERRIDES,
    ExecutorOptions,
    TrainerOptions,
    TrainOptions,
)
from noisylab.config.sweep import SweepConfig, parse_levels
from noisylab.errors import NoisylabError

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
