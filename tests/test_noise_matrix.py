"""Confusion-matrix noise, the from-trace generator, concentrated noise, and archive files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2
from sklearn.neighbors import NearestNeighbors

from noisylab.noise import inject, load_noisy, noise_matrix_from_trace, read_matrix, save_noisy
from noisylab.noise.matrix import is_learnable, sample_rows


@pytest.mark.parametrize("level", [0.3, 0.8])
@pytest.mark.parametrize("seed", [0, 1])
def test_confusion_realized_matrix_is_within_a_chi_square_bound(level, seed):
    L, n = 6, 100_000
    rng = np.random.default_rng(1000 + seed)
    labels = rng.integers(0, L, n)
    P = rng.dirichlet(np.ones(L) * 0.7, size=L)
    P[0] = np.eye(L)[3]                                 # a deterministic row
    out = inject(labels, kind="confusion", level=level, rng=np.random.default_rng(seed),
                 matrix=P)
    assert out.corrupted.sum() <= round(level * n)
    expected_matrix = (1 - level) * np.eye(L) + level * P
    n_c = np.bincount(labels, minlength=L)
    observed = out.transition * n_c[:, None]
    expected = expected_matrix * n_c[:, None]
    cells = expected > 0
    assert np.all(observed[~cells] == 0)                # zero-probability cells never happen
    statistic = ((observed - expected)[cells] ** 2 / expected[cells]).sum()
    dof = int(cells.sum() - L)
    assert statistic < chi2.ppf(1 - 1e-6, dof)
    assert np.allclose(out.spec["matrix"], P)


def test_confusion_with_level_one_reproduces_the_matrix_exactly_in_expectation():
    labels = np.repeat(np.arange(3), 30_000)
    P = np.array([[0.0, 0.5, 0.5], [0.2, 0.8, 0.0], [0.0, 0.0, 1.0]])
    out = inject(labels, kind="confusion", level=1.0, rng=np.random.default_rng(0), matrix=P)
    assert np.abs(out.transition - P).max() < 0.02
    assert out.transition[1, 2] == 0 and out.transition[0, 0] == 0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), L=st.integers(2, 8))
def test_sample_rows_never_picks_a_zero_probability_column(seed, L):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(L), size=L)
    P[rng.random((L, L)) < 0.5] = 0.0
    P[np.arange(L), rng.integers(0, L, L)] += 1e-3
    P /= P.sum(axis=1, keepdims=True)
    true = rng.integers(0, L, 2000)
    noisy = sample_rows(true, P, rng=rng)
    assert np.all(P[true, noisy] > 0)


def test_confusion_matrix_from_csv_npy_and_inline(tmp_path):
    P = np.array([[0.0, 1.0], [1.0, 0.0]])
    np.save(tmp_path / "p.npy", P)
    np.savetxt(tmp_path / "p.csv", P, delimiter=",")
    labels = np.array([0, 1] * 50)
    results = [
        inject(labels, kind="confusion", level=0.5, rng=np.random.default_rng(4), matrix=source)
        for source in (P, tmp_path / "p.npy", str(tmp_path / "p.csv"), "0,1;1,0")
    ]
    for out in results:
        assert out.corrupted.sum() == 50
        assert np.array_equal(out.labels, results[0].labels)
    assert read_matrix("0.9, 0.1; 0.2, 0.8").tolist() == [[0.9, 0.1], [0.2, 0.8]]


@pytest.mark.parametrize("L, trace", [(2, 1.5), (4, 2.0), (10, 7.5), (10, 3.0)])
def test_from_trace_matrix_has_the_trace_and_is_stochastic(L, trace):
    P = noise_matrix_from_trace(L, trace, rng=np.random.default_rng(7), py=np.ones(L) / L)
    assert P.shape == (L, L)
    assert np.trace(P) == pytest.approx(trace, abs=1e-6)
    assert np.all(P >= 0) and np.allclose(P.sum(axis=1), 1.0)
    assert is_learnable(P, np.ones(L) / L)
    again = noise_matrix_from_trace(L, trace, rng=np.random.default_rng(7), py=np.ones(L) / L)
    assert np.array_equal(P, again)


def test_from_trace_zero_noise_rates_and_seeded_inject():
    L = 8
    P = noise_matrix_from_trace(L, 5.0, rng=np.random.default_rng(1), frac_zero_noise_rates=0.5)
    off = ~np.eye(L, dtype=bool)
    assert (P[off] == 0).sum() >= int(L * (L - 1) * 0.5)
    assert np.all((P[off] > 0).reshape(L, L - 1).sum(axis=1) >= 1)
    labels = np.random.default_rng(0).integers(0, L, 5000)
    a = inject(labels, kind="confusion", level=1.0, rng=np.random.default_rng(0), trace=5.0,
               matrix_seed=11)
    b = inject(labels, kind="confusion", level=1.0, rng=np.random.default_rng(99), trace=5.0,
               matrix_seed=11)
    assert a.spec["matrix"] == b.spec["matrix"]          # the matrix depends on matrix_seed only
    assert a.spec["source"] == "from-trace" and a.spec["matrix_seed"] == 11
    c = inject(labels, kind="confusion", level=1.0, rng=np.random.default_rng(0), trace=5.0)
    assert isinstance(c.spec["matrix_seed"], int)       # drawn from rng and recorded


def _blobs(seed: int, classes: int = 3, blobs_per_class: int = 8, per_blob: int = 50):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-100, 100, size=(classes * blobs_per_class, 5))
    X = np.repeat(centers, per_blob, axis=0) + rng.normal(0, 0.5, (centers.shape[0] * per_blob, 5))
    labels = np.repeat(np.arange(classes), blobs_per_class * per_blob)
    return X, labels


def _neighbour_corruption(X, corrupted, k=10):
    index = NearestNeighbors(n_neighbors=k + 1).fit(X)
    _, neighbours = index.kneighbors(X[corrupted])
    return corrupted[neighbours[:, 1:]].mean()


@pytest.mark.parametrize("level", [0.25, 0.4])
def test_concentrated_noise_is_spatially_concentrated_unlike_symmetric(level):
    X, labels = _blobs(0)
    out = inject(labels, kind="concentrated", level=level, rng=np.random.default_rng(0),
                 features=X)
    n_c = np.bincount(labels)
    assert np.array_equal(np.bincount(labels[out.corrupted], minlength=3), np.round(level * n_c))
    assert np.all(out.labels[out.corrupted] == (labels[out.corrupted] + 1) % 3)   # (c + L//2)
    assert _neighbour_corruption(X, out.corrupted) >= 0.8
    sym = inject(labels, kind="symmetric", level=level, rng=np.random.default_rng(0))
    assert abs(_neighbour_corruption(X, sym.corrupted) - level) < 0.06


def test_concentrated_takes_whole_clusters_then_nearest_to_centroid():
    # One class, two tight blobs of 10 and one of 40 points; 15 corrupted = one whole small blob
    # (10) + 5 from another cluster, or 15 of the big blob nearest its centroid.
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(0, 0.1, (10, 2)), rng.normal(50, 0.1, (10, 2)),
                        rng.normal(-50, 0.1, (40, 2))])
    labels = np.zeros(60, dtype=np.int64)
    for seed in range(5):
        out = inject(labels, kind="concentrated", level=0.25, rng=np.random.default_rng(seed),
                     num_classes=2, features=X, clusters=3)
        assert out.corrupted.sum() == 15
        hit = [out.corrupted[:10].sum(), out.corrupted[10:20].sum(), out.corrupted[20:].sum()]
        assert sorted(hit) in ([0, 5, 10], [0, 0, 15])


def test_concentrated_mapping_and_pca_features_and_determinism():
    from noisylab.data import load_digits

    data = load_digits()
    runs = [inject(data.y_train, kind="concentrated", level=0.2, rng=np.random.default_rng(5),
                   images=data.x_train, mapping="0:1") for _ in range(2)]
    assert np.array_equal(runs[0].labels, runs[1].labels)
    out = runs[0]
    assert out.spec["features"].startswith("pca") and out.spec["targets"]["0"] == 1
    assert np.all(out.labels[out.corrupted & (data.y_train == 0)] == 1)
    assert np.all(out.labels[out.corrupted & (data.y_train == 3)] == 8)
    assert out.spec["clusters_used"]["0"] == 5


def test_archive_round_trip(tmp_path):
    labels = np.arange(40) % 4
    out = inject(labels, kind="flip", level=0.2, rng=np.random.default_rng(0), mapping={0: 3})
    path = save_noisy(tmp_path / "noisy.npz", out, labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noisy.npz"]   # no temp file left
    back, clean = load_noisy(path)
    assert np.array_equal(back.labels, out.labels) and np.array_equal(clean, labels)
    assert np.array_equal(back.corrupted, out.corrupted)
    assert np.array_equal(back.transition, out.transition)
    assert back.spec == json.loads(json.dumps(out.spec))
