"""The method registry and the losses: each loss against plain numpy, backward correction's
unbiasedness, anchor points, and bad options. The loss tests import Keras, so they are marked
slow (the fast suite must not load a framework)."""

from __future__ import annotations

import numpy as np
import pytest

from noisylab.errors import NoisylabError
from noisylab.training.methods import METHOD_NAMES, METHODS, get_method, resolve_methods
from noisylab.training.methods.relabel import correct_labels, correction_scores
from noisylab.training.methods.transition import (
    confusion_channel,
    estimate_transition,
    max_abs_error,
)

# Fixed probability vectors (rows sum to 1) and labels, L = 4.
P = np.array([[0.70, 0.10, 0.15, 0.05],
              [0.25, 0.25, 0.25, 0.25],
              [0.02, 0.90, 0.03, 0.05],
              [0.10, 0.20, 0.30, 0.40]])
Y = np.array([0, 2, 1, 3])
L = 4
T = np.array([[0.7, 0.3, 0.0, 0.0],
              [0.0, 0.8, 0.2, 0.0],
              [0.0, 0.0, 0.6, 0.4],
              [0.1, 0.0, 0.0, 0.9]])


def _keras_loss(name, options=None, transition=None, p=P, y=Y):
    keras = pytest.importorskip("keras")
    from noisylab.training.methods.losses import make_loss

    opts = get_method(name).resolve(options)
    loss = make_loss(name, opts, num_classes=p.shape[1], transition=transition)
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
        out = loss(keras.ops.convert_to_tensor(y), keras.ops.convert_to_tensor(p))
    else:
        out = loss(keras.ops.convert_to_tensor(y), keras.ops.convert_to_tensor(
            p.astype(np.float32)))
    return keras.ops.convert_to_numpy(out).astype(np.float64)


def _onehot(y, n=L):
    return np.eye(n)[y]


PY = P[np.arange(4), Y]   # p_ỹ: 0.70, 0.25, 0.90, 0.40


# Every expected value below is computed with plain numpy from the formula in the method's
# docstring; a few are also pinned as literals.
CASES = {
    "ce": (None, -np.log(PY)),
    "label-smoothing": ({"alpha": 0.2},
                        -((0.8 * _onehot(Y) + 0.2 / L) * np.log(P)).sum(axis=1)),
    "bootstrap-soft": ({"beta": 0.95}, -((0.95 * _onehot(Y) + 0.05 * P) * np.log(P)).sum(axis=1)),
    "bootstrap-hard": ({"beta": 0.8},
                       -((0.8 * _onehot(Y) + 0.2 * _onehot(P.argmax(1))) * np.log(P)).sum(1)),
    "gce": ({"q": 0.7}, (1 - PY ** 0.7) / 0.7),
    "sce": ({"alpha": 0.1, "beta": 1.0}, 0.1 * -np.log(PY) + 1.0 * 4 * (1 - PY)),
    "mae": (None, 1 - PY),
    "confidence-weighting": ({"exponent": 2.0},
                             -(PY ** 2 / np.mean(PY ** 2)) * np.log(PY)),
}


@pytest.mark.slow   # imports Keras
@pytest.mark.parametrize("name", sorted(CASES))
def test_each_loss_equals_its_numpy_formula(name):
    options, expected = CASES[name]
    np.testing.assert_allclose(_keras_loss(name, options), expected, rtol=2e-5, atol=1e-6)


@pytest.mark.slow   # imports Keras
def test_pinned_values():
    # Literal values, so that a wrong formula in both the test and the code still fails.
    np.testing.assert_allclose(_keras_loss("mae"), [0.3, 0.75, 0.1, 0.6], atol=1e-6)
    np.testing.assert_allclose(_keras_loss("gce", {"q": 1.0}), [0.3, 0.75, 0.1, 0.6],
                               atol=1e-6)                       # q = 1 is MAE
    np.testing.assert_allclose(_keras_loss("ce")[1], np.log(4), rtol=1e-6)
    np.testing.assert_allclose(_keras_loss("sce", {"alpha": 0.0, "beta": 1.0}),
                               [1.2, 3.0, 0.4, 2.4], atol=1e-5)


