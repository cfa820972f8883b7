"""The option groups of a sweep: how a run trains (`TrainOptions`), where the runs train
(`ExecutorOptions`) and how they share a device (`TrainerOptions`), and the field helper that
gives every option its rule.

Each field states its own rule in its metadata (``check``, applied on construction by
`_run_checks`); `noisylab.config.convert` walks the same fields for YAML. Internal to
`noisylab.config`, which re-exports the public names.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from noisylab.errors import NoisylabError
from noisylab.validate import check_bool, check_choice, check_scalar

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
