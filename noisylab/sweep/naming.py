"""Name a sweep's results folder after what it runs, and find that folder again on resume.

`folder_name(config)` is pure: the name follows from the config alone.

1. The config's ``name``, when it is not the default's (``default``): the user chose it, in YAML or
   with ``--name``.
2. ``default``, when the config runs exactly the built-in sweep (same `config_hash` as
   `default_config()`).
3. Otherwise ``<datasets>-<noise kinds>``, then one token for every other field that differs from
   `default_config()`, in the dataclass's field order (nested dataclasses and mappings such as
   ``train`` and ``noise_options`` field by field). Lists are joined with ``+``; a token is the
   field's (short) name followed by its value: ``seed3``, ``repeats3``, ``lr0.001``,
   ``levels0+0.5`` (more than three levels: ``levels0..0.8x5``, first..last x count),
   ``val_noisy`` and ``model_allconv`` (an underscore before a value that starts with a letter),
   ``augment`` / ``no_augment`` for booleans, ``no_subset`` for None. Datasets are their short
   names (the file stem of a path). A field that the config hash leaves out (``name``) is never
   named: it does not change the results.

   ``--dataset mnist --noise random`` gives ``mnist-random``; ``--noise flip --levels 0,0.5``
   gives ``digits-flip-levels0+0.5``; ``--dataset mnist --noise random,flip --seed 3`` gives
   ``mnist-random+flip-seed3``.

Names use only ``A-Z a-z 0-9 . _ + -`` and are at most `MAX_NAME` (80) characters: a longer name
is cut at its last ``-`` or ``+`` that leaves room for ``-`` and the first 6 hex digits of the
config hash, which it then ends in (so a cut name still names one config).

`choose_folder(config)` picks the folder under ``results/``: ``<name>`` when it is free or holds
this config; else ``<name>-<6 hex digits of the hash>`` (then the full 12-digit hash), so that a
changed option the name does not show lands next to the first folder instead of being refused,
and the same command finds the same folder again. It reads the folders and creates nothing.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noisylab.config import SweepConfig, config_hash, default_config, from_dict, to_dict
from noisylab.errors import NoisylabError
from noisylab.results import ResultsFolder, check_writable
from noisylab.sweep.grid import short_name

#: The longest folder name `folder_name` returns.
MAX_NAME = 80
#: Hex digits of the config hash in a suffix.
HASH_DIGITS = 6
#: Where ``noisylab sweep`` puts results folders without ``--out``.
RESULTS_ROOT = Path("results")

#: Shorter names for some fields in folder names; any other field is named as it is spelled.
SHORT = {
    "models": "model", "methods": "method", "learning_rate": "lr", "batch_size": "batch",
    "val_fraction": "valfrac", "test_size": "testsize", "mixed_precision": "bf16",
    "deterministic": "det", "reduce_lr": "reducelr",
}
#: Fields that make up the head of every derived name, in this order.
HEAD = ("datasets", "noise")

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_")


def _number(value: float | int) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:g}"
    return str(value)


def _value(value: Any) -> str:
    """A field's value in a name (without the field's name)."""
    if isinstance(value, (list, tuple)):
        items = list(value)
        if len(items) > 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                  for v in items):
            return f"{_number(items[0])}..{_number(items[-1])}x{len(items)}"
        return "+".join(_value(v) for v in items)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(value)
    return _safe(str(value))


def _token(key: str, value: Any) -> str:
    key = SHORT.get(key, key)
    if isinstance(value, bool):
        return key if value else f"no_{key}"
    if value is None:
        return f"no_{key}"
    text = _value(value)
    if not text or text[0].isdigit() or text[0] == ".":
        return f"{key}{text}"
    return f"{key}_{text}"


def _differences(mine: Mapping, base: Mapping, path: tuple[str, ...] = ()):
    """``(path, value)`` of every leaf of ``mine`` that differs from ``base``, in field order."""
    for key, value in mine.items():
        if not path and key in HEAD:
            continue
        other = base.get(key)
        if value == other:
            continue
        if isinstance(value, Mapping):
            yield from _differences(value, other if isinstance(other, Mapping) else {},
                                    (*path, key))
        else:
            yield (*path, key), value


def _changes_results(path: tuple[str, ...], value: Any, base: dict, base_hash: str) -> bool:
    """Whether setting ``path`` to ``value`` in the default config changes the config hash."""
    probe = copy.deepcopy(base)
    target = probe
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    try:
        return config_hash(from_dict(probe)) != base_hash
    except NoisylabError:  # valid only together with other changes: it does decide the results
        return True


def folder_name(config: SweepConfig) -> str:
    """The name of the results folder for ``config`` (see the module docstring for the rule).

    Parameters
    ----------
    config : SweepConfig

    Returns
    -------
    str
        Filesystem-safe (``A-Z a-z 0-9 . _ + -``), at most `MAX_NAME` characters, the same for
        the same config in every process.
    """
    default = default_config()
    if config.name != default.name:
        return config.name
    digest = config_hash(config)
    base_hash = config_hash(default)
    if digest == base_hash:
        return default.name
    mine, base = to_dict(config), to_dict(default)
    tokens = ["+".join(short_name(d) for d in config.datasets), "+".join(config.noise)]
    for path, value in _differences(mine, base):
        if _changes_results(path, value, base, base_hash):
            tokens.append(_token(path[-1], value))
    tokens = [_safe(t) for t in tokens if _safe(t)]
    name = "-".join(tokens).lstrip(".-_+") or "sweep"
    if len(name) <= MAX_NAME:
        return name
    suffix = f"-{digest[:HASH_DIGITS]}"
    kept = name[: MAX_NAME - len(suffix) + 1]
    cut = max(kept.rfind("-"), kept.rfind("+"))
    kept = kept[:cut] if cut > 0 else kept[:-1]
    return kept.rstrip(".-_+") + suffix


@dataclass(frozen=True)
class FolderChoice:
    """Where a sweep without ``--out`` writes, and why.

    Attributes
    ----------
    path : Path
        The folder, ``results/<name>`` or ``results/<name>-<hash>``.
    name : str
        ``path``'s last part. The config's own ``name`` is left as it is (``default`` when the
        user chose none), so a folder's ``config.yaml`` derives the same name again.
    taken : tuple of Path
        Folders tried first that hold another config (empty when ``path`` is the plain name).
    """

    path: Path
    name: str
    taken: tuple[Path, ...] = field(default=())

    @property
    def suffixed(self) -> bool:
        """Whether the config hash was appended because the plain name was taken."""
        return bool(self.taken)


def _state(folder: ResultsFolder, config: SweepConfig) -> str:
    """``"mine"`` (holds this config), ``"free"`` (absent or empty) or ``"taken"``."""
    if not folder.path.exists():
        return "free"
    try:
        folder.check(config)
    except NoisylabError:
        return "taken"
    return "mine" if folder.config_file.is_file() else "free"


def choose_folder(config: SweepConfig, *, root: str | Path = RESULTS_ROOT) -> FolderChoice:
    """The results folder under ``root`` for ``config``; reads folders, creates nothing.

    The first of ``<name>``, ``<name>-<6 hex>``, ``<name>-<12 hex>`` that holds this config is
    chosen (a resume); failing that, the first that is free. ``<name>`` is `folder_name`.

    Raises
    ------
    NoisylabError
        When ``root`` cannot be written, or every candidate holds another config.
    """
    root = Path(root)
    check_writable(root)
    name = folder_name(config)
    digest = config_hash(config)
    names = list(dict.fromkeys([name, f"{name}-{digest[:HASH_DIGITS]}", f"{name}-{digest}"]))
    states = [(n, _state(ResultsFolder(root / n), config)) for n in names]
    for wanted in ("mine", "free"):
        for i, (n, state) in enumerate(states):
            if state == wanted:
                taken = tuple(root / m for m, s in states[:i] if s == "taken")
                return FolderChoice(path=root / n, name=n, taken=taken)
    raise NoisylabError(
        f"{', '.join(str(root / n) for n in names)} all hold other configs; use --out")
