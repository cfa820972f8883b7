"""The per-sample losses of the methods in `noisylab.training.methods.registry`, in Keras ops.

Each builder returns ``loss(y_true, y_pred) -> (batch,)``: ``y_true`` the integer (noisy) labels
and ``y_pred`` the softmax output p, so every loss runs on every Keras backend (TensorFlow, JAX,
PyTorch). Probabilities are clipped to [1e-7, 1] before a logarithm (Keras' own epsilon), so a
loss stays finite at p_k = 0. ``ce`` is Keras' ``sparse_categorical_crossentropy`` itself (the
string), so the default training is exactly what it was before methods existed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
from keras import ops

from noisylab.errors import NoisylabError

EPS = 1e-7
#: log 0 in SCE's reverse cross-entropy: A = −4, the value Wang et al. use.
SCE_LOG_ZERO = -4.0


def _onehot(y_true, num_classes: int):
    y = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    return ops.one_hot(y, num_classes)


def _log(p):
    return ops.log(ops.clip(p, EPS, 1.0))


def _picked(onehot, p):
    return ops.sum(onehot * p, axis=-1)


def make_loss(name: str, options: Mapping[str, Any], *, num_classes: int,
              transition: np.ndarray | None = None) -> str | Callable:
    """The loss of one method for ``model.compile``.

    Parameters
    ----------
    name : str
        A method of `noisylab.training.methods.METHODS` whose training is a loss
        (``noise-adaptation`` trains CE on its channel's output and ``label-correction`` CE on
        corrected labels, so they use ``ce`` here).
    options : mapping
        Its resolved options.
    num_classes : int
        L.
    transition : ndarray of shape (L, L), optional
        T for ``forward`` and ``backward`` (rows sum to 1; ``backward`` needs it invertible).

    Returns
    -------
    str or callable
        ``"sparse_categorical_crossentropy"`` for ``ce``, else ``loss(y_true, y_pred)``.
    """
    L = int(num_classes)
    if name in ("ce", "noise-adaptation", "label-correction"):
        return "sparse_categorical_crossentropy"
    if name == "label-smoothing":
        alpha = float(options["alpha"])

        def loss(y_true, y_pred):
            target = (1.0 - alpha) * _onehot(y_true, L) + alpha / L
            return -ops.sum(target * _log(y_pred), axis=-1)
    elif name == "bootstrap-soft":
        beta = float(options["beta"])

        def loss(y_true, y_pred):
            target = beta * _onehot(y_true, L) + (1.0 - beta) * y_pred
            return -ops.sum(target * _log(y_pred), axis=-1)
    elif name == "bootstrap-hard":
        beta = float(options["beta"])

        def loss(y_true, y_pred):
            hard = ops.one_hot(ops.argmax(y_pred, axis=-1), L)
            target = beta * _onehot(y_true, L) + (1.0 - beta) * hard
            return -ops.sum(target * _log(y_pred), axis=-1)
    elif name in ("forward", "backward"):
        if transition is None:
            raise NoisylabError(f"method {name!r} needs a transition matrix")
        T = np.asarray(transition, dtype=np.float64)
        if name == "forward":
            Tc = ops.convert_to_tensor(T.astype(np.float32))

            def loss(y_true, y_pred):
                noisy = ops.matmul(y_pred, Tc)          # (Tᵀ p) for every sample, as rows
                return -_log(_picked(_onehot(y_true, L), noisy))
        else:
            if np.linalg.cond(T) > 1e8:
                raise NoisylabError(
                    "backward correction needs an invertible transition matrix; this one's "
                    f"condition number is {np.linalg.cond(T):.3g}")
            inv = ops.convert_to_tensor(np.linalg.inv(T).astype(np.float32))

            def loss(y_true, y_pred):
                corrected = ops.matmul(-_log(y_pred), ops.transpose(inv))  # (T⁻¹ ℓ) as rows
                return _picked(_onehot(y_true, L), corrected)
    elif name == "gce":
        q, truncated, k = float(options["q"]), bool(options["truncated"]), float(options["k"])

        def loss(y_true, y_pred):
            p = ops.clip(_picked(_onehot(y_true, L), y_pred), EPS, 1.0)
            if truncated:
                p = ops.maximum(p, k)       # constant (no gradient) where p_ỹ <= k
            return (1.0 - ops.power(p, q)) / q
    elif name == "sce":
        alpha, beta = float(options["alpha"]), float(options["beta"])

        def loss(y_true, y_pred):
            onehot = _onehot(y_true, L)
            ce = -_log(_picked(onehot, y_pred))
            rce = -ops.sum(ops.clip(y_pred, EPS, 1.0) * SCE_LOG_ZERO * (1.0 - onehot), axis=-1)
            return alpha * ce + beta * rce
    elif name == "mae":
        def loss(y_true, y_pred):
            return 1.0 - _picked(_onehot(y_true, L), y_pred)
    elif name == "confidence-weighting":
        gamma = float(options["exponent"])

        def loss(y_true, y_pred):
            p = ops.clip(_picked(_onehot(y_true, L), y_pred), EPS, 1.0)
            w = ops.stop_gradient(ops.power(p, gamma))
            w = w / ops.maximum(ops.mean(w), EPS)
            return -w * ops.log(p)
    elif name == "elr":
        from noisylab.training.methods.targets import ELR_CLIP

        lam = float(options["lambda"])

        def loss(y_true, y_pred):
            # y_true packs the label (column 0) and the sample's target (columns 1..L), see
            # noisylab.training.methods.targets.pack_targets
            ce = -_log(_picked(_onehot(y_true[:, 0], L), y_pred))
            inner = ops.sum(ops.clip(y_pred, ELR_CLIP, 1.0 - ELR_CLIP) * y_true[:, 1:], axis=-1)
            return ce + lam * ops.log(ops.maximum(1.0 - inner, EPS))
    elif name == "joint-optimization":
        alpha, beta = float(options["alpha"]), float(options["beta"])
        prior = np.full(L, 1.0 / L, dtype=np.float32)      # uniform class prior (theirs)

        def loss(y_true, y_pred):
            # y_true packs the label (column 0, unused) and the soft label s (columns 1..L)
            s = y_true[:, 1:]
            kl = ops.sum(s * (ops.log(ops.clip(s, EPS, 1.0)) - _log(y_pred)), axis=-1)
            mean_p = ops.mean(y_pred, axis=0)
            l_p = ops.sum(prior * (np.log(prior) - _log(mean_p)))
            l_e = -ops.sum(y_pred * _log(y_pred), axis=-1)
            return kl + alpha * l_p + beta * l_e
    elif name == "nnaqc":
        alpha, beta = float(options["alpha"]), float(options["beta"])

        def loss(y_true, y_pred):
            # y_pred packs the channel's output q (columns 0..L-1) and the network's p
            # (columns L..2L-1), see NoiseAwareChannel
            onehot = _onehot(y_true, L)
            q, p = y_pred[:, :L], y_pred[:, L:]
            nna = -_log(_picked(onehot, q))
            qc = -ops.sum((beta * p + (1.0 - beta) * onehot) * _log(p), axis=-1)
            return alpha * nna + (1.0 - alpha) * qc
    else:
        raise NoisylabError(f"method {name!r} has no loss")
    loss.__name__ = f"{name.replace('-', '_')}_loss"
    return loss


class _Channel(keras.layers.Layer):
    """An L x L channel W on top of a network's softmax p, starting at log of ``initial``.

    W is stored as V = W / ``scale`` and used as ``scale``·V: under Adam, whose steps are about
    the learning rate whatever the gradient's size, W then moves ``scale`` times faster than the
    network's weights.

    Parameters
    ----------
    initial : ndarray of shape (L, L)
        A row-stochastic matrix; W starts at its logarithm (entries floored at 1e-6).
    scale : float
        The channel's learning-rate multiplier (> 0).
    """

    def __init__(self, initial: np.ndarray | None = None, num_classes: int | None = None,
                 scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if initial is None:
            initial = np.eye(int(num_classes))
        self.initial = np.asarray(initial, dtype=np.float32)
        self.scale = float(scale)

    def build(self, input_shape):
        init = np.log(np.maximum(self.initial, 1e-6)) / self.scale
        self.v = self.add_weight(shape=init.shape, name="channel",
                                 initializer=keras.initializers.Constant(init.astype(np.float32)),
                                 trainable=True)

    @property
    def w(self):
        return self.v * self.scale

    def channel(self) -> np.ndarray:
        """The channel softmax_rows(W), (L, L): for a one-hot p = e_i, row i."""
        return keras.ops.convert_to_numpy(ops.softmax(self.w, axis=-1))


class NoiseChannel(_Channel):
    """Goldberger & Ben-Reuven's noise adaptation layer: p ↦ p · softmax_rows(W), no bias.

    ``initial`` is the confusion of a CE model's predictions with the noisy labels, so the
    channel starts as it (see `_Channel`).
    """

    def call(self, p):
        return ops.matmul(p, ops.softmax(self.w, axis=-1))


class NoiseAwareChannel(_Channel):
    """NNAQC's noise-aware layer: p ↦ [softmax(p · W), p], W an L x L matrix, no bias.

    The output packs the channel's distribution q over noisy labels (the first L columns) and
    the network's own p (the last L), so the ``nnaqc`` loss sees both and the tested network
    stays p. For a one-hot p = e_i, q is row i of softmax_rows(W): `channel` is the noise
    channel the layer has learned for confident predictions. At ``scale`` 1 and Adam's 1e-3 the
    channel barely moves in a short run (on `digits`, flip 0.4, 30 epochs of 20 steps, its
    diagonal went from 0.90 to 0.91 and the flipped entries stayed at 0.01): it could not learn
    the noise it is there to absorb, hence NNAQC's ``channel_lr``.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("dtype", "float32")   # a softmax in float32 under mixed precision
        super().__init__(*args, **kwargs)

    def call(self, p):
        p = ops.cast(p, "float32")
        return ops.concatenate([ops.softmax(ops.matmul(p, self.w), axis=-1), p], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * input_shape[-1])


