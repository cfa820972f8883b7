"""Tests for noisylab.training.models: the registry, shapes for digits / MNIST / CIFAR, features,
errors. Every test builds a Keras model, so the whole module is slow.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow
keras = pytest.importorskip("keras")

from noisylab.errors import NoisylabError  # noqa: E402
from noisylab.training.models import (  # noqa: E402
    FEATURES_LAYER,
    MODEL_NAMES,
    build_model,
    feature_extractor,
    flips_horizontally,
)

SHAPES = {
    "digits": ((8, 8, 1), 10),
    "mnist": ((28, 28, 1), 10),
    "cifar10": ((32, 32, 3), 10),
}


def test_registry_holds_the_five_models():
    assert MODEL_NAMES == ("seed-cnn", "blog-cnn", "drory-mnist", "allconv", "robust-cnn")


def test_unknown_model_lists_valid_names():
    with pytest.raises(NoisylabError, match=r"unknown model 'resnet'.*seed-cnn.*robust-cnn"):
        build_model("resnet", input_shape=(8, 8, 1), num_classes=10)


@pytest.mark.parametrize(
    ("shape", "classes", "match"),
    [
        ((8, 8), 10, "input_shape"),
        ((0, 8, 1), 10, "input_shape"),
        ((8, 8, 1), 1, "num_classes must be an integer >= 2, got 1"),
    ],
)
def test_bad_shapes_are_user_errors(shape, classes, match):
    with pytest.raises(NoisylabError, match=match):
        build_model("seed-cnn", input_shape=shape, num_classes=classes)


# blog-cnn refuses digits' 8x8 (test_blog_cnn_refuses_digits); every other pair must fit.
@pytest.mark.parametrize(("name", "dataset"), [
    (name, dataset) for name in MODEL_NAMES for dataset in sorted(SHAPES)
    if (name, dataset) != ("blog-cnn", "digits")])
def test_every_model_fits_every_shape(name, dataset):
    shape, classes = SHAPES[dataset]
    model = build_model(name, input_shape=shape, num_classes=classes, dataset_name=dataset)
    assert model.output_shape == (None, classes)
    # Raw uint8-range images go in; the model rescales them itself.
    images = np.full((3, *shape), 255.0, dtype=np.float32)
    images[0] = 0.0
    probs = keras.ops.convert_to_numpy(model(images, training=False))
    assert probs.shape == (3, classes)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)

    features = feature_extractor(model)
    out = keras.ops.convert_to_numpy(features(images, training=False))
    assert out.ndim == 2 and out.shape[0] == 3 and out.shape[1] >= classes


def test_num_classes_sets_the_output_width():
    model = build_model("drory-mnist", input_shape=(28, 28, 1), num_classes=7)
    assert model.output_shape == (None, 7)


def test_seed_cnn_features_are_its_dense_layer():
    model = build_model("seed-cnn", input_shape=(8, 8, 1), num_classes=10)
    features = feature_extractor(model)
    assert features.output_shape == (None, 512)
    # The extractor shares the model's weights rather than copying them.
    assert model.get_layer(FEATURES_LAYER) in features.layers


def test_feature_extractor_needs_a_features_layer():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(inputs), name="plain")
    with pytest.raises(NoisylabError, match="no layer named 'features'"):
        feature_extractor(model)


@pytest.mark.parametrize(
    ("shape", "dataset", "flip"),
    [
        ((32, 32, 3), "cifar10", True),
        ((32, 32, 3), None, True),
        ((28, 28, 1), "mnist", False),
        ((8, 8, 1), "digits", False),
        ((32, 32, 3), "svhn", False),
    ],
)
def test_horizontal_flips_only_for_cifar_like_data(shape, dataset, flip):
    assert flips_horizontally(shape, dataset) is flip
    model = build_model(
        "seed-cnn", input_shape=shape, num_classes=10, augment=True, dataset_name=dataset
    )
    names = {layer.name for layer in model.layers}
    assert {"aug_shift", "aug_rotate"} <= names
    assert ("aug_flip" in names) is flip


def test_augmentation_is_off_at_inference_and_on_in_training():
    model = build_model("seed-cnn", input_shape=(8, 8, 1), num_classes=10, augment=True)
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 1)).astype(np.float32)
    first = keras.ops.convert_to_numpy(model(images, training=False))
    second = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_array_equal(first, second)
    trained = keras.ops.convert_to_numpy(model(images, training=True))
    assert not np.allclose(first, trained)


def test_no_augmentation_layers_by_default():
    model = build_model("robust-cnn", input_shape=(32, 32, 3), num_classes=10)
    assert not any(layer.name.startswith("aug_") for layer in model.layers)


def test_feature_extractor_survives_a_cleared_session():
    # The sweep keeps the clean model to extract features; later runs clear the Keras session.
    model = build_model("seed-cnn", input_shape=(8, 8, 1), num_classes=10)
    images = np.ones((2, 8, 8, 1), dtype=np.float32)
    before = keras.ops.convert_to_numpy(feature_extractor(model)(images, training=False))
    keras.backend.clear_session()
    build_model("seed-cnn", input_shape=(8, 8, 1), num_classes=10)
    after = keras.ops.convert_to_numpy(feature_extractor(model)(images, training=False))
    np.testing.assert_array_equal(before, after)


def test_blog_cnn_layer_shapes_equal_the_blogs_summary():
    # The blog's printed model.summary() for 28x28x1: 26, 24, 11, 9, 7, 3 and 576 features.
    model = build_model("blog-cnn", input_shape=(28, 28, 1), num_classes=10)
    sides = [model.get_layer(n).output.shape[1:] for n in
             ("conv1", "conv2", "pool1", "conv3", "conv4", "pool2")]
    assert sides == [(26, 26, 32), (24, 24, 32), (11, 11, 32), (9, 9, 64), (7, 7, 64),
                     (3, 3, 64)]
    assert model.get_layer(FEATURES_LAYER).output.shape[1:] == (576,)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 1 and dense[0].activation.__name__ == "sigmoid"
    assert all(layer.padding == "valid" for layer in model.layers
               if isinstance(layer, (keras.layers.Conv2D, keras.layers.MaxPooling2D)))
    # 4 convolutions + 1 dense: 320 + 9248 + 18496 + 36928 + 5770 parameters, as in the blog.
    assert model.count_params() == 70762


def test_blog_cnn_outputs_are_its_sigmoids_normalised():
    model = build_model("blog-cnn", input_shape=(28, 28, 1), num_classes=10)
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype(np.float32)
    probs = keras.ops.convert_to_numpy(model(images, training=False))
    sig = keras.ops.convert_to_numpy(
        keras.Model(model.input, model.get_layer("sigmoid").output)(images, training=False))
    np.testing.assert_allclose(probs, sig / sig.sum(axis=1, keepdims=True), rtol=1e-6)
    assert np.all((sig > 0) & (sig < 1))


def test_blog_cnn_refuses_digits():
    with pytest.raises(NoisylabError, match=r"^model blog-cnn needs images of at least 19x19 "
                       r".*got 8x8 in digits; use seed-cnn"):
        build_model("blog-cnn", input_shape=(8, 8, 1), num_classes=10, dataset_name="digits")
