"""Packed training: P runs of one model trained together in one compiled step (Keras on JAX).

The runs of a sweep that share the dataset, the model, the method and the training options differ
only in their labels, index arrays and seeds. `train_pack` stacks their parameters along a
leading member axis and trains them with Keras' stateless API (``model.stateless_call``,
``optimizer.stateless_apply``) inside one ``jax.jit`` step for the whole pack. Two mechanisms
(`MECHANISMS`): ``unroll`` writes the members' steps side by side into the one program (XLA runs
them in parallel), ``vmap`` maps one step over the member axis with ``jax.vmap`` (per-member
convolution kernels become grouped convolutions). Measured on a 2-core CPU (seed-cnn, digits,
batch 64, 10 members): one step of the pack took 74 ms unrolled, 385 ms under ``vmap`` and
1,120 ms under ``jax.lax.map``, against 13 ms for one member alone; an epoch as one
``jax.lax.scan`` over its batches ran 15 times slower than the same steps called one by one,
so each batch is one call. The images are put on the device once; each member reads them
through its own index arrays.

Each member keeps what the sequential trainer (`noisylab.training.loop.train_model`) gives it:

- its initial weights: the model is built under `noisylab.training.loop.fresh_session` with the
  member's seed, so they equal the ``keras`` trainer's on the same backend;
- its own noisy labels, validation split, data order (a generator seeded from its seed) and
  dropout/augmentation randomness (the layers' seed-generator states are per member);
- its own early stopping by `noisylab.training.stopping.StoppingRule` and best-weight restore:
  a member that has stopped is frozen — ``jnp.where`` keeps its parameters, optimizer state and
  layer state —, its best weights are the ones evaluated, and the next waiting member takes its
  place (`train_pack`).

Timing: each member's ``train_seconds`` is its wall time in the pack (shared with the others)
and its ``images_per_second`` its own images over that time. `noisylab.training.packed_memory`
fits the number of places to the device's memory.

Methods: a method whose training is a per-sample loss of (label, softmax) can be packed
(`noisylab.training.methods.Method.packable`); the sweep trains the others with the sequential
trainer. Needs Keras on the JAX backend (`check_backend`).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from noisylab.config import TrainOptions
from noisylab.errors import NoisylabError
from noisylab.training.recipe import resolve_recipe
from noisylab.training.result import TrainResult
from noisylab.training.stopping import StoppingRule, chance_threshold
from noisylab.validate import check_choice

_EVAL_CHUNK = 1024
#: How a pack's members share one program (see `train_pack`).
MECHANISMS = ("unroll", "vmap")


@dataclass(frozen=True)
class PackMember:
    """One run of a pack: its seed and its index arrays into the dataset's images.

    Attributes
    ----------
    seed : int
        Model seed (initialisation, data order, dropout and augmentation).
    fit_index : ndarray of shape (n_fit,), int
        Positions in the training images that the member trains on.
    y_fit : ndarray of shape (n_fit,), int
        Their (noisy) labels.
    val_index : ndarray of shape (n_val,), int
        Positions in the validation source (`train_pack`'s ``val_images``).
    y_val : ndarray of shape (n_val,), int
    test_index : ndarray of shape (n_test,), int
        Positions in the test images that are predicted.
    """

    seed: int
    fit_index: np.ndarray
    y_fit: np.ndarray
    val_index: np.ndarray
    y_val: np.ndarray
    test_index: np.ndarray


def check_backend() -> None:
    """Raise `NoisylabError` unless Keras runs on the JAX backend in this process."""
    import keras

    backend = keras.backend.backend()
    if backend != "jax":
        raise NoisylabError(
            "packed training needs Keras on the JAX backend, but this process runs Keras on "
            f"{backend}; set KERAS_BACKEND=jax before Keras loads (noisylab sweep --trainer "
            "packed does) and install the jax extra: pip install -e '.[jax]'")


def pack_shapes(members: Sequence[PackMember]) -> tuple[int, int, int]:
    """(n_fit, n_val, n_test) shared by every member; `NoisylabError` when they differ."""
    shapes = {(m.fit_index.size, m.val_index.size, m.test_index.size) for m in members}
    if len(shapes) != 1:
        raise NoisylabError(
            "every member of a pack must have the same numbers of training, validation and "
            f"test samples, got {sorted(shapes)}")
    return shapes.pop()


def initial_state(seeds: Sequence[int], *, options: TrainOptions, input_shape,
                  num_classes: int, dataset_name: str | None):
    """The model (one instance, for its structure) and each member's initial variables.

    Returns
    -------
    (model, trainable, non_trainable)
        ``trainable`` and ``non_trainable``: lists (one entry per model variable) of arrays
        of shape (P, *variable shape), member i's built exactly as the ``keras`` trainer builds
        the model for seed i.
    """
    from noisylab.training.loop import fresh_model, fresh_session

    trainable, non_trainable, model = [], [], None
    dummy = np.zeros((1, *input_shape), dtype=np.float32)
    for seed in seeds:
        with fresh_session(int(seed), options):
            model = fresh_model(options, dummy, num_classes, dataset_name)
            trainable.append([np.asarray(v.numpy()) for v in model.trainable_variables])
            non_trainable.append([np.asarray(v.numpy()) for v in model.non_trainable_variables])
    stack = lambda per_member: [np.stack(vs) for vs in zip(*per_member, strict=True)]  # noqa: E731
    return model, stack(trainable), stack(non_trainable)


def _loss_function(method: tuple[str, dict] | None, num_classes: int) -> Callable:
    import keras

    from noisylab.training.methods.losses import make_loss

    name, opts = method if method is not None else ("ce", {})
    loss = make_loss(name, opts, num_classes=num_classes)
    if isinstance(loss, str):
        return keras.losses.sparse_categorical_crossentropy
    return loss


class _Programs:
    """The compiled functions of one pack: one training step, prediction, best-weight selection."""

    def __init__(self, model, optimizer, loss_fn, mechanism: str):
        import jax
        import jax.numpy as jnp

        def member_step(tv, ntv, ov, x, y, w, active):
            # w: 1 for the batch's samples, 0 for the padding of a short last batch
            def objective(tv):
                probs, new_ntv = model.stateless_call(tv, ntv, x, training=True)
                per_sample = loss_fn(y, probs)
                return jnp.sum(w * per_sample) / jnp.sum(w), (new_ntv, probs)

            (loss, (new_ntv, probs)), grads = jax.value_and_grad(objective, has_aux=True)(tv)
            new_tv, new_ov = optimizer.stateless_apply(ov, grads, tv)
            keep = lambda new, old: jnp.where(active, new, old)  # noqa: E731 - frozen members
            accuracy = jnp.sum(w * (jnp.argmax(probs, axis=-1) == y)) / jnp.sum(w)
            return ([keep(a, b) for a, b in zip(new_tv, tv, strict=True)],
                    [keep(a, b) for a, b in zip(new_ntv, ntv, strict=True)],
                    [keep(a, b) for a, b in zip(new_ov, ov, strict=True)],
                    loss, accuracy)

        if mechanism == "vmap":
            packed_step = jax.vmap(member_step, in_axes=(0, 0, 0, 0, 0, None, 0))
        else:
            def packed_step(tv, ntv, ov, x, y, w, active):
                # one member after another in one program: XLA runs them side by side
                outs = [member_step([v[i] for v in tv], [v[i] for v in ntv], [v[i] for v in ov],
                                    x[i], y[i], w, active[i]) for i in range(len(active))]
                return tuple(jnp.stack(parts) if k >= 3 else
                             [jnp.stack(vs) for vs in zip(*parts, strict=True)]
                             for k, parts in enumerate(zip(*outs, strict=True)))

        def gather(images, index):
            return images[index].astype(jnp.float32)

        def step(state, images, index, labels, weight, active):
            tv, ntv, ov, loss, acc = packed_step(*state, gather(images, index), labels, weight,
                                                 active)
            return (tv, ntv, ov), loss, acc

        def member_predict(tv, ntv, x):
            return model.stateless_call(tv, ntv, x, training=False)[0]

        def predict(tv, ntv, images, index):
            x = gather(images, index)
            if mechanism == "vmap":
                return jax.vmap(member_predict)(tv, ntv, x)
            return jnp.stack([member_predict([v[i] for v in tv], [v[i] for v in ntv], x[i])
                              for i in range(x.shape[0])])

        def select(mask, new, old):
            return [jnp.where(mask.reshape((-1,) + (1,) * (n.ndim - 1)), n, o)
                    for n, o in zip(new, old, strict=True)]

        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.step = jax.jit(step, donate_argnums=(0,))
        self.predict = jax.jit(predict)
        self.select = jax.jit(select)


#: Compiled programs by what they depend on (`_programs`); the most recent few are kept.
_PROGRAMS: OrderedDict[tuple, _Programs] = OrderedDict()
_KEEP_PROGRAMS = 4


def _programs(options: TrainOptions, learning_rate: float, *, input_shape, num_classes: int,
              dataset_name: str | None, method, mechanism: str, model) -> _Programs:
    """The programs of one model, optimizer, loss and mechanism, built (and compiled) once.

    Every pack of a sweep with the same model, images, training options and method reuses
    them, so XLA compiles a step once per sweep and pack size rather than once per pack
    (17 s for 10 unrolled members of seed-cnn on a 2-core CPU). ``model`` (freshly built) is
    used only when the programs are new: the cached ones keep the model they were built with
    (the structure, the same for every seed; the weights are passed in).
    """
    import keras

    name, opts = method if method is not None else ("ce", {})
    key = (options.model, tuple(int(s) for s in input_shape), int(num_classes), dataset_name,
           options.augment, options.mixed_precision, float(learning_rate),
           float(options.adam_epsilon), name, json.dumps(opts, sort_keys=True), mechanism)
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate, epsilon=options.adam_epsilon)
    optimizer.build(model.trainable_variables)
    programs = _Programs(model, optimizer, _loss_function(method, num_classes), mechanism)
    _PROGRAMS[key] = programs
    while len(_PROGRAMS) > _KEEP_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    return programs


def _initial(seed: int, options: TrainOptions, input_shape, num_classes: int,
             dataset_name: str | None):
    """(model, trainable values, non-trainable values) of one member, as `initial_state`."""
    model, tv, ntv = initial_state([seed], options=options, input_shape=input_shape,
                                   num_classes=num_classes, dataset_name=dataset_name)
    return model, [v[0] for v in tv], [v[0] for v in ntv]


@dataclass
class _Slot:
    """One member's place in a running pack: its host-side state."""

    member: int
    rule: StoppingRule
    order: np.random.Generator
    history: dict[str, list[float]]
    started: float
    epochs: int = 0


def train_pack(
    train_images: np.ndarray,
    val_images: np.ndarray,
    test_images: np.ndarray,
    members: Sequence[PackMember],
    *,
    options: TrainOptions,
    num_classes: int,
    dataset_name: str | None = None,
    method: tuple[str, dict] | None = None,
    on_epoch_end: Callable[[int, int, dict], None] | None = None,
    on_done: Callable[[int, TrainResult], None] | None = None,
    mechanism: str = "unroll",
    slots: int | None = None,
) -> list[TrainResult]:
    """Train every member, ``slots`` at a time in one program; one `TrainResult` per member.

    The pack has ``slots`` places (default: one per member). When a member stops (early
    stopping, ``epochs`` reached or a non-finite loss), its results are computed with its best
    weights and handed to ``on_done``, and the next waiting member takes its place at the next
    epoch boundary, with its own fresh weights and optimizer state: the program keeps its
    shape (nothing recompiles) and no place trains a finished member while others wait. Places
    left empty at the end are frozen.

    Parameters
    ----------
    train_images : ndarray of shape (N, H, W, C)
        The dataset's training images (raw values in [0, 255]); put on the device once.
    val_images : ndarray of shape (M, H, W, C)
        Where the members' ``val_index`` point (the test or the training images).
    test_images : ndarray of shape (K, H, W, C)
    members : sequence of PackMember
        Equal numbers of training, validation and test samples (`pack_shapes`).
    options : TrainOptions
        As for `noisylab.training.loop.train_model`; ``reduce_lr`` is not supported here.
    num_classes : int
    dataset_name : str, optional
    method : (name, resolved options), optional
        A packable method (default ``ce``).
    on_epoch_end : callable, optional
        ``on_epoch_end(member, epoch, logs)`` after each epoch a member trained, ``member`` its
        position in ``members``, ``epoch`` its own epoch, 1-based.
    on_done : callable, optional
        ``on_done(member, result)`` as soon as a member has finished.
    mechanism : {'unroll', 'vmap'}
        See the module docstring.
    slots : int, optional
        Members trained at once (>= 1).

    Returns
    -------
    list of TrainResult
        In the order of ``members``. A member's ``train_seconds`` is its wall time in the pack
        (from taking its place to finishing, shared with the others).
    """
    import jax
    import jax.numpy as jnp

    check_backend()
    if options.reduce_lr:
        raise NoisylabError("packed training does not support train.reduce_lr; use --trainer "
                            "keras")
    if not members:
        return []
    n_fit, _, _ = pack_shapes(members)
    P = min(len(members), int(slots or len(members)))
    learning_rate, batch_size = resolve_recipe(options.learning_rate, options.batch_size, n_fit)
    batch_size = min(batch_size, n_fit)
    shape = train_images.shape[1:]
    first = [_initial(m.seed, options, shape, num_classes, dataset_name) for m in members[:P]]
    programs = _programs(options, learning_rate, input_shape=shape, num_classes=num_classes,
                         dataset_name=dataset_name, method=method,
                         mechanism=check_choice(mechanism, "mechanism", MECHANISMS),
                         model=first[0][0])
    loss_fn = programs.loss_fn
    ov_one = [np.asarray(v.numpy()) for v in programs.optimizer.variables]
    stack = lambda values: [np.stack(vs) for vs in zip(*values, strict=True)]  # noqa: E731
    put = jax.device_put
    x_train, x_val, x_test = put(train_images), put(val_images), put(test_images)
    tv0, ntv0 = stack([f[1] for f in first]), stack([f[2] for f in first])
    state = ([put(v) for v in tv0], [put(v) for v in ntv0],
             [put(np.broadcast_to(v, (P, *v.shape)).copy()) for v in ov_one])
    best = ([put(v) for v in tv0], [put(v) for v in ntv0])
    fit_index = np.zeros((P, n_fit), np.int32)
    y_fit = np.zeros((P, n_fit), np.int32)
    val_index = np.zeros((P, members[0].val_index.size), np.int32)
    y_val = np.zeros((P, members[0].val_index.size), np.int64)
    places: list[_Slot | None] = [None] * P
    results: list[TrainResult | None] = [None] * len(members)
    waiting = iter(range(len(members)))

    def take_place(slot: int, member: int) -> None:
        m = members[member]
        fit_index[slot], y_fit[slot] = m.fit_index, m.y_fit
        val_index[slot], y_val[slot] = m.val_index, m.y_val
        places[slot] = _Slot(
            member=member, order=np.random.default_rng([int(m.seed), 1]),
            rule=StoppingRule(patience=options.patience, min_epochs=options.min_epochs,
                              threshold=chance_threshold(m.y_val)),
            history={k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy",
                                     "learning_rate")},
            started=time.perf_counter())

    for slot in range(P):
        take_place(slot, next(waiting))
    while any(place is not None for place in places):
        active = np.array([place is not None for place in places])
        mask = jnp.asarray(active)
        perm = np.stack([place.order.permutation(n_fit) if place is not None
                         else np.arange(n_fit) for place in places])
        index = np.take_along_axis(fit_index, perm, axis=1)
        labels = np.take_along_axis(y_fit, perm, axis=1)
        losses, accs, weights = [], [], []
        # One call per batch: on a CPU, XLA ran the same step 15 times slower inside a
        # lax.scan over the epoch's batches (700 ms against 47 ms a step, 10 members on digits).
        # A short last batch is padded with its own first samples at weight 0, so that one
        # program serves every batch (the same gradient: the loss is the weighted mean; only
        # batch normalisation's batch statistics see the repeated samples).
        for begin in range(0, n_fit, batch_size):
            end = min(begin + batch_size, n_fit)
            take = np.arange(begin, begin + batch_size)
            take = np.where(take < end, take, begin + (take - end) % (end - begin))
            weight = (np.arange(batch_size) < end - begin).astype(np.float32)
            state, loss, acc = programs.step(state, x_train, index[:, take], labels[:, take],
                                             weight, mask)
            losses.append(loss)
            accs.append(acc)
            weights.append(end - begin)
        w = np.asarray(weights, dtype=np.float64)[:, None]
        # Keras' logs: the mean over the epoch's batches, weighted by their sizes
        train_loss = (np.stack([np.asarray(v) for v in losses]) * w).sum(0) / w.sum()
        train_acc = (np.stack([np.asarray(v) for v in accs]) * w).sum(0) / w.sum()
        val_probs = _predict(programs, state[0], state[1], x_val, jnp.asarray(val_index),
                             num_classes)
        val_loss = np.asarray(loss_fn(y_val.reshape(-1), val_probs.reshape(-1, num_classes))
                              ).reshape(P, -1).mean(1)
        val_acc = (val_probs.argmax(-1) == y_val).mean(1)
        improved = np.zeros(P, dtype=bool)
        finished = []
        for i in np.flatnonzero(active):
            place = places[i]
            place.epochs += 1
            logs = {"loss": float(train_loss[i]), "accuracy": float(train_acc[i]),
                    "val_loss": float(val_loss[i]), "val_accuracy": float(val_acc[i]),
                    "learning_rate": float(learning_rate)}
            for key, value in logs.items():
                place.history[key].append(value)
            better, stop = place.rule.update(logs["val_accuracy"])
            improved[i] = better or not options.restore_best
            if on_epoch_end is not None:
                on_epoch_end(place.member, place.epochs, logs)
            if stop or place.epochs >= options.epochs or not np.isfinite(logs["loss"]):
                finished.append(i)
        if improved.any():
            chosen = jnp.asarray(improved)
            best = (programs.select(chosen, state[0], best[0]),
                    programs.select(chosen, state[1], best[1]))
        fresh = {}
        for i in finished:
            place = places[i]
            result = _finish_member(programs, best, i, place, members[place.member],
                                    x_train, x_test, num_classes)
            results[place.member] = result
            places[i] = None
            if on_done is not None:
                on_done(place.member, result)
            member = next(waiting, None)
            if member is not None:
                take_place(i, member)
                fresh[i] = _initial(members[member].seed, options, shape, num_classes,
                                    dataset_name)
        if fresh:
            state, best = _load(programs, state, best, fresh, ov_one, P)
    return results


