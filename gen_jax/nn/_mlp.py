"""A multilayer perceptron with a named activation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

Dtype = Any

_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "tanh": jnp.tanh,
    "gelu": nn.gelu,
    "leaky_relu": nn.leaky_relu,  # negative slope 0.01
    "softplus": nn.softplus,
    "elu": nn.elu,
    "silu": nn.silu,
}


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation function called ``name``.

    Raises:
      ValueError: ``name`` is not one of relu, tanh, gelu, leaky_relu, softplus, elu, silu.
    """
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(_ACTIVATIONS)}"
        ) from None


class MLP(nn.Module):
    """Dense layers with an activation between them and a linear output layer.

    Attributes:
      hidden: widths of the hidden layers (may be empty: then a single linear layer).
      out_features: width of the output layer.
      activation: name of the hidden activation (see :func:`get_activation`).
      dtype: compute dtype (e.g. ``jnp.bfloat16``); the output is in this dtype.
      param_dtype: parameter dtype.
    """

    hidden: Sequence[int]
    out_features: int
    activation: str = "relu"
    dtype: Dtype = jnp.float32
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """``[..., in] -> [..., out_features]``."""
        act = get_activation(self.activation)
        for width in self.hidden:
            x = act(nn.Dense(width, dtype=self.dtype, param_dtype=self.param_dtype)(x))
        return nn.Dense(self.out_features, dtype=self.dtype, param_dtype=self.param_dtype)(x)