def symmetric_channel(num_classes: int, diagonal: float) -> np.ndarray:
    """The L x L row-stochastic matrix with ``diagonal`` on the diagonal, the rest spread evenly."""
    L = int(num_classes)
    off = (1.0 - diagonal) / (L - 1)
    return np.full((L, L), off) + (diagonal - off) * np.eye(L)


def make_channel(name: str, initial: np.ndarray, options: Mapping[str, Any] | None = None
                 ) -> keras.layers.Layer:
    """The layer a method puts on top of the network: ``noise-adaptation``'s `NoiseChannel` or
    ``nnaqc``'s `NoiseAwareChannel` (its resolved ``options`` give the scale), starting at
    ``initial``."""
    if name == "noise-adaptation":
        return NoiseChannel(initial, name="noise_channel")
    if name == "nnaqc":
        return NoiseAwareChannel(initial, scale=(options or {}).get("channel_lr", 1.0),
                                 name="noise_aware_channel")
    raise NoisylabError(f"method {name!r} has no channel layer")


def channel_accuracy(num_classes: int) -> Callable:
    """Training accuracy of a channel's output against the noisy labels (``accuracy`` in the
    logs): the first L columns when the layer packs [q, p], else the whole output."""
    L = int(num_classes)

    def accuracy(y_true, y_pred):
        return keras.metrics.sparse_categorical_accuracy(y_true, y_pred[:, :L])
    return accuracy
