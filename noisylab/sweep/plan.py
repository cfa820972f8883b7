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
from noisylab.sweep.grid import GridPoint, Run, expand
from noisylab.sweep.naming import FolderChoice, choose_folder
from noisylab.validate import check_choice, check_names

#: The option of a ``label_sets`` kind (human) that lists its grid points in a sweep.
LABEL_SETS_OPTION = "label_sets"


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
    points : dict
        The named grid points (human label sets) by (dataset, noise kind); see
        `noisylab.sweep.grid.GridPoint`.
    data_dir : str
        Where prepared datasets are looked up by name (worker processes load them again there).
    """

    config: SweepConfig
    folder: ResultsFolder
    runs: list[Run]
    todo: list[Run]
    datasets: dict[str, Any] = field(repr=False)
    force: bool = False
    named: FolderChoice | None = None
    points: dict[tuple[str, str], list[GridPoint]] = field(default_factory=dict)
    data_dir: str = "data"

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)


def _model_names() -> Sequence[str]:
    from noisylab.training.models import MODEL_NAMES

    return MODEL_NAMES


def sweepable_noise_kinds() -> tuple[str, ...]:
    """The noise kinds a sweep can vary (over levels or label sets), from the noise registry."""
    from noisylab.noise import KINDS

    return tuple(name for name, kind in KINDS.items() if kind.grid is not None)


def label_sets(config: SweepConfig, kind: str) -> tuple[str, ...]:
    """The label sets a ``label_sets`` kind is swept over (its ``label_sets`` option)."""
    given = config.noise_options.get(kind, {}).get(LABEL_SETS_OPTION)
    if given is None:
        raise NoisylabError(
            f"noise kind {kind!r} has no levels; name its label sets in noise_options: "
            f"{{{kind}: {{{LABEL_SETS_OPTION}: [cifar10n:aggre, cifar10n:worse]}}}}")
    return check_names([given] if isinstance(given, str) else list(given),
                       f"noise_options.{kind}.{LABEL_SETS_OPTION}")


def check_noise_kinds(config: SweepConfig) -> None:
    """Check the noise kinds (and their options' keys) against `noisylab.noise.KINDS`."""
    from noisylab.noise import KINDS
    from noisylab.noise.core import check_options

    kinds = sweepable_noise_kinds()
    for kind in config.noise:
        check_choice(kind, "noise", kinds, what="noise kind")
    for kind in config.noise_options:
        if kind not in config.noise:
            raise NoisylabError(
                f"noise_options names {kind!r}, which is not among the swept kinds: "
                f"{', '.join(config.noise)}")
        if KINDS[kind].grid == "label_sets":
            # Each set becomes a grid point; the kind's other options are filled in per run.
            check_options(kind, dict(config.noise_options[kind]), (LABEL_SETS_OPTION,))
        else:
            check_options(kind, dict(config.noise_options[kind]), KINDS[kind].options)
    for kind in config.noise:
        if KINDS[kind].grid == "label_sets":
            label_sets(config, kind)


def label_set_points(config: SweepConfig, datasets: dict[str, Any], *,
                     data_dir: str | Path = "data") -> dict[tuple[str, str], list[GridPoint]]:
    """The grid points of every ``label_sets`` kind: each set resolved, checked, and measured.

    A short name (``cifar10n:worse``) is looked for in ``data_dir`` and next to the dataset
    file. Each set's file must hold the dataset's training labels as ``clean_label`` in the
    same order; the point's level is the set's realized rate on them.
    """
    from noisylab.data import resolve_dataset_path
    from noisylab.noise import KINDS
    from noisylab.noise.human import check_order, read_label_set, resolve_label_set

    points: dict[tuple[str, str], list[GridPoint]] = {}
    for kind in config.noise:
        if KINDS[kind].grid != "label_sets":
            continue
        for dataset, ds in datasets.items():
            search = [Path(data_dir)]
            if dataset != "digits":
                search.append(resolve_dataset_path(dataset, data_dir=data_dir).parent)
            found = []
            for name in label_sets(config, kind):
                path, key = resolve_label_set(name, search=search)
                noisy, clean = read_label_set(path, key)
                check_order(clean, ds.y_train, where=f"{path}:{key}")
                found.append(GridPoint(name=name, level=float((noisy != clean).mean()),
                                       label_set=f"{path.resolve()}:{key}"))
            points[(dataset, kind)] = found
    return points


def check_models(config: SweepConfig, *, model_names: Sequence[str] | None = None) -> None:
    """Check the models against the registry (default `noisylab.training.models.MODEL_NAMES`)."""
    names = model_names if model_names is not None else _model_names()
    for model in config.models:
        check_choice(model, "model", names, what="model")


def check_model_inputs(config: SweepConfig, datasets: dict[str, Any]) -> None:
    """Check that every dataset's images are large enough for every model of the registry."""
    from noisylab.training.models import MODEL_NAMES, check_input_shape

    for name, ds in datasets.items():
        for model in config.models:
            if model in MODEL_NAMES:
                check_input_shape(model, ds.x_train.shape[1:], dataset=getattr(ds, "name", name))


def check_executor(config: SweepConfig) -> None:
    """Check the executor's name against the registry, and that Ray is installed for ``ray``."""
    from noisylab.sweep.executors import EXECUTORS

    check_choice(config.executor.kind, "executor", tuple(EXECUTORS), what="executor")
    if config.executor.kind == "ray":
        from noisylab.sweep.executors.ray_cluster import import_ray

        import_ray()


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
        Unknown noise kind, model, executor or dataset, Ray missing for ``executor: ray``, an
        invalid HDF5 file, a subset larger than the training set, an unwritable output folder,
        or a folder holding another config.
    """
    check_noise_kinds(config)
    named = None
    if out is None:
        named = choose_folder(config)
        out = named.path
    folder = ResultsFolder(out)
    check_executor(config)
    folder.check(config)
    datasets = load_datasets(config, data_dir=data_dir)
    check_models(config, model_names=model_names)
    check_model_inputs(config, datasets)
    points = label_set_points(config, datasets, data_dir=data_dir)
    runs = expand(config, points)
    done = set() if force else folder.finished(config)
    todo = [r for r in runs if r.run_id not in done]
    return SweepPlan(config=config, folder=folder, runs=runs, todo=todo, datasets=datasets,
                     force=force, named=named, points=points, data_dir=str(data_dir))
