"""Keras model builders in a registry keyed by name.

Every model takes raw images of shape ``(H, W, C)`` (uint8 values, any numeric dtype) and rescales
them to [0, 1] itself, so callers never normalise. Every model ends in a float32 softmax over
``num_classes`` and names its penultimate representation ``"features"`` so that
`feature_extractor` works the same for all of them.

The registry (`MODEL_NAMES`, `check_model_name`) is importable without Keras, so a sweep checks
model names before any framework loads; Keras is imported by `build_model` and
`feature_extractor`, and passed to the builders as ``layers``.

Pools and strided convolutions use ``'same'`` padding, so every model but ``blog-cnn`` also works
on inputs as small as scikit-learn's 8x8 digits (the spatial size is halved with rounding up and
never reaches zero). ``blog-cnn`` keeps the blog's ``'valid'`` padding and needs at least 19x19
(`check_input_shape` says so before anything trains).

Models
------
seed-cnn
    Our variant of the original blog's network, and the default: conv32, conv32, maxpool 3/2,
    conv64, conv64, maxpool 3/2, dense 512, softmax; 3x3 kernels, ReLU. It differs from the blog's
    ``Model.py`` (``blog-cnn``) in two ways, on purpose: ``'same'`` padding everywhere, so that
    it runs on any input size (digits' 8x8 included), and a hidden dense-512 layer with a softmax
    output instead of the blog's single sigmoid dense layer, the usual classifier head, which
    gives a 512-wide penultimate representation for ``features: model``.
blog-cnn
    The blog's network exactly as in its ``Model.py``: conv32, conv32, maxpool 3/2, conv64, conv64,
    maxpool 3/2, all 3x3 with ``'valid'`` padding and ReLU, flatten (576 features on 28x28x1: the
    spatial sizes are 26, 24, 11, 9, 7, 3), then one dense layer to the classes with a
    **sigmoid**, trained under categorical cross-entropy. Keras' cross-entropy on probabilities
    divides them by their sum, so the model outputs ``sigmoid / sum(sigmoid)``: the same loss and
    the same predictions as the blog's, and rows that sum to 1 like every model here. The blog
    trained it with Adam at Keras' default rate (``--lr 1e-3``). Needs inputs of at least 19x19.
"""

from __future__ import annotations

from collections.abc import Callable

from noisylab.errors import NoisylabError
from noisylab.validate import check_choice, check_scalar

FEATURES_LAYER = "features"

# Shifts as a fraction of the image side, rotation as a fraction of a full turn (Keras' convention).
_SHIFT = 0.1
_ROTATION = 10.0 / 360.0


def _check_shape(input_shape, num_classes: int) -> tuple[int, int, int]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or any(s < 1 for s in shape):
        raise NoisylabError(
            "input_shape must be (height, width, channels) with positive sizes, "
            f"got {input_shape!r}"
        )
    check_scalar(num_classes, "num_classes", kind=int, low=2)
    return shape


def flips_horizontally(input_shape, dataset_name: str | None) -> bool:
    """Whether augmentation should include horizontal flips.

    Flips suit natural images (CIFAR) but not digits or letters, whose mirror images are other
    symbols. A dataset whose name contains ``cifar`` flips; an unnamed dataset flips when it is RGB.

    Parameters
    ----------
    input_shape : tuple of int, (H, W, C)
    dataset_name : str or None

    Returns
    -------
    bool
    """
    if dataset_name is not None:
        return "cifar" in dataset_name.lower()
    return int(input_shape[-1]) == 3


def _augmentation(layers, input_shape, dataset_name: str | None) -> list:
    # Keras preprocessing layers are active only when called with training=True, i.e. during fit.
    augment = [
        layers.RandomTranslation(_SHIFT, _SHIFT, fill_mode="constant", name="aug_shift"),
        layers.RandomRotation(_ROTATION, fill_mode="constant", name="aug_rotate"),
    ]
    if flips_horizontally(input_shape, dataset_name):
        augment.append(layers.RandomFlip("horizontal", name="aug_flip"))
    return augment


def _batch_norm(layers, name: str):
    # Momentum 0.9 (PyTorch's default) rather than Keras' 0.99: with 0.99 the inference statistics
    # lag so far behind on small data sets (digits: ~23 steps an epoch) that a model at 100 %
    # training accuracy predicts one class at inference.
    return layers.BatchNormalization(momentum=0.9, name=name)


