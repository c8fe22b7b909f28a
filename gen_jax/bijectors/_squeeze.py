"""Squeeze: space-to-depth as a volume-preserving bijector on ``[..., H, W, C]`` images."""

from __future__ import annotations

import distrax
import jax
import jax.numpy as jnp


def squeeze(x: jax.Array, factor: int = 2) -> jax.Array:
    """``[..., H, W, C] -> [..., H/f, W/f, f*f*C]``, any batch dims.

    Channel ``(i * f + j) * C + c`` of output pixel ``(h, w)`` is input ``(h*f + i, w*f + j, c)``:
    the layout of :func:`gen_jax.nn.space_to_depth`.
    """
    *batch, height, width, channels = x.shape
    if height % factor or width % factor:
        raise ValueError(f"squeeze needs height and width divisible by {factor}, "
                         f"got {height}x{width}")
    x = x.reshape(*batch, height // factor, factor, width // factor, factor, channels)
    x = jnp.moveaxis(x, -4, -3)  # [..., h, w, i, j, c]
    return x.reshape(*batch, height // factor, width // factor, factor * factor * channels)


def unsqueeze(y: jax.Array, factor: int = 2) -> jax.Array:
    """The inverse of :func:`squeeze`: ``[..., H, W, f*f*C] -> [..., H*f, W*f, C]``."""
    *batch, height, width, channels = y.shape
    if channels % (factor * factor):
        raise ValueError(f"unsqueeze needs channels divisible by {factor * factor}, got {channels}")
    y = y.reshape(*batch, height, width, factor, factor, channels // (factor * factor))
    y = jnp.moveaxis(y, -3, -4)  # [..., h, i, w, j, c]
    return y.reshape(*batch, height * factor, width * factor, channels // (factor * factor))


class Squeeze(distrax.Bijector):
    """``[..., H, W, C] -> [..., H/2, W/2, 4C]`` (a permutation of the entries: log-det 0)."""

    def __init__(self, factor: int = 2):
        self._factor = factor
        super().__init__(event_ndims_in=3, is_constant_jacobian=True)

    def forward_and_log_det(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_forward_input_shape(x)
        return squeeze(x, self._factor), jnp.zeros(x.shape[:-3], x.dtype)

    def inverse_and_log_det(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_inverse_input_shape(y)
        return unsqueeze(y, self._factor), jnp.zeros(y.shape[:-3], y.dtype)