@pytest.mark.slow   # imports Keras
def test_truncated_gce_is_constant_below_k():
    got = _keras_loss("gce", {"q": 0.7, "truncated": True, "k": 0.5})
    lq = (1 - np.maximum(PY, 0.5) ** 0.7) / 0.7
    np.testing.assert_allclose(got, lq, rtol=1e-5)
    assert got[1] == pytest.approx(got[3])      # both p_ỹ (0.25, 0.40) below k = 0.5


@pytest.mark.slow   # imports Keras
def test_forward_and_backward_with_a_given_T():
    forward = _keras_loss("forward", {"T": "known"}, transition=T)
    np.testing.assert_allclose(forward, -np.log((P @ T)[np.arange(4), Y]), rtol=1e-5)
    backward = _keras_loss("backward", {"T": "known"}, transition=T)
    expected = (np.linalg.inv(T) @ -np.log(P).T).T[np.arange(4), Y]
    np.testing.assert_allclose(backward, expected, rtol=1e-4, atol=1e-5)
    # With T = I both are plain cross-entropy.
    np.testing.assert_allclose(_keras_loss("forward", {"T": "known"}, transition=np.eye(L)),
                               -np.log(PY), rtol=1e-5)


@pytest.mark.slow   # imports Keras
def test_backward_correction_is_unbiased():
    """E over ỹ ~ T[y] of the backward-corrected loss equals the clean CE loss, for random T."""
    rng = np.random.default_rng(0)
    for _ in range(5):
        n_classes = 5
        Tr = rng.dirichlet(np.ones(n_classes), size=n_classes) * 0.5 + 0.5 * np.eye(n_classes)
        p = rng.dirichlet(np.ones(n_classes), size=7)
        y = rng.integers(0, n_classes, 7)
        # loss of every sample under every possible noisy label
        every = np.stack([_keras_loss("backward", {"T": "known"}, transition=Tr, p=p,
                                      y=np.full(7, j)) for j in range(n_classes)], axis=1)
        expectation = (Tr[y] * every).sum(axis=1)
        np.testing.assert_allclose(expectation, -np.log(p[np.arange(7), y]), rtol=1e-4,
                                   atol=1e-4)
        # and the forward loss is not (it is a different, proper, loss on noisy labels)
        fwd = np.stack([_keras_loss("forward", {"T": "known"}, transition=Tr, p=p,
                                    y=np.full(7, j)) for j in range(n_classes)], axis=1)
        assert not np.allclose((Tr[y] * fwd).sum(axis=1), -np.log(p[np.arange(7), y]))


@pytest.mark.slow   # imports Keras
def test_noise_channel_layer_applies_its_initial_matrix():
    keras = pytest.importorskip("keras")
    from noisylab.training.methods.losses import NoiseChannel

    layer = NoiseChannel(T)
    out = keras.ops.convert_to_numpy(layer(keras.ops.convert_to_tensor(P.astype(np.float32))))
    floored = np.maximum(T, 1e-6)
    np.testing.assert_allclose(out, P @ (floored / floored.sum(1, keepdims=True)), rtol=1e-4)
    np.testing.assert_allclose(layer.channel(), floored / floored.sum(1, keepdims=True),
                               rtol=1e-5)


# -- anchor points ------------------------------------------------------------------------------

def test_anchor_points_recover_T_from_perfect_posteriors():
    rng = np.random.default_rng(1)
    clean = rng.dirichlet(np.ones(L) * 0.3, size=400)
    clean[:L] = np.eye(L)                       # one perfect anchor per class
    noisy_posterior = clean @ T                 # p(ỹ | x) = Σ_i p(y = i | x) T[i, :]
    est = estimate_transition(noisy_posterior)
    assert max_abs_error(est, T) < 1e-12
    robust = estimate_transition(noisy_posterior, filter_outlier=True)
    assert np.allclose(robust.sum(axis=1), 1) and max_abs_error(robust, T) < 0.5


def test_anchor_points_refuse_a_class_without_candidate():
    probs = np.tile([0.5, 0.5, 0.0], (10, 1))
    with pytest.raises(NoisylabError, match="class 2 has no anchor candidate"):
        estimate_transition(probs)