def _conv_bn_relu(layers, x, filters: int, kernel: int, name: str):
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = _batch_norm(layers, f"{name}_bn")(x)
    return layers.Activation("relu", name=name if name == FEATURES_LAYER else f"{name}_relu")(x)


def _seed_cnn(layers, x, num_classes: int):
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(512, activation="relu", name=FEATURES_LAYER)(x)
    return layers.Dense(num_classes, name="logits")(x)


def _blog_cnn(layers, x, num_classes: int):
    x = layers.Conv2D(32, 3, padding="valid", activation="relu", name="conv1")(x)
    x = layers.Conv2D(32, 3, padding="valid", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="valid", name="pool1")(x)
    x = layers.Conv2D(64, 3, padding="valid", activation="relu", name="conv3")(x)
    x = layers.Conv2D(64, 3, padding="valid", activation="relu", name="conv4")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="valid", name="pool2")(x)
    x = layers.Flatten(name=FEATURES_LAYER)(x)
    return layers.Dense(num_classes, activation="sigmoid", dtype="float32", name="sigmoid")(x)


def _drory_mnist(layers, x, num_classes: int):
    x = _conv_bn_relu(layers, x, 20, 5, "cnv1")
    x = _conv_bn_relu(layers, x, 20, 5, "cnv2")
    x = layers.MaxPooling2D(2, padding="same", name="pool1")(x)
    x = _conv_bn_relu(layers, x, 50, 5, "cnv3")
    x = _conv_bn_relu(layers, x, 50, 5, "cnv4")
    x = layers.MaxPooling2D(2, padding="same", name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(500, use_bias=False, name="fc1")(x)
    x = _batch_norm(layers, "fc1_bn")(x)
    x = layers.Activation("relu", name=FEATURES_LAYER)(x)
    # fc@L feeds the softmax directly: a ReLU there would clip the logits at zero.
    return layers.Dense(num_classes, name="logits")(x)


def _allconv(layers, x, num_classes: int):
    x = layers.Dropout(0.2, name="drop_in")(x)
    x = layers.Conv2D(96, 3, padding="same", activation="relu", name="conv1")(x)
    x = layers.Conv2D(96, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.Conv2D(96, 3, strides=2, padding="same", activation="relu", name="conv3")(x)
    x = layers.Dropout(0.5, name="drop1")(x)
    x = layers.Conv2D(192, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.Conv2D(192, 3, padding="same", activation="relu", name="conv5")(x)
    x = layers.Conv2D(192, 3, strides=2, padding="same", activation="relu", name="conv6")(x)
    x = layers.Dropout(0.5, name="drop2")(x)
    # The paper's 3x3 'valid' convolution (8x8 -> 6x6 on CIFAR) falls back to 'same' when the map
    # is already smaller than 3x3 (digits: 8x8 -> 2x2 here), so small inputs still work.
    height, width = x.shape[1], x.shape[2]
    padding = "valid" if height >= 3 and width >= 3 else "same"
    x = layers.Conv2D(192, 3, padding=padding, activation="relu", name="conv7")(x)
    x = layers.Conv2D(192, 1, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Conv2D(num_classes, 1, name="conv9")(x)
    return layers.GlobalAveragePooling2D(name="logits")(x)


def _robust_cnn(layers, x, num_classes: int):
    for block, (filters, rate) in enumerate(((32, 0.2), (64, 0.3), (128, 0.4)), start=1):
        x = _conv_bn_relu(layers, x, filters, 3, f"b{block}a")
        x = _conv_bn_relu(layers, x, filters, 3, f"b{block}b")
        x = layers.MaxPooling2D(2, padding="same", name=f"b{block}_pool")(x)
        x = layers.Dropout(rate, name=f"b{block}_drop")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, use_bias=False, name="fc1")(x)
    x = _batch_norm(layers, "fc1_bn")(x)
    x = layers.Activation("relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.5, name="fc1_drop")(x)
    return layers.Dense(num_classes, name="logits")(x)


_BUILDERS: dict[str, Callable] = {
    "seed-cnn": _seed_cnn,
    "blog-cnn": _blog_cnn,
    "drory-mnist": _drory_mnist,
    "allconv": _allconv,
    "robust-cnn": _robust_cnn,
}

MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)

#: Models whose last layer already gives (unnormalised) class scores in [0, 1], not logits.
_SIGMOID_OUTPUT = frozenset({"blog-cnn"})
#: The smallest input side each model needs (1 when it pads, so that any size works).
_MIN_SIDE = {"blog-cnn": 19}


def check_input_shape(name: str, input_shape, *, dataset: str | None = None) -> None:
    """Raise `NoisylabError` when the images are too small for the model; Keras-free.

    Parameters
    ----------
    name : str
        A model name from `MODEL_NAMES`.
    input_shape : tuple of int, (H, W, C)
    dataset : str, optional
        Named in the message.
    """
    need = _MIN_SIDE.get(check_model_name(name), 1)
    height, width = int(input_shape[0]), int(input_shape[1])
    if min(height, width) < need:
        where = f" in {dataset}" if dataset else ""
        raise NoisylabError(
            f"model {name} needs images of at least {need}x{need} ('valid' padding, as in the "
            f"blog), got {height}x{width}{where}; use seed-cnn, which pads and fits any size")


def check_model_name(name: str) -> str:
    """Return `name` if it is in the registry, else raise `NoisylabError` listing valid names."""
    return check_choice(name, "model", MODEL_NAMES, what="model")


def build_model(
    name: str,
    *,
    input_shape,
    num_classes: int,
    augment: bool = False,
    dataset_name: str | None = None,
) -> keras.Model:  # noqa: F821 - Keras loads here, not at import
    """Build a fresh, uncompiled model from the registry.

    Parameters
    ----------
    name : str
        One of `MODEL_NAMES`.
    input_shape : tuple of int, (H, W, C)
        Shape of one image; any size from 1x1 up works.
    num_classes : int
        Number of classes L (>= 2); the output is a softmax of shape (batch, L).
    augment : bool
        Prepend random shifts (10 % of the side) and rotations (up to 10 degrees), plus horizontal
        flips for CIFAR-like data (see `flips_horizontally`). Active only during training.
    dataset_name : str, optional
        Used only to decide on horizontal flips.

    Returns
    -------
    keras.Model
        Takes a float32 batch of raw images of shape (batch, H, W, C) with values in [0, 255] and
        returns float32 class probabilities of shape (batch, L). The penultimate representation is
        the layer named ``"features"``.

    Raises
    ------
    NoisylabError
        Unknown model name, bad input shape or fewer than two classes.
    """
    import keras
    from keras import layers

    builder = _BUILDERS[check_model_name(name)]
    shape = _check_shape(input_shape, num_classes)
    check_input_shape(name, shape, dataset=dataset_name)
    inputs = keras.Input(shape=shape, name="images")
    x = inputs
    if augment:
        for layer in _augmentation(layers, shape, dataset_name):
            x = layer(x)
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    logits = builder(layers, x, int(num_classes))
    if name in _SIGMOID_OUTPUT:
        # What Keras' cross-entropy does to probabilities that do not sum to 1.
        outputs = layers.Lambda(
            lambda s: s / keras.ops.maximum(keras.ops.sum(s, axis=-1, keepdims=True), 1e-30),
            dtype="float32", name="probs")(logits)
    else:
        # Softmax in float32 even under mixed precision, for a numerically sound loss.
        outputs = layers.Activation("softmax", dtype="float32", name="probs")(logits)
    return keras.Model(inputs, outputs, name=name)


def feature_extractor(model: keras.Model) -> keras.Model:  # noqa: F821
    """A model sharing `model`'s weights that outputs its penultimate representation.

    Parameters
    ----------
    model : keras.Model
        A model from `build_model` (trained or not).

    Returns
    -------
    keras.Model
        Maps images (batch, H, W, C) to features (batch, D); a spatial feature map (``allconv``)
        is global-average-pooled to (batch, channels). Augmentation layers stay inactive at
        inference.

    Raises
    ------
    NoisylabError
        The model has no layer named ``"features"``.
    """
    import keras
    from keras import layers

    try:
        layer = model.get_layer(FEATURES_LAYER)
    except ValueError as exc:
        raise NoisylabError(
            f"model {model.name!r} has no layer named {FEATURES_LAYER!r}; "
            f"build it with noisylab.models.build_model"
        ) from exc
    out = layer.output
    if len(out.shape) == 4:
        out = layers.GlobalAveragePooling2D(name="features_pool")(out)
    return keras.Model(model.input, out, name=f"{model.name}-features")
