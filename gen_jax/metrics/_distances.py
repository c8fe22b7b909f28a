"""Blockwise Euclidean distances between feature sets, in memory linear in the set sizes.

Every nearest-neighbour metric here is a reduction over a distance matrix ``[N, M]`` that is
never materialised: rows of the first set are processed ``block_size`` at a time against the
whole second set (one ``[block, M]`` tile at a time, inside a ``lax.map``), and the set is padded
to a whole number of blocks with its padding rows dropped afterwards.

Squared distances are ``|x|^2 + |y|^2 - 2 x.y`` with the norms computed once, in float32, after
subtracting a common centre from both sets (distances do not change, and the cancellation error
``~ eps * |x|^2`` shrinks with the norms). Squared distances are clipped at 0.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

DEFAULT_TILE_ELEMENTS = 1 << 22
"""Default tile size (elements of one ``[block, M]`` distance tile: 16 MiB in float32)."""


def check_features(name: str, x, *, min_rows: int = 1) -> jax.Array:
    """``x`` as a float32 ``[N, D]`` array, or a one-line ValueError naming ``name``."""
    shape = np.shape(x)
    if len(shape) != 2:
        raise ValueError(f"{name} must be a [N, D] feature array, got shape {tuple(shape)}; "
                         "flatten or extract features first")
    if shape[0] < min_rows or shape[1] < 1:
        raise ValueError(f"{name} has shape {tuple(shape)}; it needs at least {min_rows} rows "
                         "and one feature column")
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    wide = jax.config.jax_enable_x64 and dtype == np.float64
    return jnp.asarray(x, jnp.float64 if wide else jnp.float32)


def check_same_dim(name_x: str, x: jax.Array, name_y: str, y: jax.Array) -> None:
    """One-line ValueError when two feature sets have different feature dimensions."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{name_x} has {x.shape[1]} features per row but {name_y} has "
                         f"{y.shape[1]}; extract both with the same feature extractor")


def check_k(k: int, n: int, name: str) -> None:
    """One-line ValueError unless ``1 <= k < n`` (a k-th neighbour other than itself exists)."""
    if not isinstance(k, int | np.integer) or not 1 <= k < n:
        raise ValueError(f"k={k} neighbours needs 1 <= k < {n} (the number of rows of {name}); "
                         "lower k or pass more samples")