def test_confusion_channel_rows():
    C = confusion_channel(np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 2]), 3)
    np.testing.assert_allclose(C, [[0.5, 0.5, 0], [0, 2 / 3, 1 / 3], [0, 0, 1]])


# -- label correction ---------------------------------------------------------------------------

def test_label_correction_changes_exactly_the_labels_above_threshold():
    # max p per row: 0.70, 0.25, 0.90, 0.40; argmax: 0, 0 (first of ties), 1, 3
    np.testing.assert_array_equal(correct_labels(P, Y, 0.9), [0, 2, 1, 3])  # row 2 already 1
    np.testing.assert_array_equal(correct_labels(P, [3, 3, 3, 0], 0.7), [0, 3, 1, 0])
    np.testing.assert_array_equal(correct_labels(P, [3, 3, 3, 0], 0.25), [0, 0, 1, 3])
    np.testing.assert_array_equal(correct_labels(P, [3, 3, 3, 0], 1.0), [3, 3, 3, 0])
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5) * 0.3, size=500)
    labels = rng.integers(0, 5, size=500)
    out = correct_labels(probs, labels, 0.8)
    confident = probs.max(axis=1) >= 0.8
    assert np.array_equal(out[confident], probs.argmax(axis=1)[confident])
    assert np.array_equal(out[~confident], labels[~confident])
    with pytest.raises(NoisylabError, match="shape"):
        correct_labels(P[:3], Y, 0.9)


def test_correction_scores_count_changes_and_their_precision():
    true = np.array([0, 1, 2, 3, 4, 0])
    noisy = np.array([1, 1, 3, 3, 0, 0])       # corrupted: 0, 2, 4
    corrected = np.array([0, 2, 1, 3, 0, 0])   # changed: 0 (right), 1 (wrong, was clean), 2 (wrong)
    s = correction_scores(noisy, corrected, true)
    assert s == {"labels_changed": 3.0, "changes_right": 1.0,
                 "selection_precision": 2 / 3, "selection_recall": 2 / 3}
    none = correction_scores(noisy, noisy, true)
    assert none["labels_changed"] == 0 and np.isnan(none["selection_precision"])
    assert np.isnan(correction_scores(true, true, true)["selection_recall"])


# -- the registry ---------------------------------------------------------------------------------

def test_registry_entries_are_complete():
    assert METHOD_NAMES[0] == "ce" and len(METHOD_NAMES) == 18
    for name, method in METHODS.items():
        assert method.name == name and method.summary and method.paper
        assert set(method.backends) <= {"tensorflow", "jax", "torch"}
        resolved = method.resolve()
        assert set(resolved) == set(method.options)
    assert get_method("forward").resolve() == {"T": "estimated", "filter_outlier": False}
    assert get_method("forward").oracle({"T": "known"})
    assert get_method("forward").needs_ce_model({"T": "estimated"})
    assert not get_method("gce").needs_ce_model(get_method("gce").resolve())
    assert get_method("noise-adaptation").needs_ce_model({})
    assert get_method("label-correction").needs_ce_model({"threshold": 0.9})
    assert get_method("label-correction").resolve() == {"threshold": 0.9}


