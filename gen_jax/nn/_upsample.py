"""A stride-2 transposed convolution computed as a sub-pixel convolution.

``flax.linen.ConvTranspose(features, (k, k), strides=2, padding="SAME")`` maps ``[B, H, W, C]``
to ``[B, 2H, 2W, features]``. Each of the four output phases ``(a, b)`` (row parity, column
parity) is a stride-1 convolution of the input with a subset of the kernel's taps, so the layer
equals one stride-1 convolution to ``4 * features`` channels followed by depth-to-space, with the
``k x k`` kernel scattered into a ``(2r + 1) x (2r + 1)`` one. The parameter is the transposed
convolution's own kernel, so the function and the parameter count are identical; only the
computation differs: XLA:CPU's kernel gradient of a stride-2 transposed convolution is very
slow (BENCHMARKS.md, W5), that of a stride-1 convolution is not.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from ._conv import depth_to_space

Dtype = Any


@functools.cache
def _phase_taps(k: int) -> tuple[np.ndarray, int]:
    """``(taps, r)``: ``taps[a, u]`` is the kernel index feeding offset ``u - r`` of phase ``a``
    (``k``, an all-zero padding tap, where none does).

    ``lax.conv_transpose`` with ``SAME`` padding dilates the input by 2 and pads it by
    ``lo = ceil((k + s - 2) / 2)`` (or ``k - 1`` when ``s > k - 1``) in front, so output ``2i + a``
    reads input ``i + (a + t - lo) / 2`` through tap ``t`` whenever ``a + t - lo`` is even.
    """
    s = 2
    pad_len = k + s - 2
    lo = k - 1 if s > k - 1 else math.ceil(pad_len / 2)
    offsets = {a: {(a + t - lo) // 2: t for t in range(k) if (a + t - lo) % 2 == 0}
               for a in range(2)}
    r = max(abs(o) for a in range(2) for o in offsets[a])
    taps = np.full((2, 2 * r + 1), k, np.int32)
    for a in range(2):
        for o, t in offsets[a].items():
            taps[a, o + r] = t
    return taps, r


def subpixel_kernel(kernel: jax.Array) -> jax.Array:
    """A transposed-convolution kernel ``[k, k, C, F]`` as the ``[2r+1, 2r+1, C, 4F]`` kernel of
    the equivalent stride-1 convolution (output channel ``(2a + b) * F + f``, the
    :func:`~gen_jax.nn.depth_to_space` layout)."""
    k = kernel.shape[0]
    if kernel.shape[1] != k:
        raise ValueError(f"subpixel_kernel needs a square kernel, got {kernel.shape[:2]}")
    taps, r = _phase_taps(k)
    padded = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))  # index k is all zeros
    # [a, u, b, v, C, F] -> [u, v, C, a, b, F]
    sub = padded[taps[:, :, None, None], taps[None, None, :, :]]
    size = 2 * r + 1
    c, f = kernel.shape[2], kernel.shape[3]
    return sub.transpose(1, 3, 4, 0, 2, 5).reshape(size, size, c, 4 * f)


class SubpixelConvTranspose(nn.Module):
    """``nn.ConvTranspose(features, (k, k), strides=(2, 2), padding="SAME")``, as a sub-pixel
    convolution: ``[B, H, W, C] -> [B, 2H, 2W, features]``.

    The parameters (``kernel`` ``[k, k, C, features]``, ``bias``) have the names and shapes of
    ``nn.ConvTranspose``'s, and the output is the same function of them.

    Attributes:
      features: output channels.
      kernel_size: square kernel size ``k``.
      use_bias: add a bias.
      kernel_init: kernel initializer.
      dtype: compute dtype.
    """

    features: int
    kernel_size: int = 5
    use_bias: bool = True
    kernel_init: Callable[..., jax.Array] = nn.initializers.lecun_normal()
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features),
                            jnp.float32)
        y = jax.lax.conv_general_dilated(
            x.astype(self.dtype), subpixel_kernel(kernel).astype(self.dtype), (1, 1), "SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC"))
        y = depth_to_space(y, 2)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(self.dtype)
        return y
