"""Packed training in a sweep: which trainer, which runs pack together, and the pack task.

``trainer: packed`` groups the runs that share dataset, model, method (with its options) and the
training options — typically every level, repeat and noise kind of one dataset/model/method —
into one task (one per worker of a process executor). The task prepares every member
(`noisylab.sweep.execute.prepare_run`), trains them ``trainer.pack_size`` at a time in one
program, a finished member's place taken by the next
(`noisylab.training.packed_memory.train_in_packs`), and finishes each member as it stops
(`noisylab.sweep.execute.finish_run`), sending its `RunOutcome` (or `TaskFailure`) to the
parent at once as a `RunDone` event: the parent writes every run as it finishes, so a kill
loses only the runs in training.
A run whose method cannot be packed (`noisylab.training.methods.Method.packable`) trains alone
with the ``keras`` trainer.

Packed training needs Keras on the JAX backend: `select_backend` sets ``KERAS_BACKEND=jax``
before Keras loads (the CLI calls it first) and refuses when Keras already runs on another
backend in this process.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from noisylab.config import SweepConfig
from noisylab.errors import NoisylabError
from noisylab.sweep.execute import RunOutcome, finish_run, prepare_run
from noisylab.sweep.executors.base import (
    EpochEnded,
    Note,
    RunDone,
    TaskFailure,
    TaskStarted,
    one_line,
)
from noisylab.sweep.grid import Run

#: ``trainer: auto`` packs on a CPU only when every dataset's images have at most this many
#: pixels. Measured with ``python benchmarks/packed.py`` on a 2-core CPU: the default sweep
#: (digits, 8x8) took 52-60 s packed (pack size 2) against 79 s with keras; on MNIST (28x28)
#: Keras on JAX trains 3.3 times slower than on TensorFlow per run (XLA's CPU convolutions:
#: 201 against 662 images/s for seed-cnn at batch 256), and a pack of 2 reached 0.22x keras.
AUTO_CPU_MAX_PIXELS = 64
#: Pack sizes by JAX platform when ``trainer.pack_size`` is not given: on a 2-core CPU one
#: step of 2 unrolled members cost 10.5 ms a member against 11.8 ms alone, 10 members 12.1 ms
#: (benchmarks/packed.py --mechanisms); an accelerator is filled by many.
DEFAULT_PACK_SIZE = {"cpu": 2}
ACCELERATOR_PACK_SIZE = 32


def jax_installed() -> bool:
    """Whether JAX can be imported (without importing it)."""
    return importlib.util.find_spec("jax") is not None


def jax_platform() -> str:
    """The platform of JAX's default device (``cpu``, ``gpu``, ``tpu``); imports JAX."""
    import jax

    return jax.devices()[0].platform


def default_pack_size(platform: str) -> int:
    """The pack size used when ``trainer.pack_size`` is not given."""
    return DEFAULT_PACK_SIZE.get(platform, ACCELERATOR_PACK_SIZE)


def choose_trainer(config: SweepConfig, datasets=None) -> tuple[str, str | None]:
    """The trainer a sweep uses (``keras`` or ``packed``) and a note on the choice, if any.

    ``auto``: ``packed`` on a CPU when every dataset's images have at most
    `AUTO_CPU_MAX_PIXELS` pixels (where it was measured to win), else ``keras``; on an
    accelerator ``keras`` too, since no measurement there says otherwise yet (run
    ``benchmarks/gpu.sh``), and ``keras`` without JAX.

    Parameters
    ----------
    config : SweepConfig
    datasets : dict, optional
        The loaded datasets (their image sizes decide ``auto``).

    Raises
    ------
    NoisylabError
        ``packed`` without JAX installed (the message names the extra).
    """
    kind = config.trainer.kind
    if kind == "keras":
        return "keras", None
    if not jax_installed():
        if kind == "packed":
            raise NoisylabError("trainer packed needs JAX: pip install -e '.[jax]' (on an "
                                "NVIDIA GPU: pip install 'jax[cuda12]')")
        return "keras", "trainer auto: keras (JAX is not installed)"
    if kind == "packed":
        return "packed", None
    pixels = max((int(np.prod(d.x_train.shape[1:3])) for d in (datasets or {}).values()),
                 default=0)
    platform = jax_platform()
    if platform == "cpu" and pixels <= AUTO_CPU_MAX_PIXELS:
        return "packed", (f"trainer auto: packed (images of {pixels} pixels on a CPU, where "
                          "packing was measured to win)")
    if platform == "cpu":
        return "keras", (f"trainer auto: keras (images of {pixels} pixels: on a CPU, Keras on "
                         "JAX was measured slower than on TensorFlow at MNIST's size)")
    return "keras", (f"trainer auto: keras (no measurement on {platform} yet says packing wins; "
                     "run benchmarks/gpu.sh, then choose --trainer packed)")


def select_backend() -> None:
    """Make Keras load on the JAX backend in this process (and in the workers it starts).

    Raises
    ------
    NoisylabError
        Keras already runs on another backend here, or ``KERAS_BACKEND`` names another one.
    """
    wanted = os.environ.get("KERAS_BACKEND", "jax")
    if wanted != "jax":
        raise NoisylabError(f"trainer packed needs the JAX backend, but KERAS_BACKEND is "
                            f"{wanted!r}; unset it or set it to jax")
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != "jax":
            raise NoisylabError(
                "trainer packed needs Keras on the JAX backend, but Keras already runs on "
                f"{keras.backend.backend()} in this process; start a new one with "
                "KERAS_BACKEND=jax")
    os.environ["KERAS_BACKEND"] = "jax"


