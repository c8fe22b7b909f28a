"""A stride-1 2-D convolution whose kernel gradient is one matrix multiply over image patches.

Inside ``jax.lax.scan`` (the scanned layers of a deep flow) XLA:CPU computes the kernel gradient
of ``lax.conv_general_dilated`` very slowly: measured on this project's 2-core machine, 8 scanned
3x3 convolutions (64 -> 64 channels, batch 64 of 14x14) took 21 s for a gradient that takes
0.3 s unrolled. The forward and the input gradient are not affected. :func:`conv2d` keeps XLA's
convolution for both and computes the kernel gradient as ``patches(x)^T @ dy`` instead, which
is the same sum, and as fast in a loop as outside one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from jax import lax

Dtype = Any
_DN = ("NHWC", "HWIO", "NHWC")


def _conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    return lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=_DN)


def _patches(x: jax.Array, kh: int, kw: int) -> jax.Array:
    """``[B, H, W, kh*kw*Cin]``: the SAME-padded neighbourhoods of every pixel, in the kernel's
    ``(kh, kw, Cin)`` order (shifted slices; an identity-kernel convolution would cost more).
    XLA's SAME padding: ``(k - 1) // 2`` before, ``k // 2`` after (unequal for even k)."""
    _, height, width, _ = x.shape
    xp = jnp.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    return jnp.concatenate([xp[:, i:i + height, j:j + width, :]
                            for i in range(kh) for j in range(kw)], axis=-1)


@jax.custom_jvp
def conv2d(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """``SAME``-padded, stride-1 convolution: ``x [B, H, W, Cin]``, ``kernel [kh, kw, Cin,
    Cout]`` -> ``[B, H, W, Cout]``; the same values and derivatives (forward and
    reverse mode) as ``lax.conv_general_dilated``, with a loop-friendly kernel gradient."""
    return _conv(x, kernel)


@conv2d.defjvp
def _conv2d_jvp(primals, tangents):
    # The kernel's tangent enters through a patches matmul, so reverse mode (the transpose of
    # this rule) computes the kernel gradient as patches^T @ dy rather than as a convolution.
    x, kernel = primals
    x_dot, kernel_dot = tangents
    kh, kw, cin, cout = kernel.shape
    y = _conv(x, kernel)
    y_dot = _conv(x_dot, kernel) + jnp.einsum(
        "bhwp,po->bhwo", _patches(x, kh, kw), kernel_dot.reshape(kh * kw * cin, cout))
    return y, y_dot


class PatchConv(nn.Module):
    """``flax.linen.Conv`` (stride 1, SAME padding) computed by :func:`conv2d`.

    Parameters are named and shaped as ``nn.Conv``'s (``kernel [kh, kw, Cin, Cout]``, ``bias``).

    Attributes:
      features: output channels.
      kernel_size: ``(kh, kw)``.
      kernel_init: kernel initializer.
      use_bias: add a bias.
      dtype: compute dtype (None: promote from the input and parameters).
      param_dtype: parameter dtype.
    """

    features: int
    kernel_size: Sequence[int] = (3, 3)
    kernel_init: Callable[..., jax.Array] = nn.initializers.lecun_normal()
    use_bias: bool = True
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kh, kw = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features),
                            self.param_dtype)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,),
                          self.param_dtype) if self.use_bias else None
        x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
        y = conv2d(x, kernel)
        return y if bias is None else y + bias