def pick_block_size(num_cols: int, block_size: int | None) -> int:
    """Rows per tile: ``block_size``, or a multiple of 8 keeping a tile near 16 MiB."""
    if block_size is not None:
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        return int(block_size)
    rows = max(8, DEFAULT_TILE_ELEMENTS // max(num_cols, 1))
    return int(8 * math.ceil(rows / 8))


def sq_norms(x: jax.Array) -> jax.Array:
    """``[N]`` squared row norms of ``[N, D]`` rows."""
    return jnp.sum(jnp.square(x), axis=-1)


def sq_distances(x: jax.Array, y: jax.Array, x_sq: jax.Array | None = None,
                 y_sq: jax.Array | None = None) -> jax.Array:
    """``[N, M]`` squared Euclidean distances between rows of ``[N, D]`` and ``[M, D]``.

    Pass precomputed squared norms to avoid recomputing them per tile.
    """
    x_sq = sq_norms(x) if x_sq is None else x_sq
    y_sq = sq_norms(y) if y_sq is None else y_sq
    xy = jnp.dot(x, y.T, precision=jax.lax.Precision.HIGHEST)
    return jnp.maximum(x_sq[:, None] + y_sq[None, :] - 2.0 * xy, 0.0)


def centre(*sets: jax.Array) -> tuple[jax.Array, ...]:
    """The sets shifted by the mean of the first (distances unchanged, norms smaller)."""
    c = jnp.mean(sets[0], axis=0)
    return tuple(s - c for s in sets)


def scan_row_blocks(fn: Callable, x: jax.Array, block_size: int, carry=None):
    """Runs ``fn(carry, rows [b, D], row_index [b]) -> (carry, out)`` over row blocks of ``x``.

    ``x`` is padded with copies of its last row to a multiple of ``block_size``; ``row_index``
    holds the global row numbers (``>= N`` on padding rows), so ``fn`` can mask them where a
    duplicate row would change its reduction (idempotent ones, min/max/any, need no mask). The
    padding rows' outputs are dropped: every ``out`` leaf comes back with ``N`` leading rows.

    Returns:
      ``(carry, outputs)``.
    """
    n = x.shape[0]
    block_size = min(block_size, n)
    num_blocks = -(-n // block_size)
    pad = num_blocks * block_size - n
    padded = jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x
    blocks = padded.reshape(num_blocks, block_size, x.shape[1])
    index = jnp.arange(num_blocks * block_size).reshape(num_blocks, block_size)
    carry, out = jax.lax.scan(lambda c, args: fn(c, *args), carry, (blocks, index))
    return carry, jax.tree.map(lambda o: o.reshape(num_blocks * block_size, *o.shape[2:])[:n],
                               out)


def map_row_blocks(fn: Callable, x: jax.Array, block_size: int):
    """``fn(rows [b, D], row_index [b]) -> out`` over row blocks of ``x`` (see
    :func:`scan_row_blocks`); returns the outputs with ``N`` leading rows."""
    return scan_row_blocks(lambda c, rows, index: (c, fn(rows, index)), x, block_size)[1]


def count(mask: jax.Array) -> jax.Array:
    """Number of True entries (int32)."""
    return jnp.sum(mask, dtype=jnp.int32)


def ratio(numerator: jax.Array, denominator: int) -> jax.Array:
    """``numerator / denominator`` as a float32 scalar, divided on the host in float64.

    (Inside ``jit`` XLA:CPU turns a division by a constant into a multiplication by its
    reciprocal, so 41 / 41 came out as 0.99999994.)
    """
    return jnp.asarray(np.float32(int(numerator) / denominator))


SELECT_CHUNK = 64
"""Columns per chunk when :func:`smallest_values` narrows a row to the chunks that matter."""


def _drop_min_rounds(values: jax.Array, m: int) -> jax.Array:
    """``[b, m]`` the m smallest entries of each row (ascending).

    ``m`` rounds of "take the row minimum out" (one position per round, so ties count with
    multiplicity): cheaper than sorting or ``lax.top_k`` on XLA:CPU for small ``m``.
    """
    iota = jnp.arange(values.shape[1])
    out = jnp.zeros((values.shape[0], m), values.dtype)

    def take(i, carry):
        v, out = carry
        first = jnp.argmin(v, axis=1)
        out = jax.lax.dynamic_update_slice_in_dim(out, jnp.min(v, axis=1)[:, None], i, axis=1)
        return jnp.where(iota[None, :] == first[:, None], jnp.inf, v), out

    return jax.lax.fori_loop(0, m, take, (values, out))[1]


def smallest_values(values: jax.Array, m: int, *, chunk: int = SELECT_CHUNK) -> jax.Array:
    """``[b, m]`` the ``m`` smallest entries of each row of ``[b, n]`` (ascending; ties counted
    with multiplicity), ``m <= n``.

    Wide rows are first narrowed in one pass: split into chunks of ``chunk`` columns, keep the
    ``m`` chunks with the smallest minima, and select among their ``m * chunk`` entries. This is
    exact: every entry below the m-th smallest value lies in a chunk whose minimum is below the
    m-th smallest chunk minimum, and the kept chunks hold at least m entries no larger than it.
    """
    b, n = values.shape
    if n <= 4 * m * chunk:  # narrowing would not pay
        return _drop_min_rounds(values, m)
    num_chunks = -(-n // chunk)
    padded = jnp.pad(values, ((0, 0), (0, num_chunks * chunk - n)), constant_values=jnp.inf)
    chunks = padded.reshape(b, num_chunks, chunk)
    # m distinct chunks: top_k never returns an index twice, also when fewer than m chunks
    # hold a finite entry (taking the minimum out by setting it to inf could pick chunk 0
    # again once every remaining minimum is inf, and count its entries twice).
    keep = jax.lax.top_k(-jnp.min(chunks, axis=2), m)[1]  # [b, m]
    kept = jnp.take_along_axis(chunks, keep[:, :, None], axis=1).reshape(b, m * chunk)
    return _drop_min_rounds(kept, m)


SELF_TILE_ROWS = 2048
"""Largest side of the square tiles of :func:`self_smallest_sq_distances` (16 MiB float32)."""


def self_smallest_sq_distances(x: jax.Array, m: int, tile: int | None = None) -> jax.Array:
    """``[N, m]`` the ``m`` smallest squared distances from each row of ``x`` to every row of
    ``x``, its own zero included (ascending), using the symmetry of the distance matrix.

    Only the tiles on and above the diagonal of the ``[N, N]`` matrix are computed (square
    tiles of side ``tile``, about ``SELF_TILE_ROWS``): each tile updates the running candidates
    of its rows and, transposed, of its columns. About half the matmul work of a row-block pass.
    Call inside ``jit`` with a static ``m`` and ``tile``; ``x`` should be centred.
    """
    n = x.shape[0]
    blocks, norms, valid = square_tiles(x, tile)
    num, side = valid.shape
    rows_i, cols_j = (jnp.asarray(a, jnp.int32) for a in np.triu_indices(num))

    def merge(old, tile_values):
        return _drop_min_rounds(jnp.concatenate([old, smallest_values(tile_values, m)], 1), m)

    def body(p, cand):
        i, j = rows_i[p], cols_j[p]
        t = sq_distances(blocks[i], blocks[j], norms[i], norms[j])
        t = jnp.where(valid[i][:, None] & valid[j][None, :], t, jnp.inf)
        cand = cand.at[i].set(merge(cand[i], t))
        return cand.at[j].set(jnp.where(i == j, cand[j], merge(cand[j], t.T)))

    cand = jnp.full((num, side, m), jnp.inf, x.dtype)
    cand = jax.lax.fori_loop(0, rows_i.shape[0], body, cand)
    return untile(cand, n)


class Tiles(NamedTuple):
    """Rows of a set cut into equal blocks: ``blocks [T, S, D]`` (zero-padded), their squared
    norms ``[T, S]`` and ``valid [T, S]`` (False on padding rows)."""

    blocks: jax.Array
    norms: jax.Array
    valid: jax.Array


def square_tiles(x: jax.Array, tile: int | None = None) -> Tiles:
    """``x`` ``[N, D]`` as :class:`Tiles` of about ``tile`` rows (default ``SELF_TILE_ROWS``),
    the sides a multiple of 8 covering ``N`` evenly."""
    n, d = x.shape
    num, side = _self_tiles(n, tile)
    pad = num * side - n
    padded = jnp.concatenate([x, jnp.zeros((pad, d), x.dtype)]) if pad else x
    return Tiles(padded.reshape(num, side, d), sq_norms(padded).reshape(num, side),
                 (jnp.arange(num * side) < n).reshape(num, side))


def untile(values: jax.Array, n: int) -> jax.Array:
    """``[T, S, ...]`` per-tile-row values back to the ``[N, ...]`` rows (padding dropped)."""
    return values.reshape(values.shape[0] * values.shape[1], *values.shape[2:])[:n]


def _self_tiles(n: int, tile: int | None) -> tuple[int, int]:
    """``(tiles per side, tile side)``: sides a multiple of 8 covering ``n`` rows evenly."""
    num = math.ceil(n / min(tile or SELF_TILE_ROWS, n))
    return num, 8 * math.ceil(math.ceil(n / num) / 8)


def self_tile_pairs(n: int, tile: int | None = None) -> tuple[int, int]:
    """``(tiles computed, tile side)`` of :func:`self_smallest_sq_distances` on ``n`` rows."""
    num, side = _self_tiles(n, tile)
    return num * (num + 1) // 2, side


def knn_radii(x: ArrayLike, k: int, *, block_size: int | None = None) -> jax.Array:
    """Distance from each row to its k-th nearest *other* row of the same set.

    This is the ``(k + 1)``-th smallest entry of the row of the full distance matrix, whose own
    zero is the first (the convention of the ``prdc`` package; a duplicate row counts as a
    neighbour at distance 0).

    Args:
      x: ``[N, D]`` features.
      k: neighbour rank, ``1 <= k < N``.
      block_size: side of the square distance tiles (default: about 2048, 16 MiB).

    Returns:
      ``[N]`` float32 distances.
    """
    x = check_features("x", x)
    check_k(k, x.shape[0], "x")
    return _knn_radii(x, k, block_size)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _knn_radii(x: jax.Array, k: int, tile: int | None) -> jax.Array:
    (x,) = centre(x)
    return jnp.sqrt(self_smallest_sq_distances(x, k + 1, tile)[:, k])


def nearest_neighbours(x: ArrayLike, y: ArrayLike, *,
                       block_size: int | None = None) -> tuple[jax.Array, jax.Array]:
    """For each row of ``x``, its nearest row of ``y``: ``(distance [N], index [N])``.

    Args:
      x: ``[N, D]`` queries.
      y: ``[M, D]`` reference set.
      block_size: rows of ``x`` per tile.
    """
    x, y = check_features("x", x), check_features("y", y)
    check_same_dim("x", x, "y", y)
    return _nearest(x, y, pick_block_size(y.shape[0], block_size))


@functools.partial(jax.jit, static_argnums=(2,))
def _nearest(x: jax.Array, y: jax.Array, block_size: int) -> tuple[jax.Array, jax.Array]:
    y, x = centre(y, x)
    y_sq = sq_norms(y)

    def nearest(rows, _):
        d2 = sq_distances(rows, y, None, y_sq)
        return jnp.min(d2, axis=1), jnp.argmin(d2, axis=1).astype(jnp.int32)

    d2, index = map_row_blocks(nearest, x, block_size)
    return jnp.sqrt(d2), index
