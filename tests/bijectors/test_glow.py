"""ActNorm's data-dependent initialization and the LU-decomposed 1x1 convolution."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

import gen_jax.bijectors as gb


@pytest.mark.parametrize("batch_shape, direction", [((16,), "inverse"), ((4, 5), "forward")])
def test_actnorm_init_standardizes_each_channel(batch_shape, direction):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(*batch_shape, 4, 4, 3))
    x = jnp.asarray(x * np.array([1.0, 0.1, 10.0]), jnp.float32)

    @jax.jit
    def output(x):
        layer = gb.ActNorm(gb.actnorm_init(x, direction=direction))
        return getattr(layer, direction)(x)

    y = np.asarray(output(x))
    axes = tuple(range(y.ndim - 1))
    np.testing.assert_allclose(y.mean(axes), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axes), 1.0, atol=1e-4)


def test_actnorm_data_dependent_init_in_a_flax_module():
    class Normalize(nn.Module):
        @nn.compact
        def __call__(self, x):
            params = self.param("actnorm", lambda _: gb.actnorm_init(x, direction="inverse"))
            return gb.ActNorm(params, event_ndims=1).inverse(x)  # data -> latent

    x = 5.0 + jax.random.normal(jax.random.key(1), (64, 3))
    variables = Normalize().init(jax.random.key(0), x)
    y = Normalize().apply(variables, x)
    np.testing.assert_allclose(y.mean(0), 0.0, atol=1e-5)
    # Later batches are normalized with the stored statistics, not their own.
    np.testing.assert_allclose(Normalize().apply(variables, x + 1.0).mean(0),
                               np.exp(-variables["params"]["actnorm"].log_scale), rtol=1e-4)


def _random_lu(seed, channels):
    rng = np.random.default_rng(seed)
    return gb.LUConvParams(jnp.asarray(rng.permutation(channels), jnp.int32),
                           jnp.asarray(rng.normal(size=(channels, channels)), jnp.float32),
                           jnp.asarray(rng.normal(size=(channels, channels)), jnp.float32),
                           jnp.asarray(0.5 * rng.normal(size=channels), jnp.float32),
                           jnp.asarray(rng.choice([-1.0, 1.0], size=channels), jnp.float32))


def test_lu_conv_log_det_is_pixels_times_slogdet_of_the_weight():
    height, width, channels = 3, 5, 4
    params = _random_lu(0, channels)
    weight = np.asarray(gb.lu_conv_weight(params), np.float64)
    x = np.random.default_rng(1).normal(size=(2, height, width, channels)).astype(np.float32)
    y, log_det = gb.InvertibleConv1x1(params).forward_and_log_det(jnp.asarray(x))
    _, logabsdet = np.linalg.slogdet(weight)
    np.testing.assert_allclose(log_det, height * width * logabsdet, rtol=1e-5)
    # The weight is the LU product the parameters describe, applied at every pixel.
    p = np.eye(channels)[np.asarray(params.permutation)]
    lower = np.tril(np.asarray(params.lower), -1) + np.eye(channels)
    upper = np.triu(np.asarray(params.upper), 1) + np.diag(
        np.asarray(params.sign_s) * np.exp(np.asarray(params.log_s)))
    np.testing.assert_allclose(weight, p @ lower @ upper, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y, np.einsum("ij,bhwj->bhwi", weight, x), rtol=1e-4, atol=1e-5)


def test_lu_conv_init_is_a_rotation():
    params = jax.jit(gb.lu_conv_init, static_argnums=1)(jax.random.key(0), 6)
    weight = gb.lu_conv_weight(params)
    np.testing.assert_allclose(weight @ weight.T, np.eye(6), atol=1e-5)
    np.testing.assert_allclose(jnp.sum(params.log_s), 0.0, atol=1e-5)
    # The sign and permutation are constants: no gradient reaches them.
    grads = jax.jit(jax.grad(
        lambda p: jnp.sum(gb.InvertibleConv1x1(p).forward(jnp.ones((2, 2, 6)))), allow_int=True
    ))(params)
    np.testing.assert_array_equal(grads.sign_s, 0.0)