def trainer_settings(config: SweepConfig, trainer: str) -> dict:
    """The trainer's settings for ``metadata.json``."""
    settings = {"requested": config.trainer.kind, "trainer": trainer,
                "backend": os.environ.get("KERAS_BACKEND", "tensorflow")}
    if trainer == "packed":
        settings.update(pack_size=config.trainer.pack_size or "auto",
                        mechanism=config.trainer.mechanism)
    return settings


def pack_group(run: Run, config: SweepConfig) -> tuple | None:
    """What the runs of one pack share, or None when ``run`` cannot be packed."""
    from noisylab.training.methods import get_method

    if not get_method(run.method).packable or config.train.reduce_lr:
        return None
    return (run.dataset, run.model, run.method, run.method_options)


def plan_tasks(runs: Sequence[Run], config: SweepConfig, trainer: str) -> tuple[list, list[str]]:
    """The tasks of a sweep's runs and notes on what could not be packed.

    With ``trainer`` ``keras`` one `noisylab.sweep.tasks.RunTask` per run; with ``packed`` one
    `PackTask` per group (`pack_group`), in grid order — split in as many tasks as the process
    executor has workers —, and a ``RunTask`` for each run that cannot be packed.
    """
    from noisylab.sweep.tasks import RunTask

    if trainer != "packed":
        return [RunTask(run) for run in runs], []
    groups: dict[tuple, list[Run]] = {}
    alone: list[Run] = []
    for run in runs:
        key = pack_group(run, config)
        if key is None:
            alone.append(run)
        else:
            groups.setdefault(key, []).append(run)
    workers = (config.executor.workers or os.cpu_count() or 1
               if config.executor.kind == "process" else 1)
    tasks: list = []
    for members in groups.values():
        size = -(-len(members) // workers)
        tasks += [PackTask(tuple(members[i:i + size])) for i in range(0, len(members), size)]
    notes = []
    if alone:
        why = ("train.reduce_lr is not supported by packed training" if config.train.reduce_lr
               else "their methods cannot be packed: "
               + ", ".join(sorted({r.method for r in alone})))
        notes.append(f"{len(alone)} run(s) train with keras, one at a time ({why})")
    return tasks + [RunTask(run) for run in alone], notes


@dataclass
class PackOutcome:
    """The end of a pack: its members' outcomes went to the parent as `RunDone` events."""

    key: str
    runs: int = 0


@dataclass(frozen=True)
class PackTask:
    """Train the runs of one pack group together; each member is sent as it finishes."""

    runs: tuple[Run, ...]
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"pack:{self.runs[0].run_id}+{len(self.runs) - 1}")

    def execute(self, context) -> PackOutcome:
        import dataclasses
        import json
        import traceback

        from noisylab.sweep.tasks import check_finite
        from noisylab.training.methods import get_method
        from noisylab.training.packed import PackMember
        from noisylab.training.packed_memory import train_in_packs

        config, first = context.config, self.runs[0]
        dataset = context.dataset(first.dataset)
        host, pid = socket.gethostname(), os.getpid()
        prepared = []
        for run in self.runs:
            context.emit(TaskStarted(run.run_id, pid, host, task=self.key))
            prepared.append(prepare_run(run, config=config,
                                        config_hash=context.setup.config_hash, dataset=dataset))
        members = [PackMember(seed=p.run.seed_model, fit_index=p.fit_index, y_fit=p.y_fit,
                              val_index=p.val_index, y_val=p.y_val, test_index=p.test_index)
                   for p in prepared]
        val_images = dataset.x_test if config.val == "clean" else dataset.x_train
        method = (first.method, get_method(first.method).resolve(json.loads(first.method_options)))

        def on_epoch_end(member: int, epoch: int, logs: dict) -> None:
            context.emit(EpochEnded(self.runs[member].run_id, epoch, logs))

        def on_done(member: int, result, slots: int) -> None:
            p = prepared[member]
            try:
                check_finite(result)
                outcome: RunOutcome | TaskFailure = finish_run(
                    p, result, dataset=dataset, trainer="packed", pack_size=slots)
                outcome.work_seconds = result.train_seconds / slots
            except Exception as exc:  # noqa: BLE001 - one member's error must not stop the rest
                outcome = TaskFailure(p.run.run_id, type(exc).__name__,
                                      one_line(exc) or type(exc).__name__, traceback.format_exc())
            context.emit(RunDone(p.run.run_id, outcome))

        train_in_packs(
            dataset.x_train, val_images, dataset.x_test, members,
            options=dataclasses.replace(config.train, model=first.model),
            num_classes=dataset.num_classes,
            slots=config.trainer.pack_size or default_pack_size(jax_platform()),
            dataset_name=dataset.name, method=method, mechanism=config.trainer.mechanism,
            on_epoch_end=on_epoch_end, on_done=on_done,
            on_note=lambda text: context.emit(Note(self.key, text)))
        return PackOutcome(self.key, len(self.runs))