@pytest.mark.parametrize("methods, options, match", [
    (["ce", "focal"], {}, "unknown method 'focal'; valid: ce, label-smoothing"),
    (["gce"], {"gce": {"q": 0.0}}, r"method_options.gce.q must be in \(0, 1\], got 0.0"),
    (["gce"], {"gce": {"q": 1.5}}, r"method_options.gce.q must be in \(0, 1\], got 1.5"),
    (["label-correction"], {"label-correction": {"threshold": 0}},
     r"method_options.label-correction.threshold must be in \(0, 1\], got 0"),
    (["sce"], {"sce": {"alpha": -0.1}}, "method_options.sce.alpha must be >= 0, got -0.1"),
    (["label-smoothing"], {"label-smoothing": {"alpha": -1}}, "must be in \\[0, 1\\]"),
    (["gce"], {"gce": {"p": 1}}, "method 'gce' does not take option 'p'; valid: q, truncated, k"),
    (["forward"], {"forward": {"T": "guessed"}}, "must be one of estimated, known"),
    (["ce"], {"gce": {"q": 0.5}}, "method_options names 'gce', which is not among the swept"),
    (["gce"], {"gce": {"truncated": "yes"}}, "must be true or false"),
    (["elr"], {"elr": {"beta": 1.0}}, r"method_options.elr.beta must be in \[0, 1\), got 1.0"),
    (["elr"], {"elr": {"lambda": -1}}, "method_options.elr.lambda must be >= 0, got -1"),
    (["nnaqc"], {"nnaqc": {"alpha": 1.5}}, r"method_options.nnaqc.alpha must be in \[0, 1\]"),
    (["nnaqc"], {"nnaqc": {"init_diag": 1.0}},
     r"method_options.nnaqc.init_diag must be in \(0, 1\), got 1.0"),
])
def test_bad_methods_and_options(methods, options, match):
    with pytest.raises(NoisylabError, match=match):
        resolve_methods(methods, options)


# -- ELR: per-sample targets ----------------------------------------------------------------------

