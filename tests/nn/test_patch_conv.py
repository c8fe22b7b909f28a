"""PatchConv / conv2d: the values and both kinds of derivatives of XLA's convolution."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from gen_jax.nn import PatchConv, conv2d


def _reference(x, kernel):
    return lax.conv_general_dilated(x, kernel, (1, 1), "SAME",
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.parametrize("kernel_shape", [(3, 3, 3, 4), (1, 1, 3, 2), (5, 3, 3, 2),
                                          (2, 2, 3, 2), (4, 3, 3, 2)])  # even: unequal pads
def test_conv2d_values_and_derivatives_match_xla_in_float64(kernel_shape):
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.PRNGKey(0), 3)
        x = jax.random.normal(keys[0], (2, 5, 6, 3), jnp.float64)
        kernel = jax.random.normal(keys[1], kernel_shape, jnp.float64)
        g = jax.random.normal(keys[2], (2, 5, 6, kernel_shape[-1]), jnp.float64)
        np.testing.assert_allclose(conv2d(x, kernel), _reference(x, kernel), rtol=1e-12)
        for ours, ref in zip(jax.vjp(conv2d, x, kernel)[1](g),
                             jax.vjp(_reference, x, kernel)[1](g), strict=True):
            np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
        jac = jax.jacfwd(lambda k: conv2d(x, k)[0, 2])(kernel)
        np.testing.assert_allclose(jac, jax.jacfwd(lambda k: _reference(x, k)[0, 2])(kernel),
                                   rtol=1e-12, atol=1e-12)


def test_patch_conv_module_equals_flax_conv_with_the_same_parameters():
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 7, 7, 3))
    ours, flax_conv = PatchConv(5, (3, 3)), nn.Conv(5, (3, 3))
    variables = flax_conv.init(jax.random.PRNGKey(2), x)
    assert jax.tree.map(jnp.shape, ours.init(jax.random.PRNGKey(2), x)) == \
        jax.tree.map(jnp.shape, variables)
    np.testing.assert_allclose(ours.apply(variables, x), flax_conv.apply(variables, x),
                               rtol=1e-5, atol=1e-5)
