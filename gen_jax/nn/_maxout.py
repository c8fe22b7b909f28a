"""Maxout units (Goodfellow et al. 2013): the maximum over ``pieces`` linear pieces per unit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

Dtype = Any


def maxout(h: jax.Array, pieces: int) -> jax.Array:
    """``[..., features * pieces] -> [..., features]``: the max over consecutive groups of
    ``pieces`` (unit ``f`` takes entries ``f * pieces ... f * pieces + pieces - 1``)."""
    if h.shape[-1] % pieces:
        raise ValueError(f"maxout needs a width divisible by pieces={pieces}, got {h.shape[-1]}")
    return jnp.max(h.reshape(*h.shape[:-1], h.shape[-1] // pieces, pieces), axis=-1)


class Maxout(nn.Module):
    """A linear layer to ``features * pieces`` followed by :func:`maxout` (Blocks' LinearMaxout).

    Attributes:
      features: number of maxout units.
      pieces: linear pieces per unit.
      kernel_init: kernel initializer of the linear layer.
      dtype: compute dtype.
    """

    features: int
    pieces: int = 5
    kernel_init: Callable[..., jax.Array] = nn.initializers.lecun_normal()
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """``[..., in] -> [..., features]``."""
        h = nn.Dense(self.features * self.pieces, kernel_init=self.kernel_init,
                     dtype=self.dtype)(x)
        return maxout(h, self.pieces)
