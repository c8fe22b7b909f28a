"""Improved precision and recall (Kynkaanniemi et al. 2019) and density and coverage (Naeem et
al. 2020), computed blockwise.

Each real sample ``x_i`` gets a ball of radius ``r_i``, the distance to its k-th nearest other
real sample; each generated sample ``y_j`` a ball of radius ``s_j`` among the generated ones.

* precision: fraction of ``y_j`` inside at least one real ball;
* recall: fraction of ``x_i`` inside at least one generated ball;
* density: ``1 / (k M) * sum_j #{i : y_j in ball(x_i)}`` (can exceed 1);
* coverage: fraction of ``x_i`` whose ball holds at least one ``y_j``.

"Inside" is strict (``d < r``), as in the ``prdc`` package of Naeem et al. and the radii count the
point's own zero distance as the first neighbour (so the radius is the (k+1)-th smallest entry of
its distance row). The defaults follow the papers: k = 3 for precision/recall, k = 5 for
density/coverage; :func:`prdc` uses one k for all four, like the ``prdc`` package.

Cost: the radii come from the real-real and generated-generated distances, of which only the
tiles on and above the diagonal are computed (symmetry: half the work); one generated-real pass in
tiles of ``[block, N]`` gives all four metrics. About 2 N^2 D matmul FLOPs for N = M.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._distances import (
    centre,
    check_features,
    check_k,
    check_same_dim,
    count,
    pick_block_size,
    ratio,
    scan_row_blocks,
    self_smallest_sq_distances,
    sq_distances,
    sq_norms,
)


class PRDC(NamedTuple):
    """Precision, recall, density and coverage (float scalars)."""

    precision: jax.Array
    recall: jax.Array
    density: jax.Array
    coverage: jax.Array


def prdc(real, generated, *, k: int = 5, block_size: int | None = None) -> PRDC:
    """Precision, recall, density and coverage with one neighbour count ``k``.

    Args:
      real: ``[N, D]`` features of real samples.
      generated: ``[M, D]`` features of generated samples.
      k: neighbour rank of the ball radii (``1 <= k < min(N, M)``); 5 is Naeem et al.'s choice,
        3 Kynkaanniemi et al.'s.
      block_size: rows per ``[block, N]`` distance tile of the cross pass and side of the square
        tiles of the radius passes (default: about 16 MiB per tile).

    Returns:
      :class:`PRDC` of float32 scalars.

    Raises:
      ValueError: not ``[N, D]`` arrays, different ``D``, or ``k`` out of range.
    """
    real, generated = check_features("real", real), check_features("generated", generated)
    check_same_dim("real", real, "generated", generated)
    check_k(k, real.shape[0], "real")
    check_k(k, generated.shape[0], "generated")
    size = max(real.shape[0], generated.shape[0])
    counts = _prdc_counts(real, generated, k, pick_block_size(size, block_size), block_size)
    n, m = real.shape[0], generated.shape[0]
    return PRDC(precision=ratio(counts[0], m), recall=ratio(counts[1], n),
                density=ratio(counts[2], k * m), coverage=ratio(counts[3], n))


def precision_recall(real, generated, *, k: int = 3,
                     block_size: int | None = None) -> tuple[jax.Array, jax.Array]:
    """Improved precision and recall (Kynkaanniemi et al. 2019), k = 3 by default.

    Args and errors as :func:`prdc`. Returns ``(precision, recall)``.
    """
    out = prdc(real, generated, k=k, block_size=block_size)
    return out.precision, out.recall


def density_coverage(real, generated, *, k: int = 5,
                     block_size: int | None = None) -> tuple[jax.Array, jax.Array]:
    """Density and coverage (Naeem et al. 2020), k = 5 by default.

    Args and errors as :func:`prdc`. Returns ``(density, coverage)``.
    """
    out = prdc(real, generated, k=k, block_size=block_size)
    return out.density, out.coverage


def _radii_sq(x: jax.Array, k: int, tile: int | None) -> jax.Array:
    """``[N]`` squared distance of each row to its k-th nearest other row (its own zero is the
    first of the k + 1 smallest)."""
    return self_smallest_sq_distances(x, k + 1, tile)[:, k]


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _prdc_counts(real: jax.Array, generated: jax.Array, k: int, block_size: int,
                 tile: int | None) -> jax.Array:
    """``[4]`` int32 counts: precise samples, recalled reals, ball memberships, covered reals."""
    real, generated = centre(real, generated)
    real_sq = sq_norms(real)
    real_r2 = _radii_sq(real, k, tile)  # [N]
    gen_r2 = _radii_sq(generated, k, tile)  # [M]
    m = generated.shape[0]

    def cross(carry, rows, index):
        recalled, nearest = carry  # [N] bool, [N] min squared distance to a generated row
        d2 = sq_distances(rows, real, None, real_sq)  # [b, N]
        in_real = d2 < real_r2[None, :]
        # Padding rows repeat the last generated row: harmless for the any/min over rows.
        own_r2 = gen_r2[jnp.minimum(index, m - 1)]
        recalled = recalled | jnp.any(d2 < own_r2[:, None], axis=0)
        nearest = jnp.minimum(nearest, jnp.min(d2, axis=0))
        per_row = (jnp.any(in_real, axis=1), jnp.sum(in_real, axis=1, dtype=jnp.int32))
        return (recalled, nearest), per_row

    n = real.shape[0]
    init = (jnp.zeros((n,), bool), jnp.full((n,), jnp.inf, real.dtype))
    (recalled, nearest), (precise, members) = scan_row_blocks(cross, generated, block_size, init)
    return jnp.stack([count(precise), count(recalled), jnp.sum(members),
                      count(nearest < real_r2)])
