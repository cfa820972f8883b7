"""Instance-dependent noise (Xia et al. 2020): the realized-rate band, determinism, and that a
sample's destination follows its projection scores."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisylab.errors import NoisylabError
from noisylab.noise import inject
from noisylab.noise.instance import (
    class_scores,
    destination_probabilities,
    flip_rates,
    truncated_normal_mean,
)


def blobs(n=600, L=4, shape=(5, 5, 3), seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(L), n // L)
    x = rng.integers(0, 256, size=(y.size, *shape), dtype=np.uint8)
    return x, y


def test_truncated_normal_mean_pinned_values():
    # E[q] for q ~ N(level, 0.1^2) truncated to [0, 1]
    assert truncated_normal_mean(0.0, 0.1) == pytest.approx(0.0798, abs=1e-4)
    assert truncated_normal_mean(0.1, 0.1) == pytest.approx(0.1288, abs=1e-4)
    assert truncated_normal_mean(0.4, 0.1) == pytest.approx(0.4, abs=1e-4)
    assert truncated_normal_mean(0.9, 0.1) == pytest.approx(0.8712, abs=1e-4)
    assert truncated_normal_mean(0.3, 0.0) == 0.3


def test_flip_rates_stay_in_the_unit_interval_with_the_truncated_mean():
    q = flip_rates(200_000, 0.05, 0.1, rng=np.random.default_rng(0))
    assert q.min() >= 0 and q.max() <= 1
    assert q.mean() == pytest.approx(truncated_normal_mean(0.05, 0.1), abs=2e-3)


@pytest.mark.parametrize("level", [0.1, 0.3, 0.5, 0.8])
def test_changed_count_lies_in_its_binomial_band(level):
    """The number changed is Binomial(N, mu(level)): within 4.5 sigma (a false alarm ~1e-5)."""
    x, y = blobs(n=4000, L=5, shape=(4, 4, 1))
    out = inject(y, kind="instance", level=level, rng=np.random.default_rng(1), images=x)
    mu = truncated_normal_mean(level, 0.1)
    sigma = np.sqrt(mu * (1 - mu) / y.size)
    assert abs(out.realized_rate - mu) <= 4.5 * sigma
    assert out.spec["expected_rate"] == pytest.approx(mu)
    assert not np.any(out.labels[out.corrupted] == y[out.corrupted])


def test_level_zero_is_the_identity_and_level_one_flips_most():
    x, y = blobs()
    assert not inject(y, kind="instance", level=0.0, rng=np.random.default_rng(0),
                      images=x).corrupted.any()
    high = inject(y, kind="instance", level=1.0, rng=np.random.default_rng(0), images=x)
    assert 0.85 < high.realized_rate < 0.99      # mu(1) = 0.920


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), level=st.floats(0.05, 0.95))
def test_same_seed_same_labels_and_input_untouched(seed, level):
    x, y = blobs(n=120, L=3, shape=(3, 3, 3))
    before = y.copy()
    a = inject(y, kind="instance", level=level, rng=np.random.default_rng(seed), images=x)
    b = inject(y, kind="instance", level=level, rng=np.random.default_rng(seed), images=x)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(y, before)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), level=st.floats(0.2, 0.9))
def test_flipped_samples_go_where_their_projection_scores_point(seed, level):
    """Replay the documented draws (q, then W) and score each sample with a plain loop over
    samples: a flipped label must be the class with the sample's highest off-class score far
    more often than chance (1/(L-1)), and its score rank must be high on average."""
    L = 5
    x, y = blobs(n=400, L=L, shape=(4, 4, 3), seed=seed % 1000)
    out = inject(y, kind="instance", level=level, rng=np.random.default_rng(seed), images=x)
    assert out.corrupted.sum() > 20
    replay = np.random.default_rng(seed)
    flip_rates(y.size, level, 0.1, rng=replay)
    W = replay.standard_normal((L, 48, L))
    pixels = x.reshape(len(x), -1, 3).astype(np.float64)
    mean, std = pixels.mean(axis=(0, 1)), pixels.std(axis=(0, 1))
    hits, ranks = [], []
    for i in np.flatnonzero(out.corrupted):
        s = (((pixels[i] - mean) / std).reshape(-1)) @ W[y[i]]
        s[y[i]] = -np.inf
        hits.append(out.labels[i] == np.argmax(s))
        ranks.append(int((s < s[out.labels[i]]).sum() - 1))   # 0 = lowest, L-2 = highest
    assert np.mean(hits) > 0.8
    assert np.mean(ranks) > 0.8 * (L - 2)


def test_scores_match_the_plain_formula_and_probabilities_mask_the_true_class():
    x, y = blobs(n=40, L=4, shape=(2, 3, 3))
    W = np.random.default_rng(0).standard_normal((4, 18, 4))
    scores = class_scores(x, y, W, standardize=True)
    pixels = x.reshape(40, -1, 3).astype(np.float64)
    z = ((pixels - pixels.mean(axis=(0, 1))) / pixels.std(axis=(0, 1))).reshape(40, -1)
    expected = np.stack([z[i] @ W[y[i]] for i in range(40)])
    assert np.allclose(scores, expected, atol=1e-9)
    p = destination_probabilities(scores, y)
    assert np.allclose(p.sum(axis=1), 1) and np.all(p[np.arange(40), y] == 0)


def test_each_sample_keeps_its_label_with_probability_one_minus_q():
    """flip_sd = 0 gives every sample q = 0.5: over 4000 seeds each keeps its label about half
    the time (5-sigma band)."""
    y = np.array([0, 1, 2])
    features = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]])
    L = 3
    counts = np.zeros((3, L))
    for seed in range(4000):
        out = inject(y, kind="instance", level=0.5, rng=np.random.default_rng(seed),
                     features=features, flip_sd=0.0, num_classes=L)
        counts[np.arange(3), out.labels] += 1
    freq = counts / 4000
    assert np.allclose(np.diag(freq), 0.5, atol=5 * np.sqrt(0.25 / 4000))


def test_instance_options_are_checked():
    x, y = blobs(n=20, L=2)
    with pytest.raises(NoisylabError, match="needs exactly one of images or features"):
        inject(y, kind="instance", level=0.2, rng=np.random.default_rng(0))
    with pytest.raises(NoisylabError, match="flip_sd must be >= 0, got -0.1"):
        inject(y, kind="instance", level=0.2, rng=np.random.default_rng(0), images=x,
               flip_sd=-0.1)
    with pytest.raises(NoisylabError, match=r"one row per label: \(19, 5, 5, 3\) for 20"):
        inject(y, kind="instance", level=0.2, rng=np.random.default_rng(0), images=x[:19])
    with pytest.raises(NoisylabError, match="features must be finite"):
        inject(y, kind="instance", level=0.2, rng=np.random.default_rng(0),
               features=np.full((20, 3), np.nan))


def test_inject_cli_instance_on_digits(tmp_path):
    from click.testing import CliRunner

    from noisylab.cli import main
    from noisylab.noise import load_noisy

    args = ["inject", "--dataset", "digits", "--noise", "instance", "--level", "0.4",
            "--flip-sd", "0.05", "--seed", "3", "--out", str(tmp_path / "i.npz")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    noisy, clean = load_noisy(tmp_path / "i.npz")
    assert noisy.spec["flip_sd"] == 0.05 and noisy.spec["seed"] == 3
    sigma = np.sqrt(0.4 * 0.6 / clean.size)
    assert abs(noisy.corrupted.mean() - 0.4) < 4.5 * sigma
    assert f"realized rate: {noisy.corrupted.mean():.4f}" in result.output
    again = CliRunner().invoke(main, args[:-1] + [str(tmp_path / "j.npz")])
    assert again.exit_code == 0
    assert np.array_equal(load_noisy(tmp_path / "j.npz")[0].labels, noisy.labels)
