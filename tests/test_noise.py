"""Invariants of every noise kind: reproducible, non-mutating, exact counts, correct targets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from noisylab.noise import NOISE_KINDS, PRESETS, NoisyLabels, inject, realized_transition

PROPERTY = settings(max_examples=40, deadline=None)


@st.composite
def labelled(draw, min_classes=2, max_n=300):
    """(labels, num_classes): up to max_n labels over 2..12 classes, some classes maybe absent."""
    num_classes = draw(st.integers(min_classes, 12))
    n = draw(st.integers(0, max_n))
    labels = draw(arrays(np.int64, n, elements=st.integers(0, num_classes - 1)))
    return labels, num_classes


LEVELS = st.floats(0.0, 1.0, allow_nan=False)
SEEDS = st.integers(0, 2**32 - 1)


def _options(kind: str, num_classes: int, rng: np.random.Generator) -> dict:
    """Options valid for any labels of num_classes classes."""
    if kind == "asymmetric":
        return {"mapping": {c: (c + 1) % num_classes for c in range(num_classes)}}
    if kind == "confusion":
        return {"matrix": rng.dirichlet(np.ones(num_classes), size=num_classes)}
    return {}


STOCHASTIC = ("random", "symmetric", "flip", "asymmetric", "confusion")


def _counts(labels, num_classes):
    return np.bincount(labels, minlength=num_classes)


@PROPERTY
@given(data=labelled(), level=LEVELS, seed=SEEDS, kind=st.sampled_from(STOCHASTIC))
def test_same_seed_gives_identical_output(data, level, seed, kind):
    labels, L = data
    options = _options(kind, L, np.random.default_rng(0))
    first = inject(labels, kind=kind, level=level, rng=np.random.default_rng(seed),
                   num_classes=L, **options)
    second = inject(labels, kind=kind, level=level, rng=np.random.default_rng(seed),
                    num_classes=L, **options)
    assert np.array_equal(first.labels, second.labels)
    assert np.array_equal(first.corrupted, second.corrupted)
    assert np.array_equal(first.transition, second.transition)
    assert first.spec == second.spec


@PROPERTY
@given(data=labelled(), level=LEVELS, seed=SEEDS, kind=st.sampled_from(STOCHASTIC))
def test_input_is_unchanged_and_result_consistent(data, level, seed, kind):
    labels, L = data
    before = labels.copy()
    out = inject(labels, kind=kind, level=level, rng=np.random.default_rng(seed), num_classes=L,
                 **_options(kind, L, np.random.default_rng(0)))
    assert np.array_equal(labels, before)
    assert out.labels is not labels
    assert out.labels.dtype == np.int64 and out.labels.shape == labels.shape
    assert out.corrupted.dtype == bool
    assert np.array_equal(out.corrupted, out.labels != labels)
    assert out.labels.size == 0 or (out.labels.min() >= 0 and out.labels.max() < L)
    assert out.transition.shape == (L, L)
    assert np.allclose(out.transition.sum(axis=1), 1.0)
    assert np.array_equal(out.transition, realized_transition(labels, out.labels, L))
    assert out.realized_rate == pytest.approx(out.corrupted.mean() if labels.size else 0.0)


@PROPERTY
@given(data=labelled(), seed=SEEDS, kind=st.sampled_from(STOCHASTIC))
def test_level_zero_changes_nothing(data, seed, kind):
    labels, L = data
    out = inject(labels, kind=kind, level=0.0, rng=np.random.default_rng(seed), num_classes=L,
                 **_options(kind, L, np.random.default_rng(0)))
    assert np.array_equal(out.labels, labels)
    assert not out.corrupted.any()
    assert np.array_equal(out.transition, np.eye(L))


@PROPERTY
@given(data=labelled(), level=LEVELS, seed=SEEDS)
def test_symmetric_changes_exactly_round_level_n(data, level, seed):
    labels, L = data
    out = inject(labels, kind="symmetric", level=level, rng=np.random.default_rng(seed),
                 num_classes=L)
    # Every chosen sample changes: the changed count is exactly the chosen count.
    assert int(out.corrupted.sum()) == round(level * labels.size)
    assert out.spec["kind"] == "symmetric" and out.spec["level"] == level


@PROPERTY
@given(data=labelled(), level=LEVELS, seed=SEEDS)
def test_flip_default_sends_each_corrupted_label_to_the_next_class(data, level, seed):
    labels, L = data
    out = inject(labels, kind="flip", level=level, rng=np.random.default_rng(seed), num_classes=L)
    assert int(out.corrupted.sum()) == round(level * labels.size)
    assert np.array_equal(out.labels[out.corrupted], (labels[out.corrupted] + 1) % L)


@PROPERTY
@given(data=labelled(min_classes=3), level=st.floats(0.0, 0.3), seed=SEEDS)
def test_flip_mapping_string_corrupts_only_mapped_classes(data, level, seed):
    labels, L = data
    mapped = np.isin(labels, [0, 1, 2])
    level = min(level, mapped.sum() / max(labels.size, 1))
    out = inject(labels, kind="flip", level=level, rng=np.random.default_rng(seed), num_classes=L,
                 mapping="0:2, 1:0, 2:1")
    pi = np.array([2, 0, 1])
    assert int(out.corrupted.sum()) == round(level * labels.size)
    assert not out.corrupted[~mapped].any()
    assert np.array_equal(out.labels[out.corrupted], pi[labels[out.corrupted]])
    assert out.spec["mapping"] == {"0": 2, "1": 0, "2": 1}


@PROPERTY
@given(data=labelled(), level=LEVELS, seed=SEEDS,
       kind=st.sampled_from(("random", "symmetric", "flip")))
def test_stratify_picks_round_level_n_c_in_each_class(data, level, seed, kind):
    labels, L = data
    out = inject(labels, kind=kind, level=level, rng=np.random.default_rng(seed), num_classes=L,
                 stratify=True)
    changed = _counts(labels[out.corrupted], L)
    expected = np.round(level * _counts(labels, L))
    if kind == "random":
        assert np.all(changed <= expected)     # a redraw may keep its label
    else:
        assert np.array_equal(changed, expected)


@PROPERTY
@given(level=LEVELS, seed=SEEDS, n=st.integers(0, 400))
def test_asymmetric_mnist_flips_each_source_class_once_from_originals(level, seed, n):
    labels = np.random.default_rng(seed).integers(0, 10, n)
    out = inject(labels, kind="asymmetric", level=level, rng=np.random.default_rng(seed),
                 num_classes=10, preset="mnist")
    pi = PRESETS["mnist"]
    for c in range(10):
        members = labels == c
        flipped = out.corrupted & members
        if c in pi:
            assert flipped.sum() == round(level * members.sum())
            # Decided from the originals: a 2 becomes 7 and stays 7, never 7 -> 1.
            assert np.all(out.labels[flipped] == pi[c])
        else:
            assert not flipped.any()


def test_presets_match_the_literature():
    assert PRESETS["mnist"] == {2: 7, 3: 8, 5: 6, 6: 5, 7: 1}
    assert PRESETS["cifar10"] == {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}


def test_cifar100_preset_cycles_within_each_real_superclass():
    from noisylab.noise import CIFAR100_COARSE

    pi = PRESETS["cifar100"]
    assert sorted(pi) == list(range(100)) and sorted(pi.values()) == list(range(100))
    assert np.bincount(CIFAR100_COARSE).tolist() == [5] * 20
    for c in range(100):
        assert CIFAR100_COARSE[pi[c]] == CIFAR100_COARSE[c] and pi[c] != c
        # Five steps return to the start: one 5-cycle per superclass.
        d = c
        for _ in range(5):
            d = pi[d]
        assert d == c
    # Known superclass: aquatic mammals (0) = beaver 4, dolphin 30, otter 55, seal 72, whale 95.
    assert [pi[4], pi[30], pi[55], pi[72], pi[95]] == [30, 55, 72, 95, 4]
    labels = np.arange(100).repeat(10)
    out = inject(labels, kind="asymmetric", level=0.2, rng=np.random.default_rng(0),
                 preset="cifar100")
    assert out.corrupted.sum() == 200
    assert np.array_equal(CIFAR100_COARSE[out.labels], CIFAR100_COARSE[labels])


@pytest.mark.parametrize("num_classes", [2, 10, 100])
@pytest.mark.parametrize("level", [0.05, 0.4, 0.9])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_changed_fraction_is_level_times_one_minus_one_over_l(num_classes, level, seed):
    n = 20_000
    labels = np.random.default_rng(100 + seed).integers(0, num_classes, n)
    out = inject(labels, kind="random", level=level, rng=np.random.default_rng(seed))
    chosen = round(level * n)
    p = 1 - 1 / num_classes
    # Changed count ~ Binomial(chosen, p); 6 standard deviations cannot flake in practice.
    tolerance = 6 * np.sqrt(chosen * p * (1 - p)) + 1
    assert abs(out.corrupted.sum() - chosen * p) <= tolerance
    assert out.corrupted.sum() <= chosen


def test_symmetric_targets_are_uniform_over_other_classes():
    labels = np.zeros(60_000, dtype=np.int64)
    out = inject(labels, kind="symmetric", level=0.5, rng=np.random.default_rng(3), num_classes=4)
    counts = np.bincount(out.labels[out.corrupted], minlength=4)
    assert counts[0] == 0
    assert np.all(np.abs(counts[1:] - 10_000) < 6 * np.sqrt(10_000))


@pytest.mark.parametrize("source", ["array", "npy", "csv"])
def test_file_kind_reads_labels_and_reports_the_realized_rate(tmp_path, source):
    labels = np.array([0, 1, 2, 2, 1, 0, 1, 2])
    noisy = np.array([0, 2, 2, 2, 1, 1, 1, 0])
    if source == "array":
        option = {"noisy_labels": noisy}
    elif source == "npy":
        np.save(tmp_path / "n.npy", noisy)
        option = {"file": tmp_path / "n.npy"}
    else:
        (tmp_path / "n.csv").write_text("label\n" + "\n".join(map(str, noisy)) + "\n")
        option = {"file": str(tmp_path / "n.csv")}
    out = inject(labels, kind="file", level=None, rng=np.random.default_rng(0), **option)
    assert np.array_equal(out.labels, noisy)
    assert out.realized_rate == pytest.approx(3 / 8)
    assert out.transition[2].tolist() == pytest.approx([1 / 3, 0, 2 / 3])
    assert out.spec["level"] is None


def test_result_arrays_are_read_only():
    out = inject(np.arange(10) % 3, kind="symmetric", level=0.5, rng=np.random.default_rng(0))
    assert isinstance(out, NoisyLabels)
    with pytest.raises(ValueError):
        out.labels[0] = 1
    with pytest.raises(AttributeError):
        out.labels = np.zeros(3)


def test_noise_kinds_lists_every_kind_inject_accepts():
    assert set(NOISE_KINDS) == {"random", "symmetric", "flip", "asymmetric", "confusion",
                                "concentrated", "file", "instance", "human"}


def test_absent_class_gets_an_identity_row_and_rounding_is_python_round():
    labels = np.array([0, 0, 1, 1, 1])
    out = inject(labels, kind="symmetric", level=0.5, rng=np.random.default_rng(0), num_classes=3)
    assert out.corrupted.sum() == round(2.5) == 2
    assert out.transition[2].tolist() == [0.0, 0.0, 1.0]


def test_importing_noise_does_not_import_keras_or_tensorflow():
    import subprocess
    import sys

    code = ("import sys, noisylab.noise; "
            "print(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


@given(st.lists(st.integers(0, 3), min_size=1, max_size=50), st.integers(0, 2**31))
def test_realized_transition_rows_sum_to_one(labels, seed):
    y = np.array(labels)
    noisy = np.random.default_rng(seed).integers(0, 4, y.size)
    t = realized_transition(y, noisy, 4)
    assert t.shape == (4, 4)
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    assert 1 - np.trace(t * np.bincount(y, minlength=4)[:, None]) / y.size == pytest.approx(
        (y != noisy).mean())
