"""The multi-scale architecture: level shapes, latent layout, and use in distrax.Transformed."""

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gen_jax.bijectors as gb

SHAPE = (4, 4, 2)


def _identity_level(shape):
    return gb.Permute(np.arange(shape[-1]), event_ndims=3)


def test_level_shapes():
    assert gb.multiscale_shapes((32, 32, 3), 3) == [(16, 16, 12), (8, 8, 24), (4, 4, 48)]
    with pytest.raises(ValueError, match="divisible"):
        gb.multiscale_shapes((12, 12, 3), 3)


def test_latent_layout_factors_out_half_the_channels_per_level():
    flow = gb.MultiScaleFlow([_identity_level(s) for s in gb.multiscale_shapes(SHAPE, 2)], SHAPE)
    x = jax.random.normal(jax.random.key(0), (3, *SHAPE))
    z, log_det = flow.inverse_and_log_det(x)
    h = gb.squeeze(x)  # [3, 2, 2, 8]
    expected = jnp.concatenate([h[..., :4].reshape(3, -1),  # z_0: factored out at level 0
                                gb.squeeze(h[..., 4:]).reshape(3, -1)], axis=-1)  # the rest
    np.testing.assert_array_equal(z, expected)
    np.testing.assert_array_equal(log_det, 0.0)
    np.testing.assert_array_equal(flow.forward(z), x)


def test_transformed_distribution_log_prob_and_sample():
    shapes = gb.multiscale_shapes(SHAPE, 2)
    levels = []
    for i, shape in enumerate(shapes):
        params = gb.ActNormParams(0.1 * jnp.arange(shape[-1], dtype=jnp.float32),
                                  jnp.full(shape[-1], 0.5 * i))
        levels.append(gb.ActNorm(params))
    flow = gb.MultiScaleFlow(levels, SHAPE)
    dim = int(np.prod(SHAPE))
    base = distrax.MultivariateNormalDiag(jnp.zeros(dim), jnp.ones(dim))
    model = distrax.Transformed(base, flow)
    x = jax.random.normal(jax.random.key(1), (5, *SHAPE))
    z, log_det = jax.jit(flow.inverse_and_log_det)(x)
    np.testing.assert_allclose(jax.jit(model.log_prob)(x), base.log_prob(z) + log_det, rtol=1e-5)
    # Every level's log-det is counted: 4 pixels * sum(0.1 * arange(8)) + 1 pixel * sum(..16).
    expected = -(4 * 0.1 * np.arange(8).sum() + 1 * 0.1 * np.arange(16).sum())
    np.testing.assert_allclose(log_det, expected, rtol=1e-5)
    samples = jax.jit(lambda k: model.sample(seed=k, sample_shape=(3,)))(jax.random.key(2))
    assert samples.shape == (3, *SHAPE)
