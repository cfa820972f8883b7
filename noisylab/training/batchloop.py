"""The training loop with per-batch hooks: sample selection by two networks, per-sample state.

Methods that change *which samples* a network learns from (co-teaching, co-teaching+,
decoupling; `noisylab.training.methods.peers`) cannot be a loss under ``model.fit``: each batch
needs both networks' per-sample losses and predictions before either updates. Methods whose loss
needs per-sample state (ELR's running targets, `noisylab.training.methods.targets`) need the
batch's sample positions. This loop runs the epochs itself, with the same protocol as
`noisylab.training.loop` (one network for a per-sample method, two for a peer method):

- network 1 is initialised exactly as the ``ce`` run of the same model seed (the seed is set,
  then network 1 is built, then network 2 from the seeded stream that follows, so the two start
  independently); the tested network is network 1;
- both networks see the same batches in the same order (they must, to exchange samples), drawn
  from ``SeedSequence([seed, 1])``; Adam with the recipe's learning rate and batch size;
- per batch: the networks predict the batch (inference mode, no dropout or augmentation); for a
  peer method its rule picks each network's update mask from those per-sample cross-entropies
  and predictions, and each network takes one step on its masked batch (``train_on_batch`` with
  sample weights ``B / kept`` on the kept samples, 0 elsewhere, i.e. the mean cross-entropy over
  the kept samples; a network with nothing to keep skips the step); for ELR the batch's targets
  are updated from that prediction and the step's loss gets them with the labels;
- after each epoch network 1 is scored on the validation set, and early stopping by
  `noisylab.training.stopping.StoppingRule` restores its best epoch's weights (unless
  ``restore_best`` is off); a non-finite loss
  ends training at once (the sweep then records the run as failed).

History: ``loss`` and ``accuracy`` are network 1's mean cross-entropy and accuracy against the
noisy labels of every training sample, each from its batch's prediction before the step (so
defined even in an epoch where a rule kept nothing; ``loss`` is NaN when a step's loss was not
finite), ``val_loss`` and ``val_accuracy`` on the validation set. Artifacts: ``selected``
(2, epochs, n_train) bool, the samples each network trained on per epoch, and ``forget_rate``
(epochs,) for co-teaching and co-teaching+; ``targets`` (n_train, L) float32, ELR's final
targets; ``soft_labels`` (n_train, L), ``stage1_epochs`` and the first stage's validation
accuracies for joint optimisation (whose history, best epoch and predictions are its second
stage's; ``train_seconds`` is both stages').
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np

from noisylab.training.loop import _predict, fresh_model, fresh_session
from noisylab.training.methods import get_method
from noisylab.training.methods.peers import forget_rate, select_updates
from noisylab.training.methods.targets import elr_update, pack_targets, soft_labels
from noisylab.training.recipe import resolve_recipe
from noisylab.training.result import TrainResult
from noisylab.training.stopping import StoppingRule, chance_threshold

_EPS = 1e-12


def _cross_entropy(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(probs[np.arange(labels.size), labels].astype(np.float64), _EPS, 1.0))


def fit_batchwise(x_train, y_train, x_val, y_val, x_test, *, options, num_classes: int,
                  seed: int, dataset_name, on_epoch_end: Callable[[int, dict], None] | None,
                  keep_model: bool, method: str, method_options: dict,
                  level: float, initial_targets: np.ndarray | None = None) -> TrainResult:
    """One or two networks trained with ``method``'s hooks; network 1's result.

    Called by `noisylab.training.loop.train_model` for a method with ``peers`` or
    ``per_sample``; the arguments are its own, with the method's name, resolved options and the
    run's noise level. Joint optimisation calls it again for its second stage, with the first
    stage's soft labels as ``initial_targets`` (and no label update, α = β = 0).
    """
    spec = get_method(method)
    joint = method == "joint-optimization"
    stage2 = joint and initial_targets is not None
    with fresh_session(seed, options):
        nets = [fresh_model(options, x_train, num_classes, dataset_name)
                for _ in range(2 if spec.peers else 1)]
        learning_rate, batch_size = resolve_recipe(options.learning_rate, options.batch_size,
                                                   len(x_train))
        if spec.per_sample:
            from noisylab.training.methods.losses import make_loss

            loss = make_loss(method, method_options, num_classes=num_classes)
        else:
            loss = "sparse_categorical_crossentropy"
        for net in nets:
            net.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate,
                                                        epsilon=options.adam_epsilon),
                        loss=loss)
        order_rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
        rule = StoppingRule(patience=options.patience, min_epochs=options.min_epochs,
                            threshold=chance_threshold(y_val))
        tau = level if method_options.get("forget_rate", "level") == "level" \
            else float(method_options["forget_rate"])
        tau = min(float(tau), 1.0)
        history: dict[str, list[float]] = {k: [] for k in
                                           ("loss", "accuracy", "val_loss", "val_accuracy",
                                            "learning_rate")}
        selected, forgets, best_weights = [], [], None
        y_train = np.asarray(y_train, dtype=np.int64)
        n = len(x_train)
        targets = np.zeros((n, num_classes), dtype=np.float32) if spec.per_sample else None
        if joint:
            targets = (np.eye(num_classes, dtype=np.float32)[y_train] if initial_targets is None
                       else np.asarray(initial_targets, dtype=np.float32))
            recent: list[np.ndarray] = []          # the last `window` epochs' predictions
            epoch_probs = np.zeros((n, num_classes), dtype=np.float32)
        start = time.perf_counter()
        for epoch in range(options.epochs):
            forget = 0.0 if "num_gradual" not in method_options else forget_rate(
                epoch, tau=tau, num_gradual=method_options["num_gradual"],
                exponent=method_options["exponent"])
            plus_on = epoch >= method_options.get("init_epoch", 0)
            kept = np.zeros((len(nets), n), dtype=bool)
            loss_sum, correct, finite = 0.0, 0, True
            order = order_rng.permutation(n)
            for lo in range(0, n, batch_size):     # fixed-size batches, as fit: two shapes
                batch = order[lo:lo + batch_size]
                xb = x_train[batch].astype(np.float32, copy=False)
                yb = y_train[batch]
                probs = [np.asarray(net.predict_on_batch(xb)) for net in nets]
                ce = [_cross_entropy(p, yb) for p in probs]
                loss_sum += float(ce[0].sum())
                correct += int((probs[0].argmax(axis=1) == yb).sum())
                if spec.per_sample:
                    if joint:
                        epoch_probs[batch] = probs[0]
                    else:
                        targets[batch] = elr_update(targets[batch], probs[0],
                                                    method_options["beta"])
                    kept[0, batch] = True
                    out = nets[0].train_on_batch(xb, pack_targets(yb, targets[batch]))
                    finite &= bool(np.all(np.isfinite(np.ravel(out))))
                    continue
                masks = select_updates(method, tuple(ce), tuple(p.argmax(axis=1) for p in probs),
                                       forget=forget, disagreement_only=plus_on)
                for i, (net, mask) in enumerate(zip(nets, masks, strict=True)):
                    kept[i, batch] = mask
                    if mask.any():
                        weights = mask.astype(np.float32) * (mask.size / mask.sum())
                        out = net.train_on_batch(xb, yb, sample_weight=weights)
                        finite &= bool(np.all(np.isfinite(np.ravel(out))))
            val_probs = _predict(nets[0], x_val)
            logs = {
                "loss": loss_sum / n if finite else float("nan"),
                "accuracy": correct / n,
                "val_loss": float(np.mean(_cross_entropy(val_probs, y_val))),
                "val_accuracy": float(np.mean(val_probs.argmax(axis=1) == y_val)),
                "learning_rate": float(learning_rate),
            }
            for key, value in logs.items():
                history[key].append(value)
            selected.append(kept)
            forgets.append(forget)
            if joint and not stage2:
                recent = (recent + [epoch_probs.copy()])[-method_options["window"]:]
                if epoch + 1 >= method_options["begin"]:
                    targets = soft_labels(recent)
            if not (finite and np.isfinite(logs["loss"])):
                break
            improved, stop = rule.update(logs["val_accuracy"])
            if improved and options.restore_best:
                best_weights = nets[0].get_weights()
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, dict(logs))
            if stop:
                break
        train_seconds = time.perf_counter() - start
        if best_weights is not None:
            nets[0].set_weights(best_weights)
        # joint optimisation's first stage is not tested: its second stage is the result
        first_stage = joint and not stage2
        test_probs = None if first_stage else _predict(nets[0], x_test)
        train_probs = None if first_stage else _predict(nets[0], x_train)
    epochs = len(history["loss"])
    if joint and not stage2:
        # stage 2: a fresh network (same seed) on the final soft labels, KL(s || p) alone
        second = fit_batchwise(
            x_train, y_train, x_val, y_val, x_test, options=options, num_classes=num_classes,
            seed=seed, dataset_name=dataset_name, on_epoch_end=on_epoch_end,
            keep_model=keep_model, method=method,
            method_options={**method_options, "alpha": 0.0, "beta": 0.0}, level=level,
            initial_targets=targets)
        artifacts = {"soft_labels": targets, "stage1_val_accuracy":
                     np.asarray(history["val_accuracy"], dtype=np.float64),
                     "stage1_epochs": np.int64(epochs)}
        return TrainResult(
            history=second.history, best_epoch=second.best_epoch, epochs=second.epochs,
            test_probs=second.test_probs, train_probs=second.train_probs,
            train_seconds=train_seconds + second.train_seconds,
            images_per_second=second.images_per_second, model=second.model,
            artifacts=artifacts)
    if spec.per_sample:
        artifacts = {} if joint else {"targets": targets}
    else:
        artifacts = {"selected": np.stack(selected, axis=1)}
        if "num_gradual" in method_options:
            artifacts["forget_rate"] = np.asarray(forgets, dtype=np.float64)
    return TrainResult(
        history=history, best_epoch=max(rule.best_epoch, 1), epochs=epochs,
        test_probs=test_probs, train_probs=train_probs, train_seconds=train_seconds,
        images_per_second=n * epochs / train_seconds if train_seconds > 0 else 0.0,
        model=nets[0] if keep_model else None, artifacts=artifacts)