def _finish_member(programs: _Programs, best, slot: int, place: _Slot, member: PackMember,
                   x_train, x_test, num_classes: int) -> TrainResult:
    """A finished member's `TrainResult`: its best weights' predictions on its test and
    training samples."""
    import jax.numpy as jnp

    tv = [v[slot:slot + 1] for v in best[0]]
    ntv = [v[slot:slot + 1] for v in best[1]]
    test_probs = _predict(programs, tv, ntv, x_test, jnp.asarray(member.test_index[None]),
                          num_classes)[0]
    train_probs = _predict(programs, tv, ntv, x_train, jnp.asarray(member.fit_index[None]),
                           num_classes)[0]
    seconds = time.perf_counter() - place.started
    return TrainResult(
        history=place.history, best_epoch=max(place.rule.best_epoch, 1), epochs=place.epochs,
        test_probs=test_probs, train_probs=train_probs, train_seconds=seconds,
        images_per_second=member.fit_index.size * place.epochs / seconds if seconds > 0
        else 0.0)


def _load(programs: _Programs, state, best, fresh: dict, ov_one, P: int):
    """Put new members' initial weights and optimizer state into their slots."""
    import jax.numpy as jnp

    mask = np.zeros(P, dtype=bool)
    mask[list(fresh)] = True

    def stacked(k: int, like):
        out = [np.zeros(v.shape, v.dtype) for v in like]
        for slot, values in fresh.items():
            for arr, value in zip(out, values[k], strict=True):
                arr[slot] = value
        return out

    chosen = jnp.asarray(mask)
    tv, ntv = stacked(1, state[0]), stacked(2, state[1])
    ov = [np.broadcast_to(v, (P, *v.shape)) for v in ov_one]
    state = (programs.select(chosen, tv, state[0]), programs.select(chosen, ntv, state[1]),
             programs.select(chosen, ov, state[2]))
    best = (programs.select(chosen, tv, best[0]), programs.select(chosen, ntv, best[1]))
    return state, best


def _predict(programs: _Programs, tv, ntv, images, index, num_classes: int) -> np.ndarray:
    """Softmax of every member on its own index array: (P, n, L) float32.

    Chunks of one size (the last padded), so that one compiled program serves them all.
    """
    import jax.numpy as jnp

    P, n = index.shape
    if n == 0:
        return np.zeros((P, 0, num_classes), dtype=np.float32)
    chunk = min(_EVAL_CHUNK, n)
    chunks = []
    for begin in range(0, n, chunk):
        part = index[:, begin:begin + chunk]
        size = part.shape[1]
        if size < chunk:
            part = jnp.concatenate([part, jnp.zeros((P, chunk - size), part.dtype)], axis=1)
        chunks.append(np.asarray(programs.predict(tv, ntv, images, part))[:, :size])
    return np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
