"""Plan a sweep: check everything, decide which runs to do, create nothing.

`plan_sweep` is the one place where a sweep's inputs are checked against the registries (noise
kinds and their options, models), the datasets are loaded and validated, and the output folder is
checked; a `SweepPlan` that comes out of it can be run without any check failing for a reason
known in advance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noisylab.config import SweepConfig, config_hash
from noisylab.errors import NoisylabError
from noisylab.results import ResultsFolder
from noisylab.sweep.grid import Run, expand
from noisylab.sweep.naming import FolderChoice, choose_folder
from noisylab.validate import check_choice

#: Noise kinds that `noisylab.noise.inject` knows but a sweep cannot vary over a level grid.
UNSWEEPABLE_NOISE = ("file",)


@dataclass
class SweepPlan:
    """A validated sweep: what to run and where, before anything is written.

    Attributes
    ----------
    config : SweepConfig
    folder : ResultsFolder
    runs : list of Run
        The whole grid, in order.
    todo : list of Run
        The runs still to do (all of them with ``force``).
    datasets : dict
        Loaded `noisylab.data.Dataset` by the config's dataset entry.
    force : bool
    named : FolderChoice or None
        How the folder was chosen when no ``out`` was given (None with ``out``).
    """

    config: SweepConfig
    folder: ResultsFolder
    runs: list[Run]
    todo: list[Run]
    datasets: dict[str, Any] = field(repr=False)
    force: bool = False
    named: FolderChoice | None = None

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)


def _model_names() -> Sequence[str]:
    from noisylab.training.models import MODEL_NAMES

    return MODEL_NAMES


def sweepable_noise_kinds() -> tuple[str, ...]:
    """The noise kinds a sweep can vary over a level grid, from the noise registry."""
    from noisylab.noise import NOISE_KINDS

    return tuple(k for k in NOISE_KINDS if k not in UNSWEEPABLE_NOISE)


def check_noise_kinds(config: SweepConfig) -> None:
    """Check the noise kinds (and their options' keys) against `noisylab.noise.NOISE_KINDS`."""
    from noisylab.noise import KIND_OPTIONS
    from noisylab.noise.core import check_options

    kinds = sweepable_noise_kinds()
    for kind in config.noise:
        check_choice(kind, "noise", kinds, what="noise kind")
    for kind in config.noise_options:
        if kind not in config.noise:
            raise NoisylabError(
                f"noise_options names {kind!r}, which is not among the swept kinds: "
                f"{', '.join(config.noise)}")
        check_options(kind, dict(config.noise_options[kind]), KIND_OPTIONS[kind])


def check_models(config: SweepConfig, *, model_names: Sequence[str] | None = None) -> None:
    """Check the models against the registry (default `noisylab.training.models.MODEL_NAMES`)."""
    names = model_names if model_names is not None else _model_names()
    for model in config.models:
        check_choice(model, "model", names, what="model")


def load_datasets(config: SweepConfig, *, data_dir: str | Path = "data") -> dict[str, Any]:
    """Load and validate every dataset of the sweep (an invalid HDF5 file raises here)."""
    from noisylab.data import load_dataset

    loaded = {}
    for name in config.datasets:
        ds = load_dataset(name, test_size=config.test_size, seed=config.seed, data_dir=data_dir)
        n_train = len(ds.y_train)
        if config.subset is not None and config.subset > n_train:
            raise NoisylabError(
                f"subset must be at most the training set size of {name} ({n_train}), "
                f"got {config.subset}")
        if config.val == "clean" and len(ds.y_test) < 2:
            raise NoisylabError(f"val clean needs >= 2 test images in {name}, got {len(ds.y_test)}")
        loaded[name] = ds
    return loaded


def plan_sweep(config: SweepConfig, out: str | Path | None = None, *, force: bool = False,
               model_names: Sequence[str] | None = None,
               data_dir: str | Path = "data") -> SweepPlan:
    """Validate a sweep and decide which runs to do; creates no file or folder.

    Parameters
    ----------
    config : SweepConfig
    out : path-like, optional
        Results folder, used as given. When None, `noisylab.sweep.naming.choose_folder` picks
        ``results/<name>`` (the name derived from the config, with a hash suffix when that
        folder holds another config).
    force : bool
        Redo runs already in runs.csv (same config). A folder of another config is refused
        even with ``force``.
    model_names : sequence of str, optional
        Valid model names (default: `noisylab.training.models.MODEL_NAMES`, which imports Keras).
    data_dir : path-like
        Where prepared datasets are looked up by name.

    Raises
    ------
    NoisylabError
        Unknown noise kind, model or dataset, an invalid HDF5 file, a subset larger than the
        training set, an unwritable output folder, or a folder holding another config.
    """
    check_noise_kinds(config)
    named = None
    if out is None:
        named = choose_folder(config)
        out = named.path
    folder = ResultsFolder(out)
    folder.check(config)
    datasets = load_datasets(config, data_dir=data_dir)
    check_models(config, model_names=model_names)
    runs = expand(config)
    done = set() if force else folder.finished(config)
    todo = [r for r in runs if r.run_id not in done]
    return SweepPlan(config=config, folder=folder, runs=runs, todo=todo, datasets=datasets,
                     force=force, named=named)
