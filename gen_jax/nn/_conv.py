"""Convolutional encoder and decoder for small images (28x28, 8x8, ...).

The decoder upsamples with sub-pixel convolutions (a stride-1 convolution to 4x the channels, then
depth-to-space) rather than stride-2 transposed convolutions: the kernel gradient of a transposed
convolution takes a slow path on XLA:CPU (about 40x its forward time), and a sub-pixel convolution
expresses the same family of functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from ._mlp import MLP, get_activation

Dtype = Any

_lecun_normal = nn.initializers.lecun_normal()


def conv_kernel_init(key: jax.Array, shape: tuple[int, ...], dtype: Dtype = jnp.float32):
    """Flax's default LeCun-normal kernel init, drawn as a ``[fan_in, out]`` matrix.

    The same distribution (fan-in ``prod(shape[:-1])``), but XLA:CPU compiles a 4-D
    threefry draw several times slower than a 2-D one (about 1.5 s against 0.2 s per kernel).
    """
    flat = (math.prod(shape[:-1]), shape[-1])
    return _lecun_normal(key, flat, dtype).reshape(shape)


def depth_to_space(x: jax.Array, block_size: int) -> jax.Array:
    """``[B, H, W, C * b * b] -> [B, H * b, W * b, C]`` (``tf.nn.depth_to_space``'s layout).

    ``out[n, h * b + i, w * b + j, c] = x[n, h, w, (i * b + j) * C + c]``.
    """
    b = block_size
    n, h, w, c = x.shape
    if c % (b * b):
        raise ValueError(f"depth_to_space needs channels divisible by {b * b}, got {c}")
    x = x.reshape(n, h, w, b, b, c // (b * b))
    x = x.transpose(0, 1, 3, 2, 4, 5)  # [n, h, i, w, j, c]
    return x.reshape(n, h * b, w * b, c // (b * b))


def space_to_depth(x: jax.Array, block_size: int) -> jax.Array:
    """The inverse of :func:`depth_to_space`: ``[B, H * b, W * b, C] -> [B, H, W, C * b * b]``."""
    b = block_size
    n, hb, wb, c = x.shape
    if hb % b or wb % b:
        raise ValueError(f"space_to_depth needs height and width divisible by {b}, got {hb}x{wb}")
    x = x.reshape(n, hb // b, b, wb // b, b, c)
    x = x.transpose(0, 1, 3, 2, 4, 5)  # [n, h, w, i, j, c]
    return x.reshape(n, hb // b, wb // b, b * b * c)


class ConvEncoder(nn.Module):
    """Stride-2 convolutions, then dense layers: ``[B, H, W, C] -> [B, out_features]``.

    Each entry of ``channels`` halves the spatial size (rounding up): 28 -> 14 -> 7, 8 -> 4 -> 2.

    Attributes:
      out_features: width of the output.
      channels: output channels of each stride-2 convolution.
      hidden: widths of dense hidden layers between the flattened features and the output.
      kernel_size: square kernel size of the convolutions.
      activation: activation name (see :func:`gen_jax.nn.get_activation`).
      dtype: compute dtype.
      param_dtype: parameter dtype.
    """

    out_features: int
    channels: Sequence[int] = (32, 64)
    hidden: Sequence[int] = ()
    kernel_size: int = 3
    activation: str = "relu"
    dtype: Dtype = jnp.float32
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, context: jax.Array | None = None) -> jax.Array:
        """Encodes images ``x`` ``[B, H, W, C]``; ``context`` ``[B, K]`` joins after flattening."""
        act = get_activation(self.activation)
        k = (self.kernel_size, self.kernel_size)
        for c in self.channels:
            x = nn.Conv(c, k, strides=2, padding="SAME", dtype=self.dtype,
                        param_dtype=self.param_dtype, kernel_init=conv_kernel_init)(x)
            x = act(x)
        h = x.reshape(x.shape[0], -1)
        if context is not None:
            h = jnp.concatenate([h, context.astype(h.dtype)], axis=-1)
        return MLP(self.hidden, self.out_features, self.activation, dtype=self.dtype,
                   param_dtype=self.param_dtype)(h)


class ConvDecoder(nn.Module):
    """Dense layers, then sub-pixel upsampling: ``[B, K] -> [B, *out_shape]``.

    The input is mapped to a ``ceil(H / 2**n) x ceil(W / 2**n)`` grid of ``channels[0]`` features
    (``n = len(channels)``); stage ``i`` is a stride-1 convolution to ``4 * c`` channels followed
    by depth-to-space, where ``c`` is ``channels[i + 1]`` and, for the last stage, the output
    channels. The result is cropped to ``out_shape`` when ``H`` or ``W`` is not a multiple of
    ``2**n``. The output is linear (logits or means).

    Attributes:
      out_shape: ``(H, W, C)`` of the output.
      channels: feature channels at each resolution, coarsest first (e.g. ``(64, 32)``).
      hidden: widths of dense hidden layers before the projection to the coarsest grid.
      kernel_size: square kernel size of the convolutions.
      activation: activation name (see :func:`gen_jax.nn.get_activation`).
      dtype: compute dtype.
      param_dtype: parameter dtype.
    """

    out_shape: tuple[int, int, int]
    channels: Sequence[int] = (64, 32)
    hidden: Sequence[int] = ()
    kernel_size: int = 3
    activation: str = "relu"
    dtype: Dtype = jnp.float32
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        """Decodes ``z`` ``[B, K]`` to ``[B, H, W, C]``."""
        act = get_activation(self.activation)
        height, width, out_channels = self.out_shape
        n = len(self.channels)
        if n == 0:
            h = MLP(self.hidden, height * width * out_channels, self.activation,
                    dtype=self.dtype, param_dtype=self.param_dtype)(z)
            return h.reshape(z.shape[0], height, width, out_channels)
        factor = 2**n
        h0, w0 = -(-height // factor), -(-width // factor)
        h = MLP(self.hidden, h0 * w0 * self.channels[0], self.activation, dtype=self.dtype,
                param_dtype=self.param_dtype)(z)
        h = act(h).reshape(z.shape[0], h0, w0, self.channels[0])
        k = (self.kernel_size, self.kernel_size)
        for i in range(n):
            last = i == n - 1
            c = out_channels if last else self.channels[i + 1]
            h = nn.Conv(4 * c, k, padding="SAME", dtype=self.dtype,
                        param_dtype=self.param_dtype, kernel_init=conv_kernel_init)(h)
            h = depth_to_space(h, 2)
            if not last:
                h = act(h)
        return h[:, :height, :width, :]
