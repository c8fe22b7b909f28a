"""Likelihoods against scipy closed forms and brute-force float64 numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats

from gen_jax.models import (
    Likelihood,
    bernoulli_log_prob,
    bernoulli_mean,
    discretize,
    discretized_logistic_log_prob,
    discretized_logistic_mean,
    gaussian_log_prob,
)

RNG = np.random.default_rng(0)


def test_bernoulli_matches_scipy_on_binary_data():
    logits = RNG.normal(scale=3.0, size=(5, 4, 3)).astype(np.float32)
    x = (RNG.random((5, 4, 3)) < 0.5).astype(np.float32)
    p = scipy.special.expit(logits.astype(np.float64))
    expected = scipy.stats.bernoulli.logpmf(x, p).sum(axis=(1, 2))
    np.testing.assert_allclose(bernoulli_log_prob(logits, x), expected, rtol=1e-5)
    np.testing.assert_allclose(bernoulli_mean(logits), p, rtol=1e-5)


def test_bernoulli_on_grey_data_is_negative_cross_entropy():
    logits = RNG.normal(scale=2.0, size=(6, 10)).astype(np.float32)
    x = RNG.random((6, 10)).astype(np.float32)
    p = scipy.special.expit(logits.astype(np.float64))
    expected = (x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=1)
    np.testing.assert_allclose(bernoulli_log_prob(logits, x), expected, rtol=1e-5)


def test_bernoulli_is_finite_for_extreme_logits():
    logits = jnp.array([[-80.0, 80.0, 0.0]])
    x = jnp.array([[1.0, 0.0, 1.0]])
    np.testing.assert_allclose(bernoulli_log_prob(logits, x), [-160.0 - np.log(2)], rtol=1e-6)
    assert np.all(np.isfinite(jax.grad(lambda t: bernoulli_log_prob(t, x).sum())(logits)))


def test_event_ndim_sums_only_the_trailing_axes():
    logits = RNG.normal(size=(3, 5, 4)).astype(np.float32)
    x = (RNG.random((5, 4)) < 0.5).astype(np.float32)
    out = bernoulli_log_prob(logits, x[None], event_ndim=1)
    assert out.shape == (3, 5)
    np.testing.assert_allclose(out[1], bernoulli_log_prob(logits[1], x), rtol=1e-6)


def test_gaussian_matches_scipy():
    mean = RNG.normal(size=(4, 6)).astype(np.float32)
    log_scale = RNG.normal(scale=0.5, size=(4, 6)).astype(np.float32)
    x = RNG.normal(size=(4, 6)).astype(np.float32)
    expected = scipy.stats.norm.logpdf(x, mean, np.exp(log_scale.astype(np.float64))).sum(1)
    np.testing.assert_allclose(gaussian_log_prob(mean, log_scale, x), expected, rtol=1e-5)


def _brute_force_logistic(mean, log_scale, k, levels):
    """log P(bin k) in float64 from CDF differences; sf differences above the mean (no
    cancellation in the upper tail)."""
    mean, scale, k = (np.asarray(a, np.float64) for a in (mean, np.exp(log_scale), k))
    half = 0.5 / (levels - 1)
    centre = k / (levels - 1)
    hi = np.where(k == levels - 1, np.inf, centre + half)
    lo = np.where(k == 0, -np.inf, centre - half)
    dist = scipy.stats.logistic(loc=mean, scale=scale)
    above = lo > mean
    with np.errstate(divide="ignore"):
        p = np.where(above, dist.sf(lo) - dist.sf(hi), dist.cdf(hi) - dist.cdf(lo))
    return np.log(p)


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_discretized_logistic_matches_brute_force(levels):
    n = 400
    k = RNG.integers(0, levels, size=n)
    k[:4] = [0, levels - 1, 0, levels - 1]  # edge bins, far and near
    x = (k / (levels - 1)).astype(np.float32)
    mean = RNG.uniform(-0.3, 1.3, size=n).astype(np.float32)
    log_scale = RNG.uniform(-6.0, 1.0, size=n).astype(np.float32)
    mean[:4] = [0.9, 0.1, 0.0, 1.0]
    log_scale[:4] = [-4.0, -4.0, -7.0, -7.0]
    got = discretized_logistic_log_prob(mean, log_scale, x, levels, event_ndim=0)
    expected = _brute_force_logistic(mean, log_scale, k, levels)
    finite = np.isfinite(expected)  # float64 underflow in the far tails
    assert finite.mean() > 0.9
    np.testing.assert_allclose(np.asarray(got)[finite], expected[finite], rtol=2e-4, atol=2e-4)
    assert np.all(np.isfinite(got))


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_discretized_logistic_sums_to_one_over_bins(levels):
    mean = jnp.array([0.0, 0.37, 1.0, -2.0, 0.5])
    log_scale = jnp.array([-7.0, -3.0, 0.0, 2.0, -5.0])
    x = jnp.arange(levels, dtype=jnp.float32) / (levels - 1)
    log_p = discretized_logistic_log_prob(mean[:, None], log_scale[:, None], x[None], levels,
                                          event_ndim=0)
    np.testing.assert_allclose(jnp.exp(log_p).sum(axis=1), 1.0, rtol=1e-4)


def test_discretized_logistic_gradients_are_finite_at_extremes():
    levels = 256
    x = jnp.array([0.0, 1.0, 0.5, 0.5, 0.0])
    mean = jnp.array([1.0, 0.0, 0.5, -3.0, 0.0])
    log_scale = jnp.array([-7.0, -7.0, -7.0, -7.0, 10.0])
    grads = jax.grad(
        lambda m, s: discretized_logistic_log_prob(m, s, x, levels, event_ndim=0).sum(),
        argnums=(0, 1),
    )(mean, log_scale)
    assert all(np.all(np.isfinite(g)) for g in grads)


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_discretize_maps_centres_and_dequantized_values_to_their_bin(levels):
    k = np.arange(levels)
    for scaled in (k / (levels - 1), (k + 0.5) / levels):
        np.testing.assert_array_equal(discretize(jnp.asarray(scaled, jnp.float32), levels), k)
    u = RNG.random(levels) * 0.999
    np.testing.assert_array_equal(discretize(jnp.asarray((k + u) / levels, jnp.float32), levels), k)


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_discretized_logistic_mean_matches_brute_force(levels):
    mean = RNG.uniform(-0.2, 1.2, size=20)
    log_scale = RNG.uniform(-5.0, 0.5, size=20)
    k = np.arange(levels)
    log_p = _brute_force_logistic(mean[:, None], log_scale[:, None], k[None], levels)
    expected = (np.exp(log_p) * (k / (levels - 1))).sum(axis=1)
    got = discretized_logistic_mean(jnp.asarray(mean, jnp.float32),
                                    jnp.asarray(log_scale, jnp.float32), levels)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    with jax.enable_x64(True):  # a float64 model's mean is float64 throughout, edges included
        got = discretized_logistic_mean(jnp.asarray(mean), jnp.asarray(log_scale), levels)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_likelihood_dispatch_and_errors():
    loc = jnp.zeros((2, 3))
    x = jnp.full((2, 3), 0.5)
    np.testing.assert_allclose(Likelihood("gaussian").log_prob(loc, jnp.zeros_like(loc), x),
                               gaussian_log_prob(loc, jnp.zeros_like(loc), x))
    assert not Likelihood("bernoulli").has_scale
    with pytest.raises(ValueError, match="num_levels"):
        Likelihood("logistic")
    with pytest.raises(ValueError, match="unknown likelihood"):
        Likelihood("poisson")
