"""Plan a sweep: check everything, decide which runs to do, create nothing.

`plan_sweep` is the one place where a sweep's inputs are checked against the registries (noise
kinds and their options, models), the datasets are loaded and validated, and the output folder is
checked; a `SweepPlan` that comes out of it can be run without any check failing for a reason
known in advance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from noisylab.config import SweepConfig, config_hash
from noisylab.errors import NoisylabError
from noisylab.results import ResultsFolder
from noisylab.sweep.grid import GridPoint, Run, expand
from noisylab.sweep.naming import FolderChoice, choose_folder
from noisylab.sweep.packing import choose_trainer
from noisylab.validate import check_choice, check_names

#: The largest grid `plan_sweep` accepts without ``max_runs=None`` (the CLI's ``--yes``).
MAX_RUNS = 10_000

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
    method_options : dict of str to str
        Each swept method's fully resolved options (compact JSON).
    trainer : {'keras', 'packed'}
        The trainer the runs use (`noisylab.sweep.packing.choose_trainer`).
    trainer_note : str or None
        Why, when ``trainer: auto`` chose it.
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
    method_options: dict[str, str] = field(default_factory=dict)
    trainer: str = "keras"
    trainer_note: str | None = None

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


def resolve_method_options(config: SweepConfig) -> tuple[SweepConfig, dict[str, str]]:
    """Check the methods and their options against `noisylab.training.methods.METHODS`.

    Returns
    -------
    config : SweepConfig
        With ``method_options`` in canonical form: only options that differ from the method's
        default (so spelling a default out changes neither the hash nor the folder).
    resolved : dict of str to str
        Each swept method's fully resolved options as compact JSON (for its runs' rows).
    """
    import dataclasses

    from noisylab.training.methods import METHODS, options_text, resolve_methods

    resolved = resolve_methods(config.methods, config.method_options)
    canonical = {}
    for name, options in resolved.items():
        changed = {k: v for k, v in options.items() if v != METHODS[name].options[k].default}
        if changed:
            canonical[name] = changed
    config = dataclasses.replace(config, method_options=canonical)
    return config, {name: options_text(options) for name, options in resolved.items()}


def check_method_data(config: SweepConfig, datasets: dict[str, Any],
                      resolved: dict[str, str]) -> None:
    """Refuse a sweep whose methods cannot run on its data, before any folder exists.

    A method that estimates T from anchor points (``forward``/``backward`` with ``T:
    estimated``) needs every class among the training samples: a class without any has no
    anchor candidate.
    """
    import json

    import numpy as np

    from noisylab.training.methods import METHODS

    estimating = [m for m, text in resolved.items()
                  if METHODS[m].needs_ce_model(json.loads(text)) and METHODS[m].transition]
    if not estimating:
        return
    for name, ds in datasets.items():
        counts = np.bincount(np.asarray(ds.y_train, dtype=np.int64), minlength=ds.num_classes)
        empty = np.flatnonzero(counts == 0)
        if empty.size or (config.subset is not None and config.subset < ds.num_classes):
            which = (f"class {int(empty[0])} has no training image" if empty.size else
                     f"subset {config.subset} < {ds.num_classes} classes leaves a class out")
            raise NoisylabError(
                f"method {estimating[0]!r} with T: estimated needs an anchor candidate in every "
                f"class, but in {name} {which}; use T: known or another method")


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
        check_dataset_shape(name, ds, config)
        loaded[name] = ds
    return loaded


def check_dataset_shape(name: str, ds, config: SweepConfig) -> None:
    """Refuse a dataset no run could train on: fewer than 2 classes, an image axis of size 0,
    or a training set (after ``subset`` and a noisy validation split) without room for every
    class."""
    L = ds.num_classes
    present = len(np.unique(ds.y_train))
    if L < 2 or present < 2:
        raise NoisylabError(f"{name} must have at least 2 classes in its training labels, "
                            f"got {present}")
    shape = tuple(int(v) for v in ds.x_train.shape[1:])
    if not shape or min(shape) < 1:
        raise NoisylabError(f"{name} images must have a height, width and channels of at "
                            f"least 1, got shape {shape}")
    n_used = config.subset if config.subset is not None else len(ds.y_train)
    if n_used < L:
        raise NoisylabError(f"subset must be at least the number of classes of {name} ({L}), "
                            f"so that every class can be in the training set, got {n_used}")
    if config.val == "noisy":
        n_fit = n_used - max(1, round(config.val_fraction * n_used))
        if n_fit < L:
            raise NoisylabError(
                f"val noisy holds out {n_used - n_fit} of the {n_used} training images of "
                f"{name}, leaving {n_fit} to train on, fewer than its {L} classes; use a "
                "larger subset or val clean")


def check_grid_size(config: SweepConfig, *, max_runs: int | None = MAX_RUNS) -> None:
    """Refuse a grid of more than ``max_runs`` runs (None: no limit) before it is expanded."""
    n = config.n_runs
    if max_runs is not None and n > max_runs:
        raise NoisylabError(
            f"the grid has {n:,} runs ({len(config.datasets)} dataset(s) x {len(config.noise)} "
            f"noise kind(s) x {len(config.levels)} level(s) x {config.repeats} repeat(s) x "
            f"{len(config.models)} model(s)), more than {max_runs:,}; pass --yes to run it "
            "anyway")


def dry_run_noise(config: SweepConfig, runs: Sequence[Run], datasets: dict[str, Any]) -> None:
    """Prepare one run per (dataset, noise kind), at its highest level: every noise option
    value, the subset and the validation split go through the same code the runs use, so a
    bad value is refused here rather than after the folder exists. Clean-model features
    (``features: model``) are stood in for by PCA features."""
    from noisylab.sweep.execute import prepare_run
    from noisylab.sweep.features import needs_model_features

    chosen: dict[tuple[str, str], Run] = {}
    for run in runs:
        key = (run.dataset, run.noise)
        if key not in chosen or run.level > chosen[key].level:
            chosen[key] = run
    for (dataset, kind), run in chosen.items():
        cfg = config
        if needs_model_features(run, config):
            options = {k: dict(v) for k, v in config.noise_options.items()}
            options["concentrated"]["features"] = "pca"
            cfg = dataclasses.replace(config, noise_options=options)
        try:
            prepare_run(run, config=cfg, config_hash="dry-run", dataset=datasets[dataset])
        except NoisylabError as exc:
            raise NoisylabError(f"{kind} noise on {dataset}: {exc}") from None
        except (ValueError, TypeError, IndexError) as exc:
            raise NoisylabError(f"{kind} noise on {dataset} with noise_options "
                                f"{dict(config.noise_options.get(kind, {}))}: "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                                ) from None


def plan_sweep(config: SweepConfig, out: str | Path | None = None, *, force: bool = False,
               model_names: Sequence[str] | None = None,
               data_dir: str | Path = "data", max_runs: int | None = MAX_RUNS) -> SweepPlan:
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
    max_runs : int or None
        The largest grid accepted (`MAX_RUNS`; None: any, the CLI's ``--yes``).

    Raises
    ------
    NoisylabError
        Unknown noise kind, method (or method option, or value out of its range), model,
        executor or dataset, a method that cannot run on the data, Ray missing for
        ``executor: ray``, JAX missing for ``trainer: packed``, an invalid HDF5 file, a
        dataset with fewer than 2 classes or an empty image axis, a subset larger than the
        training set or smaller than its class count, a noise option value its injector
        refuses (dry run), a grid over ``max_runs``, an unwritable output folder, or a folder
        holding another config.
    """
    check_noise_kinds(config)
    config, method_options = resolve_method_options(config)
    check_grid_size(config, max_runs=max_runs)
    named = None
    if out is not None and not str(out).strip():
        raise NoisylabError("--out must name a folder, got ''")
    if out is None:
        named = choose_folder(config)
        out = named.path
    folder = ResultsFolder(out)
    check_executor(config)
    folder.check(config)
    datasets = load_datasets(config, data_dir=data_dir)
    trainer, trainer_note = choose_trainer(config, datasets)
    check_models(config, model_names=model_names)
    check_method_data(config, datasets, method_options)
    check_model_inputs(config, datasets)
    points = label_set_points(config, datasets, data_dir=data_dir)
    runs = expand(config, points, method_options)
    dry_run_noise(config, runs, datasets)
    done = set() if force else folder.finished(config)
    todo = [r for r in runs if r.run_id not in done]
    return SweepPlan(config=config, folder=folder, runs=runs, todo=todo, datasets=datasets,
                     force=force, named=named, points=points, data_dir=str(data_dir),
                     method_options=method_options, trainer=trainer,
                     trainer_note=trainer_note)
