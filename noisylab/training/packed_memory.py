"""Packs that fit the device's memory: `train_in_packs` sizes `noisylab.training.packed.train_pack`.

The number of places of a pack is at most what `device_memory` holds of `member_bytes`; a pack
that still runs out of memory (XLA's RESOURCE_EXHAUSTED) starts its unfinished members again with
half the places, down to one. Every reduction is reported through ``on_note``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from noisylab.config import TrainOptions
from noisylab.training.packed import PackMember, check_backend, pack_shapes, train_pack
from noisylab.training.recipe import resolve_recipe
from noisylab.training.result import TrainResult


def member_bytes(model, batch_size: int) -> int:
    """An upper estimate of the device memory one member of a pack needs, in bytes.

    Its variables six times over (weights, gradients, Adam's two moments, the best weights, the
    updated weights) and three float32 copies of every layer's output for a batch (forward
    values, their gradients and a temporary).
    """
    params = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in model.variables)
    activations = 0
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        shape = getattr(shape, "shape", None)
        if shape is not None:
            activations += int(np.prod([d for d in shape[1:] if d is not None]))
    return 6 * params + 3 * 4 * activations * int(batch_size)


def device_memory() -> int:
    """Bytes a pack may use on JAX's default device: 80 % of an accelerator's limit, half of
    the host's available memory on a CPU."""
    import os

    import jax

    device = jax.devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and stats.get("bytes_limit"):
        return int(0.8 * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        free = 4 * 2**30
    return int(0.5 * free)


def _out_of_memory(exc: BaseException) -> bool:
    return "RESOURCE_EXHAUSTED" in str(exc) or "out of memory" in str(exc).lower()


def train_in_packs(
    train_images: np.ndarray,
    val_images: np.ndarray,
    test_images: np.ndarray,
    members: Sequence[PackMember],
    *,
    options: TrainOptions,
    num_classes: int,
    slots: int,
    dataset_name: str | None = None,
    method: tuple[str, dict] | None = None,
    on_epoch_end: Callable[[int, int, dict], None] | None = None,
    on_done: Callable[[int, TrainResult, int], None] | None = None,
    mechanism: str = "unroll",
    on_note: Callable[[str], None] | None = None,
    memory: int | None = None,
) -> list[tuple[TrainResult, int]]:
    """`train_pack` with as many slots as fit the device's memory; per member (result, slots).

    The slots are at most ``slots`` and ``memory // member_bytes``; when the pack still runs
    out of memory, the members not yet finished start again with half the slots, down to one.
    ``on_note`` hears of every reduction, with the size chosen; ``on_done(member, result,
    slots)`` of every member as it finishes.

    Parameters
    ----------
    slots : int
        The pack size asked for (``trainer.pack_size``).
    memory : int, optional
        Bytes a pack may use (default `device_memory`).
    Other parameters
        As for `train_pack`.
    """
    from noisylab.training.loop import fresh_model, fresh_session

    check_backend()
    if not members:
        return []
    n_fit, _, _ = pack_shapes(members)
    _, batch_size = resolve_recipe(options.learning_rate, options.batch_size, n_fit)
    with fresh_session(0, options):
        probe = fresh_model(options, np.zeros((1, *train_images.shape[1:]), np.float32),
                            num_classes, dataset_name)
        need = member_bytes(probe, min(batch_size, n_fit))
    data = train_images.nbytes + val_images.nbytes + test_images.nbytes
    budget = (device_memory() if memory is None else int(memory)) - 4 * data
    size = min(int(slots), len(members))
    fits = max(1, budget // max(need, 1))
    if size > fits:
        if on_note is not None:
            on_note(f"a pack of {size} runs needs about {need * size / 2**20:.0f} MiB, more "
                    f"than the {max(budget, 0) / 2**20:.0f} MiB available: packs of {fits}")
        size = fits
    results: dict[int, tuple[TrainResult, int]] = {}
    todo = list(range(len(members)))
    while todo:
        def done(i, result, _todo=tuple(todo), _size=size):
            results[_todo[i]] = (result, _size)
            if on_done is not None:
                on_done(_todo[i], result, _size)

        def hook(i, epoch, logs, _todo=tuple(todo)):
            if on_epoch_end is not None:
                on_epoch_end(_todo[i], epoch, logs)

        try:
            train_pack(train_images, val_images, test_images, [members[i] for i in todo],
                       options=options, num_classes=num_classes, dataset_name=dataset_name,
                       method=method, on_epoch_end=hook, on_done=done, mechanism=mechanism,
                       slots=size)
        except Exception as exc:
            if size == 1 or not _out_of_memory(exc):
                raise
            size = (size + 1) // 2
            left = sum(i not in results for i in todo)
            if on_note is not None:
                on_note(f"a pack ran out of device memory: {left} unfinished runs start again "
                        f"in packs of {size}")
        todo = [i for i in todo if i not in results]
    return [results[i] for i in range(len(members))]
