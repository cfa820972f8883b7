"""The K-NN plurality model against brute-force enumeration, closed forms and exact arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noisylab import analytic
from noisylab.analytic import (
    ANALYTIC_KINDS,
    accuracy_table,
    expected_accuracy,
    fit_k,
    plurality_probability,
)
from noisylab.errors import NoisylabError


def brute(q, k, correct=0):
    """Sum the multinomial over every count vector where `correct` has a strict plurality."""
    el = len(q)
    terms = []

    def rec(j, left, counts):
        if j == el - 1:
            full = counts + [left]
            if all(full[correct] > c for i, c in enumerate(full) if i != correct):
                coef = math.factorial(k)
                for c in full:
                    coef //= math.factorial(c)
                prob = math.prod(float(qq) ** c for qq, c in zip(q, full, strict=True))
                terms.append(coef * prob)
            return
        for c in range(left + 1):
            rec(j + 1, left - c, counts + [c])

    rec(0, k, [])
    return math.fsum(terms)


def eq9(gamma, k):
    return sum(math.comb(k, n) * (1 - gamma) ** n * gamma ** (k - n)
               for n in range(math.ceil((k + 1) / 2), k + 1))


@pytest.mark.parametrize("el", [2, 3, 4, 5])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 6, 9, 12])
@pytest.mark.parametrize("gamma", [0.0, 0.3, 0.75, 1.0])
def test_random_noise_matches_brute_force(el, k, gamma):
    q = np.full(el, gamma / el)
    q[0] += 1 - gamma
    want = brute(q, k)
    assert plurality_probability(q, k) == pytest.approx(want, rel=1e-12, abs=1e-14)
    assert expected_accuracy("random", gamma, k, el) == pytest.approx(want, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 11])
@pytest.mark.parametrize("gamma", [0.1, 0.4, 0.5, 0.6])
def test_flip_eq9_equals_general_formula(k, gamma):
    want = eq9(gamma, k)
    assert plurality_probability([1 - gamma, gamma], k) == pytest.approx(want, rel=1e-12)
    assert brute([1 - gamma, gamma], k) == pytest.approx(want, rel=1e-12)
    # with L classes the flip permutation leaves two competing labels: eq. 9 again
    for el in (2, 3, 6):
        got = expected_accuracy("flip", gamma, k, el)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_symmetric_is_our_extension():
    el, k, gamma = 4, 7, 0.35
    q = np.full(el, gamma / (el - 1))
    q[0] = 1 - gamma
    assert expected_accuracy("symmetric", gamma, k, el) == pytest.approx(brute(q, k), rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    el=st.integers(2, 5),
    k=st.integers(1, 10),
    seed=st.integers(0, 2**32 - 1),
    alpha=st.sampled_from([0.2, 1.0, 5.0]),
)
def test_random_q_vectors_match_brute_force(el, k, seed, alpha):
    rng = np.random.default_rng(seed)
    q = rng.dirichlet(np.full(el, alpha))
    correct = int(rng.integers(el))
    got = plurality_probability(q, k, correct)
    assert got == pytest.approx(brute(q, k, correct), rel=1e-11, abs=1e-14)


@settings(max_examples=15, deadline=None)
@given(el=st.integers(2, 4), seed=st.integers(0, 2**32 - 1), gamma=st.floats(0, 1))
def test_random_confusion_matrix_matches_brute_force(el, seed, gamma):
    rng = np.random.default_rng(seed)
    mat = rng.dirichlet(np.ones(el), size=el)
    k = 5
    want = np.mean([
        brute((1 - gamma) * np.eye(el)[c] + gamma * mat[c], k, c) for c in range(el)
    ])
    got = expected_accuracy("confusion", gamma, k, el, matrix=mat)
    assert got == pytest.approx(want, rel=1e-11, abs=1e-14)


def test_vectorized_q_and_all_k_table():
    rng = np.random.default_rng(1)
    q = rng.dirichlet(np.ones(6), size=12)
    correct = rng.integers(0, 6, size=12)
    got = plurality_probability(q, 8, correct)
    assert got.shape == (12,)
    np.testing.assert_allclose(got, [brute(q[i], 8, int(correct[i])) for i in range(12)],
                               rtol=1e-11, atol=1e-14)
    ks = np.arange(1, 15)
    table = analytic._plurality_table(q[:4], ks, correct[:4])
    want = [[brute(q[i], int(k), int(correct[i])) for k in ks] for i in range(4)]
    np.testing.assert_allclose(table, want, rtol=1e-11, atol=1e-14)


def test_clean_probs_general_case_matches_brute_force():
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(4) * 0.7, size=25)
    labels = rng.integers(0, 4, size=25)
    levels = np.array([0.0, 0.3, 0.9])
    got = expected_accuracy("random", levels, 6, 4, clean_probs=probs, true_labels=labels)
    assert got.shape == (3,)
    for g, value in zip(levels, got, strict=True):
        q = (1 - g) * probs + g / 4
        want = np.mean([brute(q[i], 6, int(labels[i])) for i in range(25)])
        assert value == pytest.approx(want, rel=1e-11)
    # correct='argmax' scores against the softmax's argmax, on request only
    arg = expected_accuracy("random", 0.3, 6, 4, clean_probs=probs, correct="argmax")
    q = 0.7 * probs + 0.3 / 4
    assert arg == pytest.approx(np.mean([brute(q[i], 6, int(q[i].argmax())) for i in range(25)]))


def test_argmax_is_never_the_silent_default():
    # 20 softmaxes, half of them wrong at their argmax: the two choices differ a lot, so
    # clean_probs without true labels is an error unless correct='argmax' is asked for
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(4), size=20)
    labels = probs.argmax(axis=1)
    labels[::2] = (labels[::2] + 1) % 4
    true = expected_accuracy("random", 0.2, 9, 4, clean_probs=probs, true_labels=labels)
    arg = expected_accuracy("random", 0.2, 9, 4, clean_probs=probs, correct="argmax")
    assert arg - true > 0.2
    with pytest.raises(NoisylabError, match="clean_probs needs true_labels"):
        expected_accuracy("random", 0.2, 9, 4, clean_probs=probs)
    with pytest.raises(NoisylabError, match="clean_probs needs true_labels"):
        accuracy_table("random", [0.2], [9], 4, clean_probs=probs)
    with pytest.raises(NoisylabError, match="clean_probs needs true_labels"):
        fit_k([0.0, 0.5], [0.9, 0.5], num_classes=4, clean_probs=probs)
    with pytest.raises(NoisylabError, match="not both"):
        expected_accuracy("random", 0.2, 9, 4, clean_probs=probs, true_labels=labels,
                          correct="argmax")
    with pytest.raises(NoisylabError, match="correct must be one of argmax, got 'max'"):
        expected_accuracy("random", 0.2, 9, 4, clean_probs=probs, correct="max")
    with pytest.raises(NoisylabError, match="true_labels needs clean_probs"):
        expected_accuracy("random", 0.2, 9, 4, true_labels=labels)
    with pytest.raises(NoisylabError, match="correct='argmax' needs clean_probs"):
        expected_accuracy("random", 0.2, 9, 4, correct="argmax")


@pytest.mark.parametrize("kind", ["random", "symmetric", "flip"])
@pytest.mark.parametrize("k", [1, 2, 7, 50, 200])
def test_gamma_zero_gives_one(kind, k):
    assert expected_accuracy(kind, 0.0, k, 10) == 1.0


@pytest.mark.parametrize("el", [2, 3, 10])
def test_k_one_gives_q_correct(el):
    rng = np.random.default_rng(el)
    q = rng.dirichlet(np.ones(el), size=5)
    np.testing.assert_allclose(plurality_probability(q, 1, 2 % el), q[:, 2 % el], rtol=1e-14)
    levels = np.linspace(0, 1, 11)
    np.testing.assert_allclose(expected_accuracy("random", levels, 1, el),
                               1 - levels + levels / el, rtol=1e-13)
    np.testing.assert_allclose(expected_accuracy("symmetric", levels, 1, el), 1 - levels,
                               atol=1e-15)


def test_concentrated_is_one_minus_gamma():
    levels = np.array([0.0, 0.25, 0.6])
    np.testing.assert_allclose(expected_accuracy("concentrated", levels, 11, 10), 1 - levels)


def test_level_shape_is_kept():
    assert isinstance(expected_accuracy("random", 0.2, 5, 3), float)
    assert expected_accuracy("random", [0.2, 0.4], 5, 3).shape == (2,)


def test_k_1000_two_classes_is_exact():
    gamma = Fraction(9, 20)
    k = 1000
    exact = sum(math.comb(k, n) * (1 - gamma) ** n * gamma ** (k - n) for n in range(501, k + 1))
    got = expected_accuracy("flip", 0.45, k, 2)
    assert math.isfinite(got)
    assert got == pytest.approx(float(exact), rel=1e-12)


def test_k_1000_three_classes_matches_log_space_enumeration():
    k, q = 1000, np.array([0.38, 0.33, 0.29])
    lf = np.array([math.lgamma(i + 1) for i in range(k + 1)])
    logq = np.log(q)
    terms = []
    for n0 in range(k + 1):
        n1 = np.arange(0, k - n0 + 1)
        n2 = k - n0 - n1
        ok = (n1 < n0) & (n2 < n0)
        if not ok.any():
            continue
        n1, n2 = n1[ok], n2[ok]
        terms.append(np.exp(lf[k] - lf[n0] - lf[n1] - lf[n2]
                            + n0 * logq[0] + n1 * logq[1] + n2 * logq[2]))
    want = math.fsum(np.concatenate(terms))
    got = plurality_probability(q, k)
    assert got == pytest.approx(want, rel=1e-10)


def test_k_1000_many_classes_is_finite_and_paths_agree():
    levels = np.array([0.0, 0.5, 1.0])
    got = expected_accuracy("random", levels, 1000, 5)
    assert np.all(np.isfinite(got)) and np.all((got >= 0) & (got <= 1))
    # gamma = 1: uniform votes, class 0 wins outright a little under 1/L of the time (ties)
    assert got[0] == 1.0 and got[1] > 1 - 1e-12 and 0.15 < got[-1] < 0.2
    rng = np.random.default_rng(3)
    p = np.sort(rng.dirichlet(np.ones(6), size=4), axis=1)
    np.testing.assert_allclose(analytic._h_elementwise(p, 9, 40),
                               analytic._h_matmul(p, 9, 0, 40), rtol=1e-12, atol=1e-15)


def test_fit_k_recovers_k():
    levels = np.linspace(0, 0.95, 20)
    acc = expected_accuracy("random", levels, 17, 10)
    res = fit_k(levels, acc, num_classes=10, k_values=range(1, 60))
    assert res.k == 17 and res.sse < 1e-20 and res.curve.shape == (20,)
    noisy = acc + np.random.default_rng(0).normal(0, 0.005, size=20)
    res2 = fit_k(levels, np.clip(noisy, 0, 1), num_classes=10, k_values=range(1, 60))
    assert abs(res2.k - 17) <= 3 and res2.rmse < 0.02


def test_accuracy_table_matches_expected_accuracy():
    levels = np.array([0.1, 0.7])
    table = accuracy_table("symmetric", levels, [3, 1, 9], 5)
    for j, k in enumerate([3, 1, 9]):
        np.testing.assert_allclose(table[:, j], expected_accuracy("symmetric", levels, k, 5))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: plurality_probability([0.5, 0.6], 3), "sum to 1"),
        (lambda: plurality_probability([1.2, -0.2], 3), "q entries must be >= 0"),
        (lambda: plurality_probability([[[0.5, 0.5]]], 3), "shape"),
        (lambda: plurality_probability([1.0], 3), "shape"),
        (lambda: plurality_probability([0.5, 0.5], 0), "K must be an integer >= 1"),
        (lambda: plurality_probability([0.5, 0.5], 2.5), "K must be an integer >= 1"),
        (lambda: plurality_probability([0.5, 0.5], 3, correct=2), "correct"),
        (lambda: expected_accuracy("random", 0.1, 3, 1), "L\\) must be an integer >= 2"),
        (lambda: expected_accuracy("random", 1.3, 3, 4), "level must be in \\[0, 1\\], got 1.3"),
        (lambda: expected_accuracy("nope", 0.1, 3, 4), "noise kind"),
        (lambda: expected_accuracy("confusion", 0.1, 3, 3), "needs a matrix"),
        (lambda: expected_accuracy("confusion", 0.1, 3, 2, matrix=[[0.5, 0.4], [0, 1]]),
         "row 0 sums"),
        (lambda: expected_accuracy("random", 0.1, 3, 3, clean_probs=np.ones((4, 2)) / 2,
                                   correct="argmax"), "shape \\(n, 3\\)"),
        (lambda: expected_accuracy("random", 0.1, 3, 2, clean_probs=np.ones((4, 2)) / 2,
                                   true_labels=[0, 1, 2, 0]), "true_labels"),
        (lambda: fit_k([0.1, 0.2], [0.9], num_classes=3), "same length"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(NoisylabError, match=match):
        call()


def test_kinds_constant():
    assert set(ANALYTIC_KINDS) == {"random", "symmetric", "flip", "confusion", "concentrated"}


# --------------------------------------------------------------------------------------------
# the fast paths of noisylab.analytic.plurality, each regime against brute force or exact arithmetic


def _exact_q(q, k, correct=0):
    """Q in exact rational arithmetic over the correct count n: sum_n Bin(n) * H(n, K - n)."""
    qf = [Fraction(float(v)) for v in q]
    qc = qf[correct]
    others = [v for i, v in enumerate(qf) if i != correct]
    total = Fraction(0)
    for n in range(1, k + 1):
        m = k - n
        # H(n, m) * (1 - q_c)^m: polynomial of the others truncated at degree n - 1
        poly = [Fraction(1)]
        for v in others:
            new = [Fraction(0)] * min(m + 1, len(poly) + n - 1)
            for a, ca in enumerate(poly):
                for i in range(min(n, len(new) - a)):
                    new[a + i] += ca * v ** i / math.factorial(i)
            poly = new
        if m < len(poly):
            total += math.comb(k, n) * qc ** n * poly[m] * math.factorial(m)
    return float(total)


@pytest.mark.parametrize("k", [11, 17, 20, 23, 30])
@pytest.mark.parametrize("el", [3, 4, 6])
def test_every_regime_of_n_matches_exact_arithmetic(el, k):
    # K from 11 to 30 with L up to 6 crosses pigeonhole zeros, one-violator tails (m <= 2n - 1),
    # the windowed product (m >= 2n) and the binomial tail (n > K/2)
    rng = np.random.default_rng(el * 100 + k)
    for alpha in (0.3, 1.0, 8.0):
        q = rng.dirichlet(np.full(el, alpha))
        correct = int(rng.integers(el))
        got = plurality_probability(q, k, correct)
        assert got == pytest.approx(_exact_q(q, k, correct), rel=1e-11, abs=1e-15)


def test_one_violator_tails_match_exact_sums():
    from noisylab.analytic import plurality

    rng = np.random.default_rng(7)
    p = np.sort(rng.dirichlet(np.ones(5), size=4), axis=1)
    p = np.vstack([p, np.sort([0.6, 0.1, 0.1, 0.1, 0.1]), [0.0, 0.0, 0.0, 0.0, 1.0]])
    tables = plurality._ChunkTables(np.full(p.shape[0], 0.3), p, -1, 40, 80)
    for n in (14, 17, 20):
        m0, m1 = n, 2 * n - 1                          # at most one class can reach n
        got = 1.0 - plurality._one_violator_tails(tables.small, tables.large, tables.big,
                                                  n, m0, m1)
        assert got.shape == (m1 - m0 + 1, p.shape[0])
        for b in range(p.shape[0]):
            pf = [Fraction(float(v)) for v in p[b]]
            for row, m in enumerate(range(m0, m1 + 1)):
                tails = sum(math.comb(m, i) * v ** i * (1 - v) ** (m - i)
                            for v in pf for i in range(n, m + 1))
                assert got[row, b] == pytest.approx(float(1 - tails), rel=1e-12, abs=1e-14)


def test_many_rows_in_chunks_and_threads_keep_their_order():
    from noisylab.analytic import plurality

    rng = np.random.default_rng(11)
    q = rng.dirichlet(np.full(5, 0.6), size=plurality._CHUNK * 2 + 37)
    correct = rng.integers(0, 5, size=q.shape[0])
    ks = np.array([9, 25])
    got = analytic._plurality_table(q, ks, correct)
    pick = rng.choice(q.shape[0], size=40, replace=False)
    # the same rows one at a time (one chunk, no threads) give the same values
    alone = np.array([analytic._plurality_table(q[i:i + 1], ks, correct[i:i + 1])[0]
                      for i in pick])
    np.testing.assert_allclose(got[pick], alone, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(got[pick[:6], 0],
                               [brute(q[i], 9, int(correct[i])) for i in pick[:6]],
                               rtol=1e-11, atol=1e-14)
    assert analytic._plurality_table(q[:0], ks, correct[:0]).shape == (0, 2)


def test_benchmark_size_curve_is_stable_across_levels():
    # the general case at K=100, L=10 agrees with the row-by-row computation
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.full(10, 0.5), size=30)
    labels = rng.integers(0, 10, size=30)
    levels = np.array([0.0, 0.4, 1.0])
    got = expected_accuracy("random", levels, 100, 10, clean_probs=probs, true_labels=labels)
    for g, value in zip(levels, got, strict=True):
        q = (1 - g) * probs + g / 10
        rows = [plurality_probability(q[i], 100, int(labels[i])) for i in range(30)]
        assert value == pytest.approx(np.mean(rows), rel=1e-13, abs=1e-16)
    # uniform votes at gamma = 1: every sample has the same Q
    assert got[-1] == pytest.approx(plurality_probability(np.full(10, 0.1), 100), rel=1e-13)


@pytest.mark.parametrize("kind", ["random", "symmetric", "flip", "confusion", "concentrated"])
def test_general_form_with_one_hot_softmaxes_is_the_learnable_form(kind):
    # C(s) one-hot and right (one sample of each class): eq. 2 is eq. 7-9, exactly
    el = 5
    rng = np.random.default_rng(9)
    matrix = rng.dirichlet(np.ones(el), size=el) if kind == "confusion" else None
    levels = np.linspace(0.0, 1.0, 11)
    ks = [1, 4, 25, 60]
    learnable = accuracy_table(kind, levels, ks, el, matrix=matrix)
    labels = np.arange(el)
    general = accuracy_table(kind, levels, ks, el, matrix=matrix, clean_probs=np.eye(el)[labels],
                             true_labels=labels)
    np.testing.assert_array_equal(general, learnable)
    assert learnable[0, 0] == 1.0 and 0.0 <= learnable.min()
