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
tiles on and above the diagonal are computed (symmetry: half the work); one generated-real pass
over square tiles gives all four metrics. About 4 N^2 D matmul FLOPs for N = M (two full
passes' worth), in square tiles of about 2048 rows: memory is linear in N.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._distances import (
    Tiles,
    centre,
    check_features,
    check_k,
    check_same_dim,
    count,
    ratio,
    self_smallest_sq_distances,
    sq_distances,
    square_tiles,
    untile,
)


class PRDC(NamedTuple):
    """Precision, recall, density and coverage (float scalars)."""

    precision: jax.Array
    recall: jax.Array
    density: jax.Array
    coverage: jax.Array


def prdc(real: ArrayLike, generated: ArrayLike, *, k: int = 5,
         block_size: int | None = None) -> PRDC:
    """Precision, recall, density and coverage with one neighbour count ``k``.

    Args:
      real: ``[N, D]`` features of real samples.
      generated: ``[M, D]`` features of generated samples.
      k: neighbour rank of the ball radii (``1 <= k < min(N, M)``); 5 is Naeem et al.'s choice,
        3 Kynkaanniemi et al.'s.
      block_size: side of the square distance tiles (default: about 2048 rows, 16 MiB per
        tile), for the radius passes and the cross pass alike.

    Returns:
      :class:`PRDC` of float32 scalars.

    Raises:
      ValueError: not ``[N, D]`` arrays, different ``D``, or ``k`` out of range.
    """
    real, generated = check_features("real", real), check_features("generated", generated)
    check_same_dim("real", real, "generated", generated)
    check_k(k, real.shape[0], "real")
    check_k(k, generated.shape[0], "generated")
    if block_size is not None and block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    counts = _prdc_counts(real, generated, k, block_size)
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


def inside_real_manifold(real: ArrayLike, generated: ArrayLike, *, k: int = 3,
                         block_size: int | None = None) -> jax.Array:
    """Which generated samples lie inside the real data's k-NN manifold (per sample precision).

    Sample ``y_j`` is inside when ``d(y_j, x_i) < r_i`` for some real ``x_i`` with ``r_i`` its
    distance to its k-th nearest other real sample; the mean of the result is :func:`prdc`'s
    precision at the same ``k``. Data augmentation keeps only those samples
    (``gen-jax augment generate --filter knn``).

    Args:
      real: ``[N, D]`` features of real samples.
      generated: ``[M, D]`` features of generated samples.
      k: neighbour rank of the real radii (``1 <= k < N``; 3 as Kynkaanniemi et al.).
      block_size: side of the square distance tiles (default: about 2048 rows).

    Returns:
      bool ``[M]``.

    Raises:
      ValueError: not ``[N, D]`` arrays, different ``D``, or ``k`` out of range.
    """
    real, generated = check_features("real", real), check_features("generated", generated)
    check_same_dim("real", real, "generated", generated)
    check_k(k, real.shape[0], "real")
    if block_size is not None and block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    return _inside(real, generated, k, block_size)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _inside(real: jax.Array, generated: jax.Array, k: int, tile: int | None) -> jax.Array:
    real, generated = centre(real, generated)
    real_t, gen_t = square_tiles(real, tile), square_tiles(generated, tile)
    real_r2 = jnp.where(real_t.valid, _tile(_radii_sq(real, k, tile), real_t), -jnp.inf)
    num_real = real_t.valid.shape[0]

    def body(p, inside):
        i, j = p // num_real, p % num_real
        d2 = sq_distances(gen_t.blocks[i], real_t.blocks[j], gen_t.norms[i], real_t.norms[j])
        return inside.at[i].set(inside[i] | jnp.any(d2 < real_r2[j][None, :], axis=1))

    inside = jax.lax.fori_loop(0, gen_t.valid.shape[0] * num_real, body,
                               jnp.zeros(gen_t.valid.shape, bool))
    return untile(inside, generated.shape[0])


def _radii_sq(x: jax.Array, k: int, tile: int | None) -> jax.Array:
    """``[N]`` squared distance of each row to its k-th nearest other row (its own zero is the
    first of the k + 1 smallest)."""
    return self_smallest_sq_distances(x, k + 1, tile)[:, k]


@functools.partial(jax.jit, static_argnums=(2, 3))
def _prdc_counts(real: jax.Array, generated: jax.Array, k: int, tile: int | None) -> jax.Array:
    """``[4]`` int32 counts: precise samples, recalled reals, ball memberships, covered reals."""
    real, generated = centre(real, generated)
    n, m = real.shape[0], generated.shape[0]
    real_t, gen_t = square_tiles(real, tile), square_tiles(generated, tile)
    # Squared radii per tile row; -inf on padding rows, whose balls then hold nothing.
    real_r2 = jnp.where(real_t.valid, _tile(_radii_sq(real, k, tile), real_t), -jnp.inf)
    gen_r2 = jnp.where(gen_t.valid, _tile(_radii_sq(generated, k, tile), gen_t), -jnp.inf)
    num_real = real_t.valid.shape[0]

    def body(p, carry):
        precise, members, recalled, nearest = carry
        i, j = p // num_real, p % num_real  # generated tile i against real tile j
        d2 = sq_distances(gen_t.blocks[i], real_t.blocks[j], gen_t.norms[i], real_t.norms[j])
        in_real = d2 < real_r2[j][None, :]  # [S_gen, S_real]
        precise = precise.at[i].set(precise[i] | jnp.any(in_real, axis=1))
        members = members.at[i].add(jnp.sum(in_real, axis=1, dtype=jnp.int32))
        recalled = recalled.at[j].set(recalled[j] | jnp.any(d2 < gen_r2[i][:, None], axis=0))
        rows = jnp.where(gen_t.valid[i][:, None], d2, jnp.inf)
        return precise, members, recalled, nearest.at[j].min(jnp.min(rows, axis=0))

    init = (jnp.zeros(gen_t.valid.shape, bool), jnp.zeros(gen_t.valid.shape, jnp.int32),
            jnp.zeros(real_t.valid.shape, bool), jnp.full(real_t.valid.shape, jnp.inf))
    precise, members, recalled, nearest = jax.lax.fori_loop(
        0, gen_t.valid.shape[0] * num_real, body, init)
    covered = untile(nearest < real_r2, n)
    return jnp.stack([count(untile(precise, m)), count(untile(recalled, n)),
                      jnp.sum(untile(members, m)), count(covered)])


def _tile(values: jax.Array, tiles: Tiles) -> jax.Array:
    """``[N]`` per-row values laid out like ``tiles`` ``[T, S]`` (padding rows 0)."""
    size = tiles.valid.size
    return jnp.pad(values, (0, size - values.shape[0])).reshape(tiles.valid.shape)