def test_elr_target_update_equals_its_formula():
    from noisylab.training.methods.targets import elr_update

    t0 = np.array([[0.0, 0.0, 0.0, 0.0], [0.4, 0.3, 0.2, 0.1]])
    p = np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    out = elr_update(t0, p, beta=0.7)
    # row 0: p clipped to [1e-4, 1 - 1e-4] = (0.9999, 1e-4, 1e-4, 1e-4), sum 1.0002
    clipped = np.array([0.9999, 1e-4, 1e-4, 1e-4]) / 1.0002
    np.testing.assert_allclose(out[0], 0.3 * clipped, rtol=1e-6)
    np.testing.assert_allclose(out[1], [0.355, 0.285, 0.215, 0.145], rtol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(NoisylabError, match=r"one shape \(B, L\), got \(2, 4\) and \(2, 3\)"):
        elr_update(t0, p[:, :3], beta=0.7)


def _packed_loss(name, options, targets):
    """A loss whose y_true packs the label and a per-sample target (ELR, joint optimisation),
    on P and Y."""
    keras = pytest.importorskip("keras")
    from noisylab.training.methods.losses import make_loss
    from noisylab.training.methods.targets import pack_targets

    loss = make_loss(name, options, num_classes=L)
    return keras.ops.convert_to_numpy(loss(keras.ops.convert_to_tensor(pack_targets(Y, targets)),
                                           keras.ops.convert_to_tensor(P.astype(np.float32))))


@pytest.mark.slow   # imports Keras
def test_elr_loss_equals_its_numpy_formula():
    targets = np.array([[0.6, 0.2, 0.1, 0.1], [0.0, 0.0, 0.0, 0.0],
                        [0.1, 0.7, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    out = _packed_loss("elr", {"beta": 0.7, "lambda": 3.0}, targets)
    inner = (np.clip(P, 1e-4, 1 - 1e-4) * targets).sum(axis=1)
    np.testing.assert_allclose(out, -np.log(PY) + 3.0 * np.log(1 - inner), rtol=2e-5)
    # t = 0 (the start): the regulariser is log 1 = 0 and the loss is CE
    assert out[1] == pytest.approx(np.log(4), rel=1e-6)


# -- joint optimisation: soft labels ---------------------------------------------------------------

def test_joint_optimization_soft_labels_are_the_mean_of_recent_predictions():
    from noisylab.training.methods.targets import soft_labels

    a = np.array([[0.8, 0.2], [0.5, 0.5]])
    b = np.array([[0.4, 0.6], [0.1, 0.9]])
    np.testing.assert_allclose(soft_labels([a, b]), [[0.6, 0.4], [0.3, 0.7]], rtol=1e-6)
    np.testing.assert_allclose(soft_labels([b]), b, rtol=1e-6)
    with pytest.raises(NoisylabError, match="at least one epoch"):
        soft_labels([])


@pytest.mark.slow   # imports Keras
def test_joint_optimization_loss_equals_its_numpy_formula():
    soft = np.array([[0.7, 0.1, 0.1, 0.1], [0.0, 0.0, 1.0, 0.0],
                     [0.2, 0.6, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    out = _packed_loss("joint-optimization", {"alpha": 1.2, "beta": 0.8}, soft)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(soft > 0, soft * np.log(soft / P), 0.0).sum(axis=1)
    mean_p = P.mean(axis=0)
    l_p = np.sum(0.25 * np.log(0.25 / mean_p))
    l_e = -(P * np.log(P)).sum(axis=1)
    np.testing.assert_allclose(out, kl + 1.2 * l_p + 0.8 * l_e, rtol=2e-5, atol=1e-6)
    # its mean over the batch is Tanaka et al.'s L_c + α L_p + β L_e
    assert out.mean() == pytest.approx(kl.mean() + 1.2 * l_p + 0.8 * l_e.mean(), rel=2e-5)


# -- NNAQC: a noise-aware channel through a second softmax, plus quasi-clustering ---------------

@pytest.mark.slow   # imports Keras
def test_noise_aware_channel_packs_the_channel_output_and_p():
    keras = pytest.importorskip("keras")
    from noisylab.training.methods.losses import NoiseAwareChannel, symmetric_channel

    M = symmetric_channel(L, 0.7)
    assert np.allclose(M.sum(axis=1), 1) and np.allclose(np.diag(M), 0.7)
    assert np.allclose(M[0, 1:], 0.1)
    layer = NoiseAwareChannel(M)
    out = keras.ops.convert_to_numpy(layer(keras.ops.convert_to_tensor(P.astype(np.float32))))
    logits = P @ np.log(M)
    q = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out[:, :L], q, rtol=1e-5)
    np.testing.assert_allclose(out[:, L:], P, rtol=1e-6)
    # a one-hot p gives back the initial channel's row: the layer starts as M
    one = keras.ops.convert_to_numpy(layer(keras.ops.convert_to_tensor(np.eye(L, dtype="float32"))))
    np.testing.assert_allclose(one[:, :L], M, rtol=1e-5)
    np.testing.assert_allclose(layer.channel(), M, rtol=1e-5)
    # the learning-rate multiplier: W = scale·V, so the same start, and one Adam step moves W
    # about scale x lr per entry
    fast = NoiseAwareChannel(M, scale=10.0)
    fast.build((None, L))
    np.testing.assert_allclose(fast.channel(), M, rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fast.v) * 10, np.log(M), rtol=1e-5)
    before = keras.ops.convert_to_numpy(fast.w)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    optimizer.apply_gradients([(keras.ops.ones((L, L)), fast.v)])
    np.testing.assert_allclose(before - keras.ops.convert_to_numpy(fast.w), 1e-2, rtol=1e-3)


@pytest.mark.slow   # imports Keras
def test_nnaqc_loss_equals_its_numpy_formula():
    keras = pytest.importorskip("keras")
    from noisylab.training.methods.losses import make_loss

    Q = P[::-1].copy()                       # any distribution over noisy labels
    loss = make_loss("nnaqc", {"alpha": 0.3, "beta": 0.6}, num_classes=L)
    packed = np.concatenate([Q, P], axis=1).astype(np.float32)
    out = keras.ops.convert_to_numpy(loss(keras.ops.convert_to_tensor(Y),
                                          keras.ops.convert_to_tensor(packed)))
    nna = -np.log(Q[np.arange(4), Y])
    qc = -((0.6 * P + 0.4 * _onehot(Y)) * np.log(P)).sum(axis=1)
    np.testing.assert_allclose(out, 0.3 * nna + 0.7 * qc, rtol=1e-5)
    # α = 1: the channel's CE alone; α = 0, β = 0: plain CE on p
    only = make_loss("nnaqc", {"alpha": 0.0, "beta": 0.0}, num_classes=L)
    ce = keras.ops.convert_to_numpy(only(keras.ops.convert_to_tensor(Y),
                                         keras.ops.convert_to_tensor(packed)))
    np.testing.assert_allclose(ce, -np.log(PY), rtol=1e-5)
