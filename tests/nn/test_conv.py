"""Conv encoder/decoder shapes, depth-to-space layout, and no transposed convolutions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from gen_jax.nn import ConvDecoder, ConvEncoder, conv_kernel_init, depth_to_space, space_to_depth


def test_depth_to_space_matches_brute_force():
    b, n, h, w, c = 2, 2, 3, 4, 5
    x = np.random.default_rng(0).normal(size=(n, h, w, c * b * b)).astype(np.float32)
    expected = np.zeros((n, h * b, w * b, c), np.float32)
    for i0 in range(n):
        for y in range(h):
            for x0 in range(w):
                for i in range(b):
                    for j in range(b):
                        for ch in range(c):
                            value = x[i0, y, x0, (i * b + j) * c + ch]
                            expected[i0, y * b + i, x0 * b + j, ch] = value
    np.testing.assert_array_equal(depth_to_space(jnp.asarray(x), b), expected)
    np.testing.assert_array_equal(space_to_depth(jnp.asarray(expected), b), x)


@pytest.mark.parametrize("shape, grid", [((28, 28, 1), 7), ((8, 8, 1), 2)])
def test_encoder_halves_twice(shape, grid):
    enc = ConvEncoder(out_features=10, channels=(16, 32))
    x = jnp.ones((3, *shape))
    variables = jax.eval_shape(enc.init, jax.random.key(0), x)  # shapes only: no compilation
    assert jax.eval_shape(enc.apply, variables, x).shape == (3, 10)
    # the dense layer sees a grid x grid x 32 feature map
    assert variables["params"]["MLP_0"]["Dense_0"]["kernel"].shape == (grid * grid * 32, 10)


def test_encoder_context_joins_the_features():
    enc = ConvEncoder(out_features=4, channels=(8,), hidden=(16,))
    x = jnp.ones((2, 8, 8, 1))
    variables = jax.jit(enc.init)(jax.random.key(0), x, jnp.zeros((2, 3)))
    assert variables["params"]["MLP_0"]["Dense_0"]["kernel"].shape == (4 * 4 * 8 + 3, 16)
    apply = jax.jit(enc.apply)
    a = apply(variables, x, jnp.eye(3)[:2])
    b = apply(variables, x, jnp.eye(3)[1:])
    assert not np.allclose(a, b)


@pytest.mark.parametrize("out_shape, channels", [
    ((28, 28, 1), (32, 16)),
    ((8, 8, 1), (32, 16)),
    ((8, 8, 2), ()),
    ((10, 6, 3), (8, 8, 4)),  # not a multiple of 8: cropped
])
def test_decoder_gives_the_requested_shape(out_shape, channels):
    dec = ConvDecoder(out_shape=out_shape, channels=channels, hidden=(12,))
    z = jax.random.normal(jax.random.key(0), (5, 6))
    variables = jax.eval_shape(dec.init, jax.random.key(1), z)
    assert jax.eval_shape(dec.apply, variables, z).shape == (5, *out_shape)


def _convolution_windows(fn, *args):
    """The window attributes of every convolution in ``fn``'s lowered StableHLO."""
    text = jax.jit(fn).lower(*args).as_text()
    return [line.split("window = ")[1].split("}")[0] for line in text.splitlines()
            if "stablehlo.convolution" in line]


def test_decoder_and_its_gradient_use_no_strided_or_transposed_convolution():
    dec = ConvDecoder(out_shape=(28, 28, 1), channels=(32, 16))
    z = jnp.ones((2, 4))
    variables = jax.eval_shape(dec.init, jax.random.key(0), z)
    windows = _convolution_windows(jax.grad(lambda v: jnp.sum(dec.apply(v, z) ** 2)), variables)
    assert len(windows) == 3 * 2  # forward, input and kernel gradients of two convolutions
    for window in windows:
        assert "stride = [1, 1]" in window and "lhs_dilate = [1, 1]" in window, window


def test_window_check_catches_a_transposed_convolution():
    conv = nn.ConvTranspose(4, (3, 3), strides=(2, 2))
    x = jnp.ones((1, 7, 7, 2))
    variables = jax.eval_shape(conv.init, jax.random.key(0), x)
    windows = _convolution_windows(jax.grad(lambda v: jnp.sum(conv.apply(v, x) ** 2)), variables)
    assert any("lhs_dilate = [2, 2]" in w for w in windows)


def test_bfloat16_compute_keeps_float32_params():
    enc = ConvEncoder(out_features=4, channels=(8,), dtype=jnp.bfloat16)
    dec = ConvDecoder(out_shape=(8, 8, 1), channels=(8,), dtype=jnp.bfloat16)
    x, z = jnp.ones((2, 8, 8, 1)), jnp.ones((2, 4))
    ve = jax.eval_shape(enc.init, jax.random.key(0), x)
    vd = jax.eval_shape(dec.init, jax.random.key(1), z)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves((ve, vd)))
    assert jax.eval_shape(enc.apply, ve, x).dtype == jnp.bfloat16
    assert jax.eval_shape(dec.apply, vd, z).dtype == jnp.bfloat16


def test_conv_kernel_init_has_lecun_variance():
    kernel = conv_kernel_init(jax.random.key(0), (3, 3, 16, 256))
    assert kernel.shape == (3, 3, 16, 256) and kernel.dtype == jnp.float32
    np.testing.assert_allclose(np.var(kernel), 1.0 / (3 * 3 * 16), rtol=0.03)
    np.testing.assert_allclose(np.mean(kernel), 0.0, atol=0.003)


def test_kernel_size_and_activation_are_the_configured_ones():
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 1))
    z = jax.random.normal(jax.random.key(1), (2, 6))
    enc = ConvEncoder(out_features=6, channels=(4, 8), hidden=(12,), kernel_size=5)
    dec = ConvDecoder(out_shape=(8, 8, 1), channels=(8, 4), hidden=(12,), kernel_size=5)
    enc_vars = jax.eval_shape(enc.init, jax.random.key(2), x)
    dec_vars = jax.eval_shape(dec.init, jax.random.key(3), z)
    conv_kernels = [leaf.shape for path, leaf in jax.tree_util.tree_leaves_with_path(
        (enc_vars, dec_vars)) if "kernel" in jax.tree_util.keystr(path) and len(leaf.shape) == 4]
    assert conv_kernels and all(k[:2] == (5, 5) for k in conv_kernels), conv_kernels

    for module, inputs in ((enc, (x,)), (dec, (z,))):
        variables = module.init(jax.random.key(4), *inputs)
        outputs = [module.clone(activation=name).apply(variables, *inputs)
                   for name in ("relu", "tanh")]
        assert not np.allclose(*outputs), type(module).__name__
