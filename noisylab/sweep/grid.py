"""The grid: expand a `SweepConfig` into runs, each with its own named seed streams.

A noise kind without synthetic levels (``human``) contributes named grid points instead of the
config's levels: each of its label sets is one point whose level is its realized rate (computed by
`noisylab.sweep.plan`, which reads the files); its seeds use the set's name in place of the level.

Seeds come from `numpy.random.SeedSequence` with entropy ``(root seed, dataset, noise, level,
repeat)`` — never the model or the method, so that every model and method at a grid point sees the
same split, the same noisy labels and the same initialisation seed; strings and the level are
turned into integers with SHA-256 (never Python's ``hash``, which changes with ``PYTHONHASHSEED``).
One child stream per purpose — split, noise, model init — so that, e.g., changing the model does
not change which labels get corrupted. A run's seeds do not depend on the rest of the grid: adding
a level or a repeat leaves the other runs' seeds unchanged.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noisylab.axes import run_id_parts
from noisylab.config import SweepConfig
from noisylab.data.hdf5 import H5_SUFFIXES
from noisylab.errors import NoisylabError

#: The purposes, in the order of `SeedSequence.spawn`; never reorder (it would change every seed).
STREAMS = ("split", "noise", "model")


@dataclass(frozen=True)
class Run:
    """One training run of the grid.

    Attributes
    ----------
    run_id : str
        `make_run_id`: ``f"{dataset}-{noise}-{level:.3f}-r{repeat}[-{method}]-{model}"``,
        filesystem-safe; the method is left out for ``ce`` (ids of folders written before
        methods existed).
    dataset : str
        As given in the config (a name or a path).
    dataset_name : str
        Short name: the name itself, or the file stem of a path.
    noise : str
    level : float
    repeat : int
        From 0.
    model : str
    seed_split, seed_noise, seed_model : int
        Seeds (< 2**32) of the split, noise and model-init streams.
    label_set : str
        For a grid point of named label sets (``human``): the set, resolved to ``PATH:KEY``;
        empty otherwise.
    method : str
        A method of `noisylab.training.methods.METHODS`.
    method_options : str
        Its resolved options as compact JSON (`noisylab.training.methods.options_text`).
    """

    run_id: str
    dataset: str
    dataset_name: str
    noise: str
    level: float
    repeat: int
    model: str
    seed_split: int
    seed_noise: int
    seed_model: int
    label_set: str = ""
    method: str = "ce"
    method_options: str = "{}"


@dataclass(frozen=True)
class GridPoint:
    """A named grid point of a kind without synthetic levels: a human label set.

    Attributes
    ----------
    name : str
        As given in the config (``cifar10n:worse``); it seeds the run.
    level : float
        The set's realized rate on the dataset's training labels.
    label_set : str
        The set resolved to ``PATH:KEY``.
    """

    name: str
    level: float
    label_set: str


def stable_int(value: str | float | int) -> int:
    """A 32-bit integer from a string or number, the same in every process and platform."""
    if isinstance(value, float):
        text = f"{value:.10f}"
    else:
        text = str(value)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")


def run_seeds(root: int, *parts: str | float | int) -> dict[str, int]:
    """The seed of each stream in `STREAMS` for one run.

    Parameters
    ----------
    root : int
        The sweep's root seed.
    *parts
        What identifies the run, e.g. ``(dataset, noise, level, repeat)``.

    Returns
    -------
    dict
        ``{"split": int, "noise": int, "model": int}``, each in [0, 2**32).
    """
    seq = np.random.SeedSequence([int(root)] + [stable_int(p) for p in parts])
    children = seq.spawn(len(STREAMS))
    return {name: int(child.generate_state(1, dtype=np.uint32)[0])
            for name, child in zip(STREAMS, children, strict=True)}


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def short_name(dataset: str) -> str:
    """A dataset's short, filesystem-safe name: the file stem for paths, else the name."""
    if "/" in dataset or "\\" in dataset or dataset.lower().endswith(H5_SUFFIXES):
        dataset = Path(dataset).stem
    return _UNSAFE.sub("_", dataset).strip("_") or "dataset"


def make_run_id(dataset_name: str, noise: str, level: float, repeat: int, model: str,
                method: str = "ce") -> str:
    """The run id from the axes (`noisylab.axes.run_id_parts`), unsafe characters replaced.

    ``digits-flip-0.300-r0-seed-cnn`` for ``ce``, ``digits-flip-0.300-r0-gce-seed-cnn`` for
    ``gce``.
    """
    raw = "-".join(run_id_parts({"dataset": dataset_name, "noise": noise, "level": level,
                                 "repeat": repeat, "method": method, "model": model}))
    return _UNSAFE.sub("_", raw)


def expand(config: SweepConfig,
           points: dict[tuple[str, str], list[GridPoint]] | None = None,
           method_options: dict[str, str] | None = None) -> list[Run]:
    """All runs of the grid, ordered dataset, noise, model, method, repeat, level.

    Levels vary fastest so that a partial sweep already covers a whole curve.
    Seeds do not depend on the model, so two models at the same grid point see the same split,
    the same corrupted labels and the same initialisation seed.

    Parameters
    ----------
    config : SweepConfig
    points : dict, optional
        ``points[(dataset, noise)]``: the named grid points that replace the config's levels
        for that dataset and noise kind (human label sets; see `GridPoint`).
    method_options : dict, optional
        Each method's resolved options as JSON text (default ``"{}"``); from
        `noisylab.sweep.plan`, which checks them against the method registry.
    """
    points = points or {}
    method_options = method_options or {}
    runs = []
    for dataset in config.datasets:
        name = short_name(dataset)
        for noise in config.noise:
            named = points.get((dataset, noise))
            grid = ([(p.level, p.name, p.label_set) for p in named] if named is not None
                    else [(float(level), float(level), "") for level in config.levels])
            for model in config.models:
                for method in config.methods:
                    for repeat in range(config.repeats):
                        for level, seed_part, label_set in grid:
                            seeds = run_seeds(config.seed, name, noise, seed_part, repeat)
                            runs.append(Run(
                                run_id=make_run_id(name, noise, level, repeat, model, method),
                                dataset=dataset, dataset_name=name, noise=noise,
                                level=float(level), repeat=repeat, model=model,
                                seed_split=seeds["split"], seed_noise=seeds["noise"],
                                seed_model=seeds["model"], label_set=label_set,
                                method=method,
                                method_options=method_options.get(method, "{}"),
                            ))
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[0]
        raise NoisylabError(
            f"two runs share the id {dup!r} (datasets with the same short name, or levels or "
            f"label-set rates equal to 3 decimals); rename a dataset file or space the levels "
            f"further apart")
    return runs
