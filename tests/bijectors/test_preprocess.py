"""Dequantization, the logit transform, and bits per dimension of 8-bit data."""

import math

import jax
import jax.numpy as jnp
import numpy as np

import gen_jax.bijectors as gb


def test_logit_bits_per_dim_matches_hand_computation():
    alpha, shape = 0.05, (2, 2, 3)
    pixels = np.random.default_rng(0).integers(0, 256, size=(4, *shape))
    x = gb.uniform_dequantize(jax.random.key(0), jnp.asarray(pixels, jnp.uint8))
    y, _ = gb.Logit(alpha, event_ndims=3).forward_and_log_det(x)
    log_prob_y = -0.5 * jnp.sum(y**2, axis=(1, 2, 3)) - 0.5 * 12 * math.log(2 * math.pi)

    bpd = gb.logit_bits_per_dim(log_prob_y, x, alpha=alpha)

    xs = np.asarray(x, np.float64)
    s = alpha + (1 - 2 * alpha) * xs
    expected_y = np.log(s / (1 - s))
    np.testing.assert_allclose(y, expected_y, rtol=1e-5, atol=1e-5)
    log_det = np.sum(np.log(1 - 2 * alpha) - np.log(s) - np.log(1 - s), axis=(1, 2, 3))
    log_px = np.asarray(log_prob_y, np.float64) + log_det  # density of x in [0, 1]^D
    log_pk = log_px - 12 * np.log(256)  # of the pixels: x = k / 256 + noise
    np.testing.assert_allclose(bpd, -log_pk / (12 * np.log(2)), rtol=1e-5)


def test_uniform_dequantize_stays_in_the_pixel_bin():
    k = jnp.arange(256, dtype=jnp.uint8)
    x = gb.uniform_dequantize(jax.random.key(1), jnp.tile(k, 50))
    assert x.dtype == jnp.float32 and float(x.min()) >= 0.0 and float(x.max()) < 1.0
    np.testing.assert_array_equal(np.floor(np.asarray(x) * 256), np.tile(np.arange(256), 50))


def test_logit_inverse_is_the_scaled_sigmoid():
    logit = gb.Logit(0.1)
    y = jnp.linspace(-6.0, 6.0, 13)
    np.testing.assert_allclose(logit.inverse(y), (jax.nn.sigmoid(y) - 0.1) / 0.8, rtol=1e-6)
    np.testing.assert_allclose(logit.forward(jnp.array([0.0, 1.0])),
                               [math.log(0.1 / 0.9), math.log(0.9 / 0.1)], rtol=1e-6)
