"""Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with a cubic polynomial
kernel, averaged over random subsets.

``k(a, b) = (a.b / D + 1)^3``. For subsets ``X``, ``Y`` of ``m`` rows each, the unbiased estimate

``MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
- 2 sum_{i, j} k(x_i, y_j) / m^2``

has expectation exactly ``MMD^2`` (0 when both sets come from one distribution) and can be
negative. Subset ``s`` draws rows without replacement with ``fold_in(key, s)``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._distances import check_features, check_same_dim, map_row_blocks, pick_block_size


class KID(NamedTuple):
    """Mean and standard deviation (``ddof = 0``, as torch-fidelity) of MMD^2_u over subsets."""

    mean: jax.Array
    std: jax.Array


def polynomial_kernel(a: jax.Array, b: jax.Array, degree: int = 3) -> jax.Array:
    """``[N, M]`` values of ``(a.b / D + 1)^degree`` between rows of ``[N, D]`` and ``[M, D]``."""
    dot = jnp.dot(a, b.T, precision=jax.lax.Precision.HIGHEST)
    return (dot / a.shape[1] + 1.0) ** degree


def mmd2_unbiased(x: jax.Array, y: jax.Array, *, degree: int = 3,
                  block_size: int | None = None) -> jax.Array:
    """Unbiased MMD^2 between two equally sized sets ``[m, D]`` (``m >= 2``), blockwise.

    Returns:
      Float scalar.
    """
    x, y = check_features("x", x, min_rows=2), check_features("y", y, min_rows=2)
    check_same_dim("x", x, "y", y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"mmd2_unbiased needs sets of equal size, got {x.shape[0]} and "
                         f"{y.shape[0]}; subsample the larger one")
    return _mmd2(x, y, degree, pick_block_size(x.shape[0], block_size))


def _kernel_sum(a: jax.Array, b: jax.Array, degree: int, block_size: int) -> jax.Array:
    row_sums = map_row_blocks(
        lambda rows, _: jnp.sum(polynomial_kernel(rows, b, degree), axis=1), a, block_size)
    return jnp.sum(row_sums)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _mmd2(x: jax.Array, y: jax.Array, degree: int, block_size: int) -> jax.Array:
    m, d = x.shape
    diag_x = (jnp.sum(x * x, axis=1) / d + 1.0) ** degree
    diag_y = (jnp.sum(y * y, axis=1) / d + 1.0) ** degree
    k_xx = _kernel_sum(x, x, degree, block_size) - jnp.sum(diag_x)
    k_yy = _kernel_sum(y, y, degree, block_size) - jnp.sum(diag_y)
    k_xy = _kernel_sum(x, y, degree, block_size)
    return (k_xx + k_yy) / (m * (m - 1)) - 2.0 * k_xy / (m * m)


def kernel_inception_distance(
    x: ArrayLike,
    y: ArrayLike,
    key: jax.Array,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    block_size: int | None = None,
) -> KID:
    """KID: unbiased polynomial-kernel MMD^2 over ``num_subsets`` random subsets.

    Args:
      x: ``[N, D]`` features (e.g. real).
      y: ``[M, D]`` features (e.g. generated).
      key: PRNG key; subset ``s`` uses ``fold_in(key, s)``.
      num_subsets: number of subsets (100 in Binkowski et al. and torch-fidelity).
      subset_size: rows per subset from each set, ``2 <= subset_size <= min(N, M)`` (1000 is
        the usual choice for 10,000-sample evaluations).
      degree: polynomial degree (3).
      block_size: rows per kernel tile.

    Returns:
      :class:`KID` (mean and std of the subset estimates). Negative values are possible (the
      estimate is unbiased).
    """
    x, y = check_features("x", x, min_rows=2), check_features("y", y, min_rows=2)
    check_same_dim("x", x, "y", y)
    if not 2 <= subset_size <= min(x.shape[0], y.shape[0]):
        raise ValueError(f"subset_size={subset_size} must be in 2..{min(x.shape[0], y.shape[0])} "
                         "(the smaller set's size); lower it or pass more samples")
    if num_subsets < 1:
        raise ValueError(f"num_subsets={num_subsets}: pass at least 1")
    return _kid(x, y, key, num_subsets, subset_size, degree,
                pick_block_size(subset_size, block_size))


@functools.partial(jax.jit, static_argnums=(3, 4, 5, 6))
def _kid(x, y, key, num_subsets, subset_size, degree, block_size) -> KID:
    def one(s):
        kx, ky = jax.random.split(jax.random.fold_in(key, s))
        xs = x[jax.random.permutation(kx, x.shape[0])[:subset_size]]
        ys = y[jax.random.permutation(ky, y.shape[0])[:subset_size]]
        return _mmd2(xs, ys, degree, block_size)

    values = jax.lax.map(one, jnp.arange(num_subsets))
    return KID(jnp.mean(values), jnp.std(values))
