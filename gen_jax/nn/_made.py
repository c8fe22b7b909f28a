"""MADE: a masked autoregressive MLP (Germain et al. 2015), optionally conditioned on a context."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from ._mlp import get_activation

Dtype = Any
Initializer = Callable[..., jax.Array]


def made_order(dim: int, order: str | Sequence[int]) -> np.ndarray:
    """The autoregressive order as a permutation: ``order[k]`` is the input that comes k-th.

    Args:
      dim: number of inputs.
      order: ``"identity"`` (``0, 1, ..., dim - 1``), ``"reversed"``, or an explicit permutation.

    Raises:
      ValueError: an unknown name, or a sequence that is not a permutation of ``range(dim)``.
    """
    if isinstance(order, str):
        if order == "identity":
            return np.arange(dim)
        if order == "reversed":
            return np.arange(dim)[::-1].copy()
        raise ValueError(f"unknown order {order!r}; use 'identity', 'reversed' or a permutation")
    perm = np.asarray(order, dtype=np.int64)
    if perm.shape != (dim,) or not np.array_equal(np.sort(perm), np.arange(dim)):
        raise ValueError(f"order must be a permutation of range({dim}), got {list(order)}")
    return perm


@functools.lru_cache(maxsize=128)
def _made_masks_cached(dim: int, hidden: tuple[int, ...], order: tuple[int, ...],
                       num_params: int) -> tuple[np.ndarray, ...]:
    in_degrees = np.empty(dim, np.int64)
    in_degrees[np.asarray(order)] = np.arange(1, dim + 1)
    # Hidden degrees cycle through 1..dim-1 (deterministic, as in nflows): every allowed
    # input -> output path exists once each layer is at least dim - 1 wide.
    low, span = min(1, dim - 1), max(1, dim - 1)
    degrees = [in_degrees] + [np.arange(width) % span + low for width in hidden]
    masks = [d_out[None, :] >= d_in[:, None]
             for d_in, d_out in zip(degrees[:-1], degrees[1:], strict=True)]
    out_degrees = np.repeat(in_degrees, num_params)  # column d * num_params + p belongs to d
    masks.append(out_degrees[None, :] > degrees[-1][:, None])
    for mask in masks:
        mask.setflags(write=False)
    in_degrees.setflags(write=False)
    return (in_degrees, *masks)


def made_masks(
    dim: int, hidden: Sequence[int], order: str | Sequence[int] = "identity", num_params: int = 1
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Input degrees and the ``[fan_in, fan_out]`` boolean masks of each MADE layer (cached).

    Output ``i`` (all ``num_params`` of its columns) depends on input ``j`` only if
    ``degree[j] < degree[i]``; degrees are ``1..dim`` along the autoregressive order.

    Returns:
      ``(degrees [dim], masks)``: one mask per hidden layer, then the output layer's
      ``[hidden[-1], dim * num_params]`` mask (``[dim, dim * num_params]`` with no hidden layers).
    """
    perm = tuple(int(i) for i in made_order(dim, order))
    degrees, *masks = _made_masks_cached(dim, tuple(hidden), perm, num_params)
    return degrees, masks


class _MaskedDense(nn.Module):
    """A dense layer whose kernel is multiplied by a fixed 0/1 mask."""

    mask: np.ndarray
    kernel_init: Initializer = nn.initializers.lecun_normal()
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in, fan_out = self.mask.shape
        kernel = self.param("kernel", self.kernel_init, (fan_in, fan_out), self.param_dtype)
        bias = self.param("bias", nn.initializers.zeros_init(), (fan_out,), self.param_dtype)
        kernel = kernel * jnp.asarray(self.mask, self.param_dtype)
        x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
        return x @ kernel + bias


class MADE(nn.Module):
    """Masked autoregressive MLP: ``[..., dim] -> [..., dim, num_params]``.

    Output ``i`` depends only on the inputs before ``i`` in the autoregressive order (so output
    ``order[0]`` is a function of the context alone). The context, if given, feeds the first
    and the output layer unmasked. Masks are built once in numpy (see :func:`made_masks`).

    Attributes:
      dim: number of inputs (and of outputs per parameter).
      hidden: widths of the hidden layers; each should be at least ``dim - 1`` wide so that every
        allowed dependency is reachable.
      num_params: parameters produced per dimension (2 for an affine transformer, ``3K - 1`` for a
        K-bin spline with identity tails).
      order: ``"identity"``, ``"reversed"``, or a permutation (``order[k]`` comes k-th).
      activation: hidden activation name (see :func:`gen_jax.nn.get_activation`).
      output_init: kernel initializer of the output layer; ``nn.initializers.zeros_init()`` makes
        a flow layer start at the identity.
      dtype: compute dtype; None (default) promotes from the inputs and parameters, so
        float64 inputs compute in float64.
      param_dtype: parameter dtype.
    """

    dim: int
    hidden: Sequence[int]
    num_params: int
    order: str | Sequence[int] = "identity"
    activation: str = "relu"
    output_init: Initializer = nn.initializers.lecun_normal()
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, context: jax.Array | None = None) -> jax.Array:
        """``x [..., dim]``, ``context [..., context_dim]`` -> ``[..., dim, num_params]``."""
        if x.shape[-1] != self.dim:
            raise ValueError(f"MADE(dim={self.dim}) got inputs of shape {x.shape}")
        _, masks = made_masks(self.dim, self.hidden, self.order, self.num_params)
        act = get_activation(self.activation)
        kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
        h = x
        for i, mask in enumerate(masks):
            last = i == len(masks) - 1
            init = self.output_init if last else nn.initializers.lecun_normal()
            out = _MaskedDense(mask, kernel_init=init, name=f"masked_dense_{i}", **kw)(h)
            if context is not None and (i == 0 or last):
                # The context may reach every unit: it carries no information about x. It feeds
                # the output layer too, else the first output in the order (which no hidden unit
                # reaches) would ignore it.
                name = "context_out" if last else "context"
                dense = nn.Dense(mask.shape[1], use_bias=False, kernel_init=init, name=name, **kw)
                out = out + dense(context)
            h = out if last else act(out)
        return h.reshape(*h.shape[:-1], self.dim, self.num_params)
