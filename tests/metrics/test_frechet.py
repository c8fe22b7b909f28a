"""Frechet distance against scipy's sqrtm, a closed form, and numpy statistics."""

import numpy as np
import pytest

from gen_jax.metrics import (
    FeatureStatistics,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_statistics,
)

from . import _reference as ref


def _correlated(rng, n, dim, scale):
    mix = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    return rng.normal(size=(n, dim)) @ mix * scale


@pytest.mark.parametrize("dim", [8, 64])
def test_matches_scipy_sqrtm_reference(dim):
    rng = np.random.default_rng(dim)
    x = _correlated(rng, 500, dim, 1.0).astype(np.float32)
    y = (_correlated(rng, 400, dim, 1.3) + 0.2).astype(np.float32)
    want = ref.frechet(x, y)
    assert want > 1.0
    np.testing.assert_allclose(float(frechet_distance(x, y)), want, rtol=1e-4)


def test_a_small_distance_keeps_its_digits():
    # Two samples of one distribution: the distance is a small difference of large traces, and
    # float32 eigendecompositions lost 0.35% of it (0.7882 against scipy's 0.7910 on this case).
    rng = np.random.default_rng(5)
    mix = rng.normal(size=(64, 64)) / 8.0
    x, y = (rng.normal(size=(2000, 64)) @ mix + 3.0 for _ in range(2))
    x, y = x.astype(np.float32), y.astype(np.float32)
    want = ref.frechet(x, y)
    assert want < 0.05 * np.trace(np.cov(np.asarray(x, np.float64), rowvar=False))
    np.testing.assert_allclose(float(frechet_distance(x, y)), want, rtol=1e-4)


def test_fewer_examples_than_features_match_scipy():
    # Rank-deficient covariances (100 rows, 256 features): float32 eigh gives slightly
    # negative eigenvalues, which must be clipped, not square-rooted into NaN.
    rng = np.random.default_rng(11)
    x = _correlated(rng, 100, 256, 1.0).astype(np.float32)
    y = (_correlated(rng, 100, 256, 1.2) + 0.1).astype(np.float32)
    want = ref.frechet(x, y)
    assert want > 1.0
    np.testing.assert_allclose(float(frechet_distance(x, y)), want, rtol=1e-3)


def test_closed_form_for_diagonal_gaussians():
    # FD(N(a, diag(u)), N(b, diag(v))) = |a - b|^2 + sum (sqrt(u) - sqrt(v))^2
    a, b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    u, v = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    got = frechet_distance_from_statistics(FeatureStatistics(a, np.diag(u)),
                                           FeatureStatistics(b, np.diag(v)))
    want = np.sum((a - b) ** 2) + np.sum((np.sqrt(u) - np.sqrt(v)) ** 2)
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_identical_sets_have_distance_zero():
    x = _correlated(np.random.default_rng(0), 300, 32, 1.0).astype(np.float32)
    assert abs(float(frechet_distance(x, x))) < 1e-3 * float(np.trace(np.cov(x.T)))


def test_blockwise_statistics_are_two_pass_accurate_far_from_the_origin():
    # 103 rows in blocks of 16 (a padded last block); an offset of 1e3 would cost a naive
    # E[x^2] - E[x]^2 in float32 all its digits.
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(103, 5)) + 1e3).astype(np.float32)
    mean, cov = feature_statistics(x, block_size=16)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(0), rtol=1e-6)
    np.testing.assert_allclose(cov, np.cov(x64, rowvar=False), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((1, 3)), np.zeros((5, 3)), r"at least 2 rows"),
    (np.zeros((4, 3)), np.zeros((5, 2)), r"3 features per row but y has 2"),
    (np.zeros((4, 3, 1)), np.zeros((5, 3)), r"\[N, D\] feature array"),
])
def test_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        frechet_distance(x, y)
