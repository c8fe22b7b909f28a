"""Flax conditioner networks for coupling layers (their output layer starts at zero, so a flow
built from them starts at the identity)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from gen_jax.nn import PatchConv, get_activation

Dtype = Any


def _output_init(zero_init: bool):
    return nn.initializers.zeros_init() if zero_init else nn.initializers.lecun_normal()


class MLPConditioner(nn.Module):
    """``h [..., *in_event]`` (+ ``context [..., c]``) -> ``[..., *out_shape]`` through an MLP.

    The last ``in_ndims`` axes of ``h`` are flattened and concatenated with the context.

    Attributes:
      out_shape: trailing output shape, e.g. ``(392, 2)`` for an affine half-mask coupling on
        784-d vectors, or ``(1, spline_num_params(8))`` for a 2-d spline coupling.
      hidden: hidden widths.
      in_ndims: event dimensions of ``h``.
      activation: hidden activation name.
      zero_init: zero-initialize the output layer (the layer starts as the identity).
      dtype: compute dtype; None (default) promotes from the inputs and parameters, so
        float64 inputs compute in float64.
      param_dtype: parameter dtype.
    """

    out_shape: Sequence[int]
    hidden: Sequence[int] = (128, 128)
    in_ndims: int = 1
    activation: str = "relu"
    zero_init: bool = True
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, h: jax.Array, context: jax.Array | None = None) -> jax.Array:
        batch = h.shape[: h.ndim - self.in_ndims]
        h = h.reshape(*batch, -1)
        if context is not None:
            context = jnp.broadcast_to(context, (*batch, context.shape[-1]))
            h = jnp.concatenate([h, context.astype(h.dtype)], axis=-1)
        act = get_activation(self.activation)
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        for width in self.hidden:
            h = act(nn.Dense(width, **kw)(h))
        out = nn.Dense(math.prod(self.out_shape), kernel_init=_output_init(self.zero_init), **kw)(h)
        return out.reshape(*batch, *self.out_shape)


class ConvConditioner(nn.Module):
    """Glow's coupling network: ``[..., H, W, C_in] -> [..., H, W, out_channels, num_params]``.

    3x3 conv -> activation -> 1x1 conv -> activation -> 3x3 conv (zero-initialized). A context
    vector ``[..., c]`` is broadcast over the pixels and joins the input channels.

    Attributes:
      out_channels: channels to produce parameters for (the active channels of a channel mask, or
        all channels for a checkerboard mask).
      num_params: parameters per output channel (2 affine, ``3K - 1`` spline).
      hidden: channels of the hidden convolutions.
      activation: hidden activation name.
      zero_init: zero-initialize the last convolution.
      dtype: compute dtype; None (default) promotes from the inputs and parameters, so
        float64 inputs compute in float64.
      param_dtype: parameter dtype.
    """

    out_channels: int
    num_params: int
    hidden: int = 64
    activation: str = "relu"
    zero_init: bool = True
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, h: jax.Array, context: jax.Array | None = None) -> jax.Array:
        *batch, height, width, _ = h.shape
        h = h.reshape(-1, *h.shape[-3:])  # flax convolutions take one batch axis
        if context is not None:
            context = jnp.broadcast_to(context, (*batch, context.shape[-1]))
            context = context.reshape(-1, 1, 1, context.shape[-1]).astype(h.dtype)
            context = jnp.broadcast_to(context, (h.shape[0], height, width, context.shape[-1]))
            h = jnp.concatenate([h, context], axis=-1)
        act = get_activation(self.activation)
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        h = act(PatchConv(self.hidden, (3, 3), **kw)(h))
        h = act(PatchConv(self.hidden, (1, 1), **kw)(h))
        h = PatchConv(self.out_channels * self.num_params, (3, 3),
                    kernel_init=_output_init(self.zero_init), **kw)(h)
        return h.reshape(*batch, height, width, self.out_channels, self.num_params)
